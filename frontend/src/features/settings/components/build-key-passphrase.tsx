import { useState, type FormEvent } from 'react';
import { fieldErrors, problemMessage } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { QueryError } from '@/shared/ui/query-error';
import { Field, FormError } from '@/shared/ui/field';
import form from '@/shared/ui/form.module.css';
import { useBuildKey, useSetBuildKeyPassphrase } from '../api/build-key';

/** The build key's passphrase, for a key generated with one; checked against the key before it is stored. */
export function BuildKeyPassphrase() {
  const query = useBuildKey();
  const [passphrase, setPassphrase] = useState('');
  const mutation = useSetBuildKeyPassphrase();
  const errors = fieldErrors(mutation.error);
  if (query.isPending) return <p role="status">Loading…</p>;
  if (query.isError)
    return <QueryError title="Could not load the build key settings" query={query} />;
  const key = query.data;
  if (!key.keyPath) return <p>No build key is configured (HostTrigger:KeyPath); install.sh sets one up.</p>;

  function submit(event: FormEvent) {
    event.preventDefault();
    mutation.mutate(passphrase, { onSuccess: () => setPassphrase('') });
  }

  return (
    <form className={form.form} onSubmit={submit} noValidate>
      <p data-testid="build-key-state">
        Key <span className={form.mono}>{key.keyPath}</span>
        {key.target ? ` for ${key.target}` : ''}: {key.passphraseStored ? 'passphrase stored (encrypted).' : 'no passphrase stored.'}
      </p>
      <Field
        label="Key passphrase"
        type="password"
        autoComplete="off"
        value={passphrase}
        onChange={(e) => setPassphrase(e.target.value)}
        errors={errors['passphrase']}
        required
      />
      {mutation.isError && Object.keys(errors).length === 0 ? <FormError>{problemMessage(mutation.error)}</FormError> : null}
      <Button variant="primary" type="submit" disabled={mutation.isPending}>
        {mutation.isPending ? 'Checking…' : 'Store passphrase'}
      </Button>
    </form>
  );
}

import { useState, type FormEvent } from 'react';
import { fieldErrors, problemMessage, type ProxmoxSettingsView } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { QueryError } from '@/shared/ui/query-error';
import { Field, FormError } from '@/shared/ui/field';
import form from '@/shared/ui/form.module.css';
import { useProxmoxSettings, useSaveProxmoxSettings } from '../api/proxmox';


/** The Proxmox host and API token the orchestrator uses; saving tries them against the host first. */
export function ProxmoxConnection() {
  const query = useProxmoxSettings();
  if (query.isPending) return <p role="status">Loading…</p>;
  if (query.isError)
    return <QueryError title="Could not load the Proxmox settings" query={query} />;
  return <ProxmoxConnectionForm key={query.data.updatedAt ?? query.data.source} current={query.data} />;
}

function ProxmoxConnectionForm({ current }: { current: ProxmoxSettingsView }) {
  const simulated = current.source === 'simulated';
  const [url, setUrl] = useState(simulated ? '' : current.url);
  const [tokenId, setTokenId] = useState(simulated ? '' : current.tokenId);
  const [tokenSecret, setTokenSecret] = useState('');
  const [certificateFingerprint, setFingerprint] = useState(simulated ? '' : current.certificateFingerprint);
  const mutation = useSaveProxmoxSettings();
  const errors = fieldErrors(mutation.error);

  function submit(event: FormEvent) {
    event.preventDefault();
    mutation.mutate({ url, tokenId, tokenSecret: tokenSecret || null, certificateFingerprint }, { onSuccess: () => setTokenSecret('') });
  }

  return (
    <>
      <p data-testid="proxmox-source">
        {simulated ? (
          <>
            In use: <strong>the simulated Proxmox host</strong> (demo mode: nothing real is touched). Enter a real host
            to leave demo mode.
          </>
        ) : (
          <>
            In use: <strong>{current.url}</strong> as {current.tokenId},{' '}
            {current.source === 'settings' ? `saved here by ${current.updatedBy ?? 'an admin'}` : 'from the configuration file'}.
          </>
        )}
      </p>
      <form className={form.form} onSubmit={submit} noValidate>
        <Field
          label="Host address"
          value={url}
          onChange={(e) => setUrl(e.target.value)}
          placeholder="https://192.168.1.10:8006"
          errors={errors['url']}
          required
        />
        <Field
          label="API token id"
          value={tokenId}
          onChange={(e) => setTokenId(e.target.value)}
          placeholder="ctrlable@pve!provisioner"
          hint="install.sh creates this token with only the privileges the product needs."
          errors={errors['tokenId']}
          required
        />
        <Field
          label="Token secret"
          type="password"
          autoComplete="off"
          value={tokenSecret}
          onChange={(e) => setTokenSecret(e.target.value)}
          hint={
            current.tokenSecretStored
              ? 'A secret is stored (encrypted). Leave empty to keep it for this same host, token id and fingerprint; a change to any of them needs the secret again.'
              : 'Stored encrypted; never shown again.'
          }
          errors={errors['tokenSecret']}
        />
        <Field
          label="Node certificate fingerprint (SHA-256)"
          value={certificateFingerprint}
          onChange={(e) => setFingerprint(e.target.value)}
          hint="Node > System > Certificates in the Proxmox web UI; calls are refused unless the host presents this certificate."
          errors={errors['certificateFingerprint']}
          className={`${form.input} ${form.mono}`}
          required
        />
        {mutation.isError && Object.keys(errors).length === 0 ? <FormError>{problemMessage(mutation.error)}</FormError> : null}
        {mutation.isSuccess ? (
          <p className={form.notice} role="status">
            Connected and saved: every Proxmox call now goes to {mutation.data.url}.
          </p>
        ) : null}
        <Button variant="primary" type="submit" disabled={mutation.isPending}>
          {mutation.isPending ? 'Trying the host…' : 'Test and save'}
        </Button>
      </form>
    </>
  );
}

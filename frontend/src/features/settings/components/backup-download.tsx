import { useState, type FormEvent } from 'react';
import { fieldErrors, problemMessage } from '@/shared/api';
import { saveFile } from '@/shared/lib/save-file';
import { Button } from '@/shared/ui/button';
import { Field, FormError } from '@/shared/ui/field';
import form from '@/shared/ui/form.module.css';
import { MIN_BACKUP_PASSPHRASE_LENGTH, useCreateBackup } from '../api/backup';

/**
 * Downloads the orchestrator's own backup (database, key ring, TLS certificate, settings), encrypted with a passphrase
 * the admin types twice; it is needed to restore (--restore-from) and is stored nowhere.
 */
export function BackupDownload() {
  const [passphrase, setPassphrase] = useState('');
  const [repeat, setRepeat] = useState('');
  const [problem, setProblem] = useState<string | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const mutation = useCreateBackup();
  const errors = fieldErrors(mutation.error);

  function submit(event: FormEvent) {
    event.preventDefault();
    setSaved(null);
    if (passphrase.length < MIN_BACKUP_PASSPHRASE_LENGTH) {
      setProblem(`Use a passphrase of at least ${MIN_BACKUP_PASSPHRASE_LENGTH} characters.`);
      return;
    }
    if (passphrase !== repeat) {
      setProblem('The two passphrases differ.');
      return;
    }
    setProblem(null);
    mutation.mutate(passphrase, {
      onSuccess: ({ blob, fileName }) => {
        saveFile(blob, fileName);
        setSaved(fileName);
        setPassphrase('');
        setRepeat('');
      },
    });
  }

  return (
    <form className={form.form} onSubmit={submit} noValidate>
      <Field
        label="Backup passphrase"
        type="password"
        autoComplete="new-password"
        value={passphrase}
        onChange={(e) => setPassphrase(e.target.value)}
        hint={`At least ${MIN_BACKUP_PASSPHRASE_LENGTH} characters. Keep it apart from the file: without it the backup cannot be restored.`}
        errors={errors['passphrase']}
        required
      />
      <Field
        label="Passphrase again"
        type="password"
        autoComplete="new-password"
        value={repeat}
        onChange={(e) => setRepeat(e.target.value)}
        required
      />
      {problem ? <FormError>{problem}</FormError> : null}
      {mutation.isError && Object.keys(errors).length === 0 ? <FormError>{problemMessage(mutation.error)}</FormError> : null}
      {saved ? <p role="status">Downloaded {saved}.</p> : null}
      <Button variant="primary" type="submit" disabled={mutation.isPending}>
        {mutation.isPending ? 'Making the backup…' : 'Download backup'}
      </Button>
    </form>
  );
}

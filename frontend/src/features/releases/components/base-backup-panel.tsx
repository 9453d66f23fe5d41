import { useId, useState, type FormEvent } from 'react';
import { ApiError, problemMessage, type BaseBackupStatus } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { Field, FormError } from '@/shared/ui/field';
import { AlertTriangleIcon, CheckCircleIcon } from '@/shared/ui/icons';
import { ProgressBar } from '@/shared/ui/progress-bar';
import { RelativeTime } from '@/shared/ui/relative-time';
import { StatusBadge } from '@/shared/ui/status-badge';
import form from '@/shared/ui/form.module.css';
import { useUploadBaseBackup, type UploadProgress } from '../api/upload-base-backup';
import styles from './builds.module.css';

const MIB = 1024 * 1024;

/** A file size people read: KiB below 1 MiB, MiB below 1 GiB, GiB above. */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * MIB) return `${(bytes / (1024 * MIB)).toFixed(1)} GiB`;
  if (bytes >= MIB) return `${(bytes / MIB).toFixed(1)} MiB`;
  return `${Math.max(1, Math.round(bytes / 1024))} KiB`;
}

/** The problem's list of what the backup lacks (422 `errors`), else its detail. */
function rejection(error: unknown): string[] {
  if (error instanceof ApiError && Array.isArray(error.problem?.['errors'])) {
    const errors = (error.problem['errors'] as unknown[]).filter((e): e is string => typeof e === 'string');
    if (errors.length > 0) return errors;
  }
  return [problemMessage(error)];
}

function Stored({ status }: { status: BaseBackupStatus }) {
  const stored = status.stored;
  if (!stored) {
    return (
      <p className={styles.templateReason} data-testid="base-backup-state">
        <AlertTriangleIcon /> No base backup is stored: Home Assistant (ctrlable-pro) cannot be deployed from this release until one is.
      </p>
    );
  }
  return (
    <div data-testid="base-backup-state">
      <p>
        <StatusBadge tone="success" icon={<CheckCircleIcon />}>
          Stored
        </StatusBadge>{' '}
        <code>{stored.fileName}</code> · {formatSize(stored.sizeBytes)} · owner <strong>{stored.adminUsername ?? 'unknown'}</strong>
        {stored.encrypted ? ' · encrypted' : ''}
        {stored.homeAssistantVersion ? ` · Home Assistant ${stored.homeAssistantVersion}` : ''} ·{' '}
        <RelativeTime date={stored.storedAt} />
        {stored.storedBy ? ` by ${stored.storedBy}` : ''}
      </p>
      <p className={styles.muted}>
        SHA-256 <code>{stored.sha256}</code>{' '}
        {status.matchesManifest
          ? '(the one the manifest pins)'
          : status.expectedSha256
            ? `(the manifest now pins another file: ${status.expectedSha256})`
            : '(the manifest pins no SHA-256: add base_backup_sha256 to pin this file)'}
      </p>
    </div>
  );
}

/**
 * A release's Home Assistant base backup: what is stored, and for admins the upload (the owner's password, an encrypted
 * backup's key) with its progress. The orchestrator checks the file before it replaces the stored one and lists every
 * piece a refused one lacks.
 */
export function BaseBackupPanel({ release, status, canUpload }: { release: string; status: BaseBackupStatus; canUpload: boolean }) {
  const headingId = useId();
  const [file, setFile] = useState<File | null>(null);
  const [password, setPassword] = useState('');
  const [backupPassword, setBackupPassword] = useState('');
  const [progress, setProgress] = useState<UploadProgress | null>(null);
  const [tooLarge, setTooLarge] = useState(false);
  // A new key empties the file input after a stored upload.
  const [fileInput, setFileInput] = useState(0);
  const upload = useUploadBaseBackup();

  function submit(event: FormEvent) {
    event.preventDefault();
    if (!file || !password) return;
    if (file.size > status.maxBytes) {
      setTooLarge(true);
      return;
    }
    setTooLarge(false);
    setProgress({ loaded: 0, total: file.size });
    upload.mutate(
      { release, file, password, backupPassword, onProgress: setProgress },
      {
        onSuccess: () => {
          setPassword('');
          setBackupPassword('');
          setFile(null);
          setFileInput((n) => n + 1);
        },
        onSettled: () => setProgress(null),
      },
    );
  }

  const percent = progress && progress.total > 0 ? (progress.loaded / progress.total) * 100 : 0;
  const sent = progress !== null && progress.total > 0 && progress.loaded >= progress.total;

  return (
    <section aria-labelledby={headingId} className={styles.confirm}>
      <h3 id={headingId} className={styles.confirmTitle}>
        Home Assistant base backup
      </h3>
      <Stored status={status} />
      {canUpload ? (
        <form className={form.form} onSubmit={submit} noValidate aria-label={`Upload the base backup of ${release}`}>
          <Field
            key={fileInput}
            label="Backup file"
            type="file"
            accept=".tar,application/x-tar"
            onChange={(e) => setFile(e.target.files?.[0] ?? null)}
            hint={`The full backup the reference Home Assistant downloads (.tar), at most ${formatSize(status.maxBytes)}.`}
            required
          />
          <Field
            label="Owner's password"
            type="password"
            autoComplete="off"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            hint="The password of Home Assistant's owner in the backup: checked against it and kept encrypted; the deploy signs in with it."
            required
          />
          <Field
            label="Encryption key (encrypted backups only)"
            type="password"
            autoComplete="off"
            value={backupPassword}
            onChange={(e) => setBackupPassword(e.target.value)}
          />
          {progress ? (
            <div role="status">
              <ProgressBar
                percent={percent}
                label={`Upload of the base backup of ${release}`}
                valueText={sent ? '100%, checking the backup' : `${Math.round(percent)}%`}
              />
              <p className={styles.muted}>{sent ? 'Uploaded; checking the backup…' : `Uploading… ${Math.round(percent)}%`}</p>
            </div>
          ) : null}
          {tooLarge && file ? (
            <FormError>
              {file.name} is {formatSize(file.size)}; the provisioner takes base backups of at most {formatSize(status.maxBytes)}.
            </FormError>
          ) : null}
          {upload.isError ? (
            <div className={form.formError} role="alert">
              <p>The base backup was not stored{upload.error instanceof ApiError && upload.error.problem?.title ? `: ${upload.error.problem.title}` : ''}.</p>
              <ul>
                {rejection(upload.error).map((line) => (
                  <li key={line}>{line}</li>
                ))}
              </ul>
            </div>
          ) : null}
          {upload.isSuccess && !upload.isPending ? <p role="status">Base backup stored.</p> : null}
          <Button variant="primary" type="submit" disabled={upload.isPending || !file || !password}>
            {upload.isPending ? 'Uploading…' : status.stored ? 'Replace base backup' : 'Upload base backup'}
          </Button>
        </form>
      ) : null}
    </section>
  );
}

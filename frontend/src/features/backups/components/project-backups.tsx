import { useState } from 'react';
import { ApiError, problemMessage, type BackupArchiveView, type GuestBackupView } from '@/shared/api';
import { formatSlot } from '@/shared/lib/format';
import { Button } from '@/shared/ui/button';
import { Dialog } from '@/shared/ui/dialog';
import { RelativeTime } from '@/shared/ui/relative-time';
import { useBackUpNow, useProjectBackups, useRestoreBackup } from '../api/backups';

function size(bytes: number): string {
  if (bytes >= 1 << 30) return `${(bytes / (1 << 30)).toFixed(1)} GiB`;
  return `${Math.max(1, Math.round(bytes / (1 << 20)))} MiB`;
}

/** Confirms restoring one backup into a NEW guest, saying that the original keeps running. */
function RestoreDialog({
  guest,
  archive,
  projectId,
  onClose,
}: {
  guest: GuestBackupView;
  archive: BackupArchiveView;
  projectId: number;
  onClose: () => void;
}) {
  const restore = useRestoreBackup(projectId);
  return (
    <Dialog
      title={`Restore ${guest.hostname} as a new guest?`}
      onClose={onClose}
      actions={
        <>
          <Button onClick={onClose}>Cancel</Button>
          <Button
            variant="primary"
            disabled={restore.isPending}
            onClick={() => restore.mutate({ instanceId: guest.instanceId, volid: archive.volid }, { onSuccess: onClose })}
          >
            {restore.isPending ? 'Restoring…' : 'Restore as new guest'}
          </Button>
        </>
      }
    >
      <p>
        The backup from <RelativeTime date={archive.createdAt} /> (<code>{archive.volid}</code>) is restored into a{' '}
        <strong>new guest with a new VMID and MAC address</strong>, not started. {guest.hostname} (VMID {guest.vmid}) keeps
        running and is not changed: you decide afterwards which one to keep.
      </p>
      {restore.error ? <p role="alert">{restore.error instanceof ApiError ? problemMessage(restore.error) : String(restore.error)}</p> : null}
    </Dialog>
  );
}

/** A project's guest backups: schedule, last backup per guest (or that one is missing), "Back up now", "Restore as new guest". */
export function ProjectBackups({ projectId, canOperate }: { projectId: number; canOperate: boolean }) {
  const backups = useProjectBackups(projectId);
  const backUp = useBackUpNow(projectId);
  const [restoring, setRestoring] = useState<{ guest: GuestBackupView; archive: BackupArchiveView } | null>(null);
  const data = backups.data;
  if (!data) return backups.error ? <p role="alert">Backups could not be loaded.</p> : null;
  if (!data.settings) return <p>No guest backups are set up: choose a schedule and storage in the project's settings.</p>;
  const running = data.runs.some((r) => r.state === 'running');
  const lastRun = data.runs[0];
  return (
    <div>
      <p>
        Backed up {data.schedule} ({data.timeZone}) onto <code>{data.settings.storage}</code>, keeping {data.settings.retention.keepLast} per guest
        {data.nextRunAt ? (
          <>
            ; next {new Date(data.nextRunAt).getTime() <= Date.now() ? 'starting now' : <RelativeTime date={data.nextRunAt} />}
          </>
        ) : null}
        .
      </p>
      {canOperate ? (
        <Button disabled={running || backUp.isPending} onClick={() => backUp.mutate()}>
          {running ? 'Backing up…' : 'Back up now'}
        </Button>
      ) : null}
      {backUp.error ? <p role="alert">{backUp.error instanceof ApiError ? problemMessage(backUp.error) : String(backUp.error)}</p> : null}
      {lastRun && lastRun.state === 'failed' ? <p role="alert">Last backup failed: {lastRun.error}</p> : null}
      {data.problem ? <p role="alert">{data.problem}</p> : null}
      <ul aria-label="Last backup per guest">
        {data.guests.map((guest) => (
          <li key={guest.instanceId}>
            <strong>{guest.hostname}</strong> (VMID {guest.vmid}):{' '}
            {guest.lastBackup ? (
              <>
                last backup <RelativeTime date={guest.lastBackup.createdAt} />, {size(guest.lastBackup.size)}
              </>
            ) : (
              'no backup yet'
            )}
            {guest.missing ? <strong> — backup missing</strong> : null}
            {canOperate && guest.lastBackup ? (
              <Button onClick={() => setRestoring({ guest, archive: guest.lastBackup! })}>Restore as new guest</Button>
            ) : null}
          </li>
        ))}
      </ul>
      {data.runs.length > 0 ? (
        <ul aria-label="Recent backup runs">
          {data.runs.slice(0, 5).map((run) => (
            <li key={run.id} data-run-state={run.state}>
              {run.slot ? `Scheduled for ${formatSlot(run.slot, data.timeZone)}` : `Asked for by ${run.requestedBy ?? 'an API client'}`}, started{' '}
              <RelativeTime date={run.startedAt} />: {run.state === 'running' ? 'backing up…' : run.state === 'succeeded' ? 'backed up' : `failed: ${run.error ?? ''}`}
            </li>
          ))}
        </ul>
      ) : null}
      {data.restores.length > 0 ? (
        <ul aria-label="Restores">
          {data.restores.map((r) => (
            <li key={r.id}>
              {r.state === 'restored'
                ? `Restored ${r.volid} into the new guest ${r.vmid} (not started; the original is unchanged).`
                : r.state === 'restoring'
                  ? `Restoring ${r.volid}${r.vmid ? ` into ${r.vmid}` : ''}…`
                  : `Restore of ${r.volid} failed: ${r.error ?? ''}`}
            </li>
          ))}
        </ul>
      ) : null}
      {restoring ? <RestoreDialog guest={restoring.guest} archive={restoring.archive} projectId={projectId} onClose={() => setRestoring(null)} /> : null}
    </div>
  );
}

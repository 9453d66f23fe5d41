import type { ProjectBackups } from '@/shared/api';

/** One guest's last backup for its card: when (null: none yet), and whether one is missing or the latest run failed it. */
export type GuestLastBackup = { at: string | null; problem: 'missing' | 'failed' | null };

/**
 * Each live instance's last backup, by instance id, from GET /api/projects/{id}/backups. "failed": the latest finished
 * run failed and left no newer backup of this guest (a run that failed for another guest does not mark this one);
 * "missing": the schedule wants a newer one than it has. Empty when the project has no backups set up.
 */
export function lastBackupsByInstance(backups: ProjectBackups | undefined): Map<number, GuestLastBackup> {
  const result = new Map<number, GuestLastBackup>();
  if (!backups?.settings) return result;
  const finished = backups.runs.find((run) => run.state !== 'running');
  const failedSince = finished?.state === 'failed' ? Date.parse(finished.startedAt) : null;
  for (const guest of backups.guests) {
    const at = guest.lastBackup?.createdAt ?? null;
    const failed = failedSince !== null && (at === null || Date.parse(at) < failedSince);
    result.set(guest.instanceId, { at, problem: failed ? 'failed' : guest.missing ? 'missing' : null });
  }
  return result;
}

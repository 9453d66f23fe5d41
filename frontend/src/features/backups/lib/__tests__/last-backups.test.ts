import { describe, expect, it } from 'vitest';
import type { BackupRunView, GuestBackupView, ProjectBackups } from '@/shared/api';
import { lastBackupsByInstance } from '../last-backups';

const archive = (createdAt: string) => ({ volid: `local:backup/vzdump-lxc-1-${createdAt}.tar.zst`, createdAt, size: 1, notes: null });
const guest = (instanceId: number, lastBackup: string | null, missing = false): GuestBackupView => ({
  instanceId,
  hostname: `g${instanceId}`,
  type: 'zwavejs',
  vmid: 1000 + instanceId,
  lastBackup: lastBackup ? archive(lastBackup) : null,
  count: lastBackup ? 1 : 0,
  missing,
  archives: lastBackup ? [archive(lastBackup)] : [],
});
const run = (id: number, state: string, startedAt: string): BackupRunView => ({
  id,
  slot: null,
  state,
  storage: 'local',
  keepLast: 7,
  requestedBy: 'schedule',
  startedAt,
  finishedAt: null,
  message: null,
  error: state === 'failed' ? 'vzdump on pve failed' : null,
});
const backups = (guests: GuestBackupView[], runs: BackupRunView[]): ProjectBackups => ({
  settings: { schedule: { frequency: 'daily', day: null, time: '03:00' }, storage: 'local', retention: { keepLast: 7 } },
  schedule: 'daily at 03:00',
  nextRunAt: null,
  timeZone: 'UTC',
  guests,
  runs,
  restores: [],
  problem: null,
});

describe('lastBackupsByInstance', () => {
  it('marks a guest failed only when the latest finished run failed without backing it up', () => {
    const result = lastBackupsByInstance(
      backups(
        [guest(1, '2031-03-04T03:00:05Z'), guest(2, '2031-03-03T03:00:05Z'), guest(3, null)],
        [run(9, 'running', '2031-03-04T10:00:00Z'), run(8, 'failed', '2031-03-04T03:00:00Z'), run(7, 'succeeded', '2031-03-03T03:00:00Z')],
      ),
    );
    expect(result.get(1)).toEqual({ at: '2031-03-04T03:00:05Z', problem: null });
    expect(result.get(2)).toEqual({ at: '2031-03-03T03:00:05Z', problem: 'failed' });
    expect(result.get(3)).toEqual({ at: null, problem: 'failed' });
  });

  it('reports missing from the server and nothing after a good run', () => {
    const result = lastBackupsByInstance(backups([guest(1, '2031-03-01T03:00:05Z', true), guest(2, null)], [run(7, 'succeeded', '2031-03-04T03:00:00Z')]));
    expect(result.get(1)).toEqual({ at: '2031-03-01T03:00:05Z', problem: 'missing' });
    expect(result.get(2)).toEqual({ at: null, problem: null });
  });

  it('is empty when the project has no backups set up', () => {
    expect(lastBackupsByInstance({ ...backups([guest(1, null)], []), settings: null }).size).toBe(0);
    expect(lastBackupsByInstance(undefined).size).toBe(0);
  });
});

import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, unwrap, type BackupRunView, type GuestRestoreView, type ProjectBackups } from '@/shared/api';
import { lastBackupsByInstance } from '../lib/last-backups';

export const projectBackupsQueryKey = (projectId: number) => ['projects', projectId, 'backups'] as const;

/** GET /api/projects/{id}/backups (viewer+): schedule, each guest's last backup, recent runs and restores. */
export function getProjectBackups(projectId: number, { signal }: { signal?: AbortSignal } = {}): Promise<ProjectBackups> {
  return unwrap('GET', '/api/projects/{id}/backups', apiClient.GET('/api/projects/{id}/backups', { params: { path: { id: projectId } }, signal }));
}

export function projectBackupsQueryOptions(projectId: number) {
  return queryOptions({
    queryKey: projectBackupsQueryKey(projectId),
    queryFn: ({ signal }) => getProjectBackups(projectId, { signal }),
    // A run or a restore ends in the background: look again while one is going, and around the next slot (the
    // scheduler starts that run within its check interval).
    refetchInterval: (query) => {
      const data = query.state.data;
      const busy = data?.runs.some((r) => r.state === 'running') || data?.restores.some((r) => r.state === 'restoring');
      const slotNear = data?.nextRunAt != null && new Date(data.nextRunAt).getTime() - Date.now() < 60_000;
      return busy || slotNear ? 3_000 : 60_000;
    },
  });
}

export function useProjectBackups(projectId: number) {
  return useQuery(projectBackupsQueryOptions(projectId));
}

/** Each instance's last backup for its card (the same query as the Backups panel: one request for both). */
export function useLastBackups(projectId: number) {
  return useQuery({ ...projectBackupsQueryOptions(projectId), select: lastBackupsByInstance });
}

/** POST /api/projects/{id}/backups (operator+): "Back up now". */
export function backUpNow(projectId: number): Promise<BackupRunView> {
  return unwrap('POST', '/api/projects/{id}/backups', apiClient.POST('/api/projects/{id}/backups', { params: { path: { id: projectId } } }));
}

export function useBackUpNow(projectId: number) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: () => backUpNow(projectId),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: projectBackupsQueryKey(projectId) }),
  });
}

/** POST /api/projects/{id}/backups/restore (operator+): a backup into a NEW guest; the original stays. */
export function restoreBackup(projectId: number, instanceId: number, volid: string): Promise<GuestRestoreView> {
  return unwrap(
    'POST',
    '/api/projects/{id}/backups/restore',
    apiClient.POST('/api/projects/{id}/backups/restore', { params: { path: { id: projectId } }, body: { instanceId, volid } }),
  );
}

export function useRestoreBackup(projectId: number) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ instanceId, volid }: { instanceId: number; volid: string }) => restoreBackup(projectId, instanceId, volid),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: projectBackupsQueryKey(projectId) }),
  });
}

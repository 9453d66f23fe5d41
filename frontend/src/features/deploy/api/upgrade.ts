import { useMutation, useQueryClient } from '@tanstack/react-query';
import { apiClient, queryKeys, unwrap } from '@/shared/api';

/** POST /api/instances/{id}/upgrade (operator): snapshot, the app's own update, health check; a rollback on failure. */
export function upgradeInstance(id: number) {
  return unwrap('POST', `/api/instances/${id}/upgrade`, apiClient.POST('/api/instances/{id}/upgrade', { params: { path: { id } } }));
}

/** POST /api/projects/{id}/upgrade (operator): every instance that can be upgraded; the others come back in `skipped`. */
export function upgradeProject(id: number) {
  return unwrap('POST', `/api/projects/${id}/upgrade`, apiClient.POST('/api/projects/{id}/upgrade', { params: { path: { id } } }));
}

/** Starts an upgrade of one instance (`instanceId`) or of the whole project; progress then comes over the project's events. */
export function useUpgrade({ projectId, onStarted }: { projectId: number; onStarted?: () => void }) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: async ({ instanceId }: { instanceId?: number }) => {
      if (instanceId != null) await upgradeInstance(instanceId);
      else await upgradeProject(projectId);
    },
    onSuccess: () => {
      void queryClient.invalidateQueries({ queryKey: queryKeys.project(projectId) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.projects, exact: true });
      onStarted?.();
    },
  });
}

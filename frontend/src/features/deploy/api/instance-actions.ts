import { useMutation, useQueryClient } from '@tanstack/react-query';
import { apiClient, queryKeys, unwrap, type Instance } from '@/shared/api';

/** What a dealer can do to a deployed instance. `shutdown` is a clean stop; `stop` pulls the plug. */
export type InstanceAction = 'start' | 'stop' | 'shutdown' | 'reboot' | 'retry' | 'delete';

/**
 * POST /api/instances/{id}/start|stop|shutdown|reboot (waits for Proxmox's task), POST …/retry
 * (a failed instance, from where it failed), DELETE /api/instances/{id} (stops and destroys the
 * guest and its disks). All operator.
 */
export function runInstanceAction({ id, action }: { id: number; action: InstanceAction }): Promise<Instance> {
  const params = { params: { path: { id } } };
  switch (action) {
    case 'delete':
      return unwrap('DELETE', `/api/instances/${id}`, apiClient.DELETE('/api/instances/{id}', params));
    case 'start':
      return unwrap('POST', `/api/instances/${id}/start`, apiClient.POST('/api/instances/{id}/start', params));
    case 'stop':
      return unwrap('POST', `/api/instances/${id}/stop`, apiClient.POST('/api/instances/{id}/stop', params));
    case 'shutdown':
      return unwrap('POST', `/api/instances/${id}/shutdown`, apiClient.POST('/api/instances/{id}/shutdown', params));
    case 'reboot':
      return unwrap('POST', `/api/instances/${id}/reboot`, apiClient.POST('/api/instances/{id}/reboot', params));
    case 'retry':
      return unwrap('POST', `/api/instances/${id}/retry`, apiClient.POST('/api/instances/{id}/retry', params));
  }
}

export function useInstanceAction({ onSuccess }: { onSuccess?: (instance: Instance, action: InstanceAction) => void } = {}) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: runInstanceAction,
    onSuccess: (instance, { action }) => {
      void queryClient.invalidateQueries({ queryKey: queryKeys.project(instance.projectId) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.projects, exact: true });
      if (instance.deployId != null) void queryClient.invalidateQueries({ queryKey: queryKeys.deploy(instance.deployId) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.dashboard });
      onSuccess?.(instance, action);
    },
  });
}

import { useMutation, useQueryClient } from '@tanstack/react-query';
import { apiClient, queryKeys, unwrap, type Deploy } from '@/shared/api';

/**
 * POST /api/projects/{id}/deploy (operator): clones the given components of the active release
 * (202 with the deploy and its queued instances). Progress: GET /api/deploys/{id}/events.
 */
export function deployStack({ projectId, types }: { projectId: number; types: string[] }): Promise<Deploy> {
  return unwrap(
    'POST',
    `/api/projects/${projectId}/deploy`,
    apiClient.POST('/api/projects/{id}/deploy', { params: { path: { id: projectId } }, body: { types } }),
  );
}

/** POST /api/projects/{id}/instances (operator): one more instance of a component. */
export function addInstance({ projectId, type }: { projectId: number; type: string }): Promise<Deploy> {
  return unwrap(
    'POST',
    `/api/projects/${projectId}/instances`,
    apiClient.POST('/api/projects/{id}/instances', { params: { path: { id: projectId } }, body: { type } }),
  );
}

function useStartDeploy<T>(mutationFn: (input: T) => Promise<Deploy>, onSuccess?: (deploy: Deploy) => void) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn,
    onSuccess: (deploy) => {
      queryClient.setQueryData(queryKeys.deploy(deploy.id), deploy);
      void queryClient.invalidateQueries({ queryKey: queryKeys.projects });
      // New guests: the host's guest list and free capacity change.
      void queryClient.invalidateQueries({ queryKey: queryKeys.dashboard });
      onSuccess?.(deploy);
    },
  });
}

export function useDeployStack({ onSuccess }: { onSuccess?: (deploy: Deploy) => void } = {}) {
  return useStartDeploy(deployStack, onSuccess);
}

export function useAddInstance({ onSuccess }: { onSuccess?: (deploy: Deploy) => void } = {}) {
  return useStartDeploy(addInstance, onSuccess);
}

import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiClient, queryKeys, unwrap, type Deploy } from '@/shared/api';
import type { QueryConfig } from '@/shared/lib/react-query';

/** How often a deploy is asked for when its event stream is not available. */
export const DEPLOY_POLL_MS = 2_000;

/** GET /api/deploys/{id}: a deploy and the current state of each of its instances. */
export function getDeploy({ id, signal }: { id: number; signal?: AbortSignal }): Promise<Deploy> {
  return unwrap('GET', `/api/deploys/${id}`, apiClient.GET('/api/deploys/{id}', { params: { path: { id } }, signal }));
}

export function getDeployQueryOptions(id: number) {
  return queryOptions({
    queryKey: queryKeys.deploy(id),
    queryFn: ({ signal }) => getDeploy({ id, signal }),
    staleTime: 1_000,
  });
}

export function useDeploy({ id, queryConfig }: { id: number; queryConfig?: QueryConfig<typeof getDeployQueryOptions> }) {
  return useQuery({ ...getDeployQueryOptions(id), ...queryConfig });
}

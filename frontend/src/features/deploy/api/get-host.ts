import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiClient, queryKeys, unwrap, type DashboardSnapshot } from '@/shared/api';
import type { QueryConfig } from '@/shared/lib/react-query';

/** How often the host's capacity and the guests' power state are asked again (the backend caches 3 s). */
export const HOST_REFRESH_MS = 5_000;

/**
 * GET /api/dashboard, read here for what a deploy needs: the active release, the node's free
 * memory and storage, whether the storage can do linked clones, and whether each guest is running.
 * Shares its cache entry with the dashboard page.
 */
export function getHost({ signal }: { signal?: AbortSignal } = {}): Promise<DashboardSnapshot> {
  return unwrap('GET', '/api/dashboard', apiClient.GET('/api/dashboard', { signal }));
}

export function getHostQueryOptions() {
  return queryOptions({
    queryKey: queryKeys.dashboard,
    queryFn: ({ signal }) => getHost({ signal }),
    refetchInterval: HOST_REFRESH_MS,
    staleTime: HOST_REFRESH_MS - 1_000,
  });
}

export function useHost({ queryConfig }: { queryConfig?: QueryConfig<typeof getHostQueryOptions> } = {}) {
  return useQuery({ ...getHostQueryOptions(), ...queryConfig });
}

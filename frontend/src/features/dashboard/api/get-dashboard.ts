import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiClient, unwrap, type DashboardSnapshot } from '@/shared/api';
import type { QueryConfig } from '@/shared/lib/react-query';

/** How often the dashboard asks again. The backend serves one Proxmox poll to every viewer for 3 s. */
export const DASHBOARD_REFRESH_MS = 5_000;

/**
 * GET /api/dashboard: host health, storages, guests by project, other guests and the active
 * release's templates. 503 problem+json when Proxmox has never answered; once it has, a failed
 * poll comes back as the last snapshot with `stale` and `staleReason` set.
 */
export function getDashboard({ signal }: { signal?: AbortSignal } = {}): Promise<DashboardSnapshot> {
  return unwrap('GET', '/api/dashboard', apiClient.GET('/api/dashboard', { signal }));
}

export const dashboardQueryKey = ['dashboard'] as const;

export function getDashboardQueryOptions() {
  return queryOptions({
    queryKey: dashboardQueryKey,
    queryFn: ({ signal }) => getDashboard({ signal }),
    refetchInterval: DASHBOARD_REFRESH_MS,
    // Back on the tab: ask at once instead of waiting for the next tick.
    refetchOnWindowFocus: true,
    staleTime: DASHBOARD_REFRESH_MS - 1_000,
    // A failed refresh keeps the last snapshot on screen (the page says it could not refresh).
    placeholderData: keepPreviousData,
  });
}

export function useDashboard({
  queryConfig,
}: { queryConfig?: QueryConfig<typeof getDashboardQueryOptions> } = {}) {
  return useQuery({ ...getDashboardQueryOptions(), ...queryConfig });
}

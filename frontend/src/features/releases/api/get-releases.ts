import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiClient, unwrap, type ReleaseSummary } from '@/shared/api';
import type { QueryConfig } from '@/shared/lib/react-query';

/** GET /api/releases: every manifest in releases/, valid or not. */
export function getReleases({ signal }: { signal?: AbortSignal } = {}): Promise<ReleaseSummary[]> {
  return unwrap('GET', '/api/releases', apiClient.GET('/api/releases', { signal }));
}

export const releasesQueryKey = ['releases'] as const;

export function getReleasesQueryOptions() {
  return queryOptions({
    queryKey: releasesQueryKey,
    queryFn: ({ signal }) => getReleases({ signal }),
  });
}

export function useReleases({
  queryConfig,
}: { queryConfig?: QueryConfig<typeof getReleasesQueryOptions> } = {}) {
  return useQuery({ ...getReleasesQueryOptions(), ...queryConfig });
}

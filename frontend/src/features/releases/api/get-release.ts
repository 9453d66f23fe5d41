import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiClient, unwrap, type ReleaseDetail } from '@/shared/api';
import type { QueryConfig } from '@/shared/lib/react-query';

/** GET /api/releases/{release}: the parsed manifest and each template's build state on this host. */
export function getRelease(release: string, { signal }: { signal?: AbortSignal } = {}): Promise<ReleaseDetail> {
  return unwrap(
    'GET',
    `/api/releases/${release}`,
    apiClient.GET('/api/releases/{release}', { params: { path: { release } }, signal }),
  );
}

export const releaseQueryKey = (release: string) => ['releases', release] as const;

export function getReleaseQueryOptions(release: string) {
  return queryOptions({
    queryKey: releaseQueryKey(release),
    queryFn: ({ signal }) => getRelease(release, { signal }),
  });
}

export function useRelease(
  release: string,
  { queryConfig }: { queryConfig?: QueryConfig<typeof getReleaseQueryOptions> } = {},
) {
  return useQuery({ ...getReleaseQueryOptions(release), ...queryConfig });
}

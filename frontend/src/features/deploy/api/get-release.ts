import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiClient, queryKeys, unwrap, type ReleaseDetail } from '@/shared/api';
import type { QueryConfig } from '@/shared/lib/react-query';

/** GET /api/releases/{release}: the manifest (each template's CPU, RAM and disk) and its build state here. */
export function getRelease({ name, signal }: { name: string; signal?: AbortSignal }): Promise<ReleaseDetail> {
  return unwrap(
    'GET',
    `/api/releases/${encodeURIComponent(name)}`,
    apiClient.GET('/api/releases/{release}', { params: { path: { release: name } }, signal }),
  );
}

export function getReleaseQueryOptions(name: string) {
  return queryOptions({
    queryKey: queryKeys.release(name),
    queryFn: ({ signal }) => getRelease({ name, signal }),
    staleTime: 60_000,
  });
}

/** The release's detail; waits while `name` is not known yet. */
export function useRelease({
  name,
  queryConfig,
}: {
  name: string | null | undefined;
  queryConfig?: QueryConfig<typeof getReleaseQueryOptions>;
}) {
  return useQuery({ ...getReleaseQueryOptions(name ?? ''), enabled: Boolean(name), ...queryConfig });
}

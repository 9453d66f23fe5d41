import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiClient, queryKeys, unwrap, type Project } from '@/shared/api';
import type { QueryConfig } from '@/shared/lib/react-query';

/**
 * GET /api/projects/{id}, read here for the project's instances and site settings (which guests
 * need a USB binding). Shares its cache entry with the projects feature.
 */
export function getProject({ id, signal }: { id: number; signal?: AbortSignal }): Promise<Project> {
  return unwrap('GET', `/api/projects/${id}`, apiClient.GET('/api/projects/{id}', { params: { path: { id } }, signal }));
}

export function getProjectQueryOptions(id: number) {
  return queryOptions({
    queryKey: queryKeys.project(id),
    queryFn: ({ signal }) => getProject({ id, signal }),
    staleTime: 5_000,
  });
}

export function useProject({ id, queryConfig }: { id: number | undefined; queryConfig?: QueryConfig<typeof getProjectQueryOptions> }) {
  return useQuery({ ...getProjectQueryOptions(id ?? 0), enabled: id !== undefined, ...queryConfig });
}

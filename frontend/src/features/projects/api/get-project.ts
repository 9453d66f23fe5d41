import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiClient, queryKeys, unwrap, type Project } from '@/shared/api';
import type { QueryConfig } from '@/shared/lib/react-query';

/** GET /api/projects/{id}: a project with its site settings and live instances. */
export function getProject({ id, signal }: { id: number; signal?: AbortSignal }): Promise<Project> {
  return unwrap('GET', `/api/projects/${id}`, apiClient.GET('/api/projects/{id}', { params: { path: { id } }, signal }));
}

export const projectQueryKey = queryKeys.project;

export function getProjectQueryOptions(id: number) {
  return queryOptions({
    queryKey: projectQueryKey(id),
    queryFn: ({ signal }) => getProject({ id, signal }),
    staleTime: 5_000,
  });
}

export function useProject({ id, queryConfig }: { id: number; queryConfig?: QueryConfig<typeof getProjectQueryOptions> }) {
  return useQuery({ ...getProjectQueryOptions(id), ...queryConfig });
}

import { queryOptions, useQuery } from '@tanstack/react-query';
import { apiClient, queryKeys, unwrap, type Project } from '@/shared/api';
import type { QueryConfig } from '@/shared/lib/react-query';

/** How often the projects list asks again while it is open (its counts follow running deploys). */
export const PROJECTS_REFRESH_MS = 10_000;

/** GET /api/projects: every project (customer site) with its live instances. */
export function getProjects({ signal }: { signal?: AbortSignal } = {}): Promise<Project[]> {
  return unwrap('GET', '/api/projects', apiClient.GET('/api/projects', { signal }));
}

export const projectsQueryKey = queryKeys.projects;

export function getProjectsQueryOptions() {
  return queryOptions({
    queryKey: projectsQueryKey,
    queryFn: ({ signal }) => getProjects({ signal }),
    // Deploys change the counts elsewhere: ask again whenever the list is shown.
    staleTime: 0,
    refetchInterval: PROJECTS_REFRESH_MS,
  });
}

export function useProjects({ queryConfig }: { queryConfig?: QueryConfig<typeof getProjectsQueryOptions> } = {}) {
  return useQuery({ ...getProjectsQueryOptions(), ...queryConfig });
}

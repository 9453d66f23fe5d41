import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, unwrap, type BuildSummary, type BuildTriggerInfo } from '@/shared/api';
import type { QueryConfig } from '@/shared/lib/react-query';
import { releasesQueryKey } from './get-releases';

export const buildsQueryKey = ['builds'] as const;

/** GET /api/builds: build history, newest first. */
export function getBuilds({ signal, limit = 20 }: { signal?: AbortSignal; limit?: number } = {}): Promise<BuildSummary[]> {
  return unwrap('GET', '/api/builds', apiClient.GET('/api/builds', { params: { query: { limit } }, signal }));
}

export function getBuildsQueryOptions() {
  return queryOptions({
    queryKey: [...buildsQueryKey, 'history'] as const,
    queryFn: ({ signal }) => getBuilds({ signal }),
  });
}

export function useBuilds({ queryConfig }: { queryConfig?: QueryConfig<typeof getBuildsQueryOptions> } = {}) {
  return useQuery({ ...getBuildsQueryOptions(), ...queryConfig });
}

/** GET /api/builds/trigger: whether builds are possible here, and the build running now. */
export function getBuildTrigger({ signal }: { signal?: AbortSignal } = {}): Promise<BuildTriggerInfo> {
  return unwrap('GET', '/api/builds/trigger', apiClient.GET('/api/builds/trigger', { signal }));
}

export function getBuildTriggerQueryOptions() {
  return queryOptions({
    queryKey: [...buildsQueryKey, 'trigger'] as const,
    queryFn: ({ signal }) => getBuildTrigger({ signal }),
  });
}

export function useBuildTrigger({
  queryConfig,
}: { queryConfig?: QueryConfig<typeof getBuildTriggerQueryOptions> } = {}) {
  return useQuery({ ...getBuildTriggerQueryOptions(), ...queryConfig });
}

export type StartBuildInput = { release: string; force: boolean };

/** POST /api/releases/{release}/build (operator): starts the build on the host; answers 202 with the build. */
export function startBuild({ release, force }: StartBuildInput): Promise<BuildSummary> {
  return unwrap(
    'POST',
    `/api/releases/${release}/build`,
    apiClient.POST('/api/releases/{release}/build', { params: { path: { release } }, body: { force } }),
  );
}

export function useStartBuild({ onSuccess }: { onSuccess?: (build: BuildSummary) => void } = {}) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: startBuild,
    onSuccess: (build) => {
      void queryClient.invalidateQueries({ queryKey: buildsQueryKey });
      onSuccess?.(build);
    },
  });
}

/** After a build ended: what it changed (active release, template states, history). */
export function useInvalidateAfterBuild() {
  const queryClient = useQueryClient();
  return () => {
    void queryClient.invalidateQueries({ queryKey: buildsQueryKey });
    void queryClient.invalidateQueries({ queryKey: releasesQueryKey });
  };
}

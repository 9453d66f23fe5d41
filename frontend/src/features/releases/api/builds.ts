import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, unwrap, type BuildCheckResult, type BuildSummary, type BuildTriggerInfo } from '@/shared/api';
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

export type StartBuildInput = {
  release: string;
  force: boolean;
  /** Build only these templates (rebuilding what failed; the others stay as they are); absent: every template. */
  templates?: string[] | undefined;
};

/** POST /api/releases/{release}/build (operator): starts the build on the host; answers 202 with the build. */
export function startBuild({ release, force, templates }: StartBuildInput): Promise<BuildSummary> {
  return unwrap(
    'POST',
    `/api/releases/${release}/build`,
    apiClient.POST('/api/releases/{release}/build', {
      params: { path: { release } },
      body: templates ? { force, templates } : { force },
    }),
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

export type CheckBuildInput = { release: string; templates?: string[] | undefined };

/**
 * POST /api/releases/{release}/check (operator): the host's preflight for a build (ctrlable-build --check). It changes
 * nothing on the host and answers within about two minutes: {ok, problems, passed}, or a problem when the host trigger
 * is not set up, unreachable, or refused the check.
 */
export function checkBuild({ release, templates }: CheckBuildInput): Promise<BuildCheckResult> {
  return unwrap(
    'POST',
    `/api/releases/${release}/check`,
    apiClient.POST('/api/releases/{release}/check', {
      params: { path: { release } },
      body: templates ? { templates } : {},
    }),
  );
}

/** A mutation, not a query: the check asks the host again each time (it answers for this moment only). */
export function useCheckBuild() {
  return useMutation({ mutationFn: checkBuild });
}

/** After a build ended: what it changed (active release, template states, history). */
export function useInvalidateAfterBuild() {
  const queryClient = useQueryClient();
  return () => {
    void queryClient.invalidateQueries({ queryKey: buildsQueryKey });
    void queryClient.invalidateQueries({ queryKey: releasesQueryKey });
  };
}

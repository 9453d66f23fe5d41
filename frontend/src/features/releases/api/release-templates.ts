import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, unwrap, type ReleaseTemplates, type TemplatesRemovalResult } from '@/shared/api';
import type { QueryConfig } from '@/shared/lib/react-query';
import { releasesQueryKey } from './get-releases';

/**
 * GET /api/releases/{release}/templates: the templates this host has of a release, whether each can be removed and the
 * guests whose disks are linked clones of its base volume (the backend reads every guest's config from Proxmox).
 */
export function getReleaseTemplates(release: string, { signal }: { signal?: AbortSignal } = {}): Promise<ReleaseTemplates> {
  return unwrap(
    'GET',
    `/api/releases/${release}/templates`,
    apiClient.GET('/api/releases/{release}/templates', { params: { path: { release } }, signal }),
  );
}

export const releaseTemplatesQueryKey = (release: string) => ['releases', release, 'templates'] as const;

export function getReleaseTemplatesQueryOptions(release: string) {
  return queryOptions({
    queryKey: releaseTemplatesQueryKey(release),
    queryFn: ({ signal }) => getReleaseTemplates(release, { signal }),
  });
}

export function useReleaseTemplates(
  release: string,
  { queryConfig }: { queryConfig?: QueryConfig<typeof getReleaseTemplatesQueryOptions> } = {},
) {
  return useQuery({ ...getReleaseTemplatesQueryOptions(release), ...queryConfig });
}

/**
 * DELETE /api/releases/{release}/templates (admin): destroys the release's templates the orchestrator built, once no
 * guest holds their base volume; 409 `templates-in-use` names the guests and removes nothing.
 */
export function removeReleaseTemplates(release: string): Promise<TemplatesRemovalResult> {
  return unwrap(
    'DELETE',
    `/api/releases/${release}/templates`,
    apiClient.DELETE('/api/releases/{release}/templates', { params: { path: { release } } }),
  );
}

export function useRemoveReleaseTemplates() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: removeReleaseTemplates,
    onSettled: (_result, _error, release) => {
      // The holders may have changed (a refusal), and the release's template counts (a removal).
      void queryClient.invalidateQueries({ queryKey: releaseTemplatesQueryKey(release) });
      void queryClient.invalidateQueries({ queryKey: releasesQueryKey });
    },
  });
}

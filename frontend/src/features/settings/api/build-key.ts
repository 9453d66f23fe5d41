import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, unwrap, type BuildKeyView } from '@/shared/api';

const buildKeyKey = ['settings', 'build-key'] as const;

/** GET /api/settings/build-key: the host trigger's key and whether its passphrase is stored (admin). */
export function getBuildKey({ signal }: { signal?: AbortSignal } = {}): Promise<BuildKeyView> {
  return unwrap('GET', '/api/settings/build-key', apiClient.GET('/api/settings/build-key', { signal }));
}

export function useBuildKey() {
  return useQuery(queryOptions({ queryKey: buildKeyKey, queryFn: ({ signal }) => getBuildKey({ signal }) }));
}

/** PUT /api/settings/build-key/passphrase: stored only when it opens the key (422 otherwise). */
export function setBuildKeyPassphrase(passphrase: string): Promise<BuildKeyView> {
  return unwrap('PUT', '/api/settings/build-key/passphrase', apiClient.PUT('/api/settings/build-key/passphrase', { body: { passphrase } }));
}

export function useSetBuildKeyPassphrase() {
  const queryClient = useQueryClient();
  return useMutation({ mutationFn: setBuildKeyPassphrase, onSuccess: (view) => queryClient.setQueryData(buildKeyKey, view) });
}

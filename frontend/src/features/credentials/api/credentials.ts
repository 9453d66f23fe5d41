import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, unwrap, type ProjectCredentials, type RevealedCredential, type SiteCredential } from '@/shared/api';

export const credentialsQueryKey = (projectId: number) => ['projects', projectId, 'credentials'] as const;

/** GET /api/projects/{id}/credentials (admin): every secret of the site, never a value. */
export function getCredentials(projectId: number, { signal }: { signal?: AbortSignal } = {}): Promise<ProjectCredentials> {
  return unwrap(
    'GET',
    `/api/projects/${projectId}/credentials`,
    apiClient.GET('/api/projects/{id}/credentials', { params: { path: { id: projectId } }, signal }),
  );
}

export function useCredentials(projectId: number, { enabled = true }: { enabled?: boolean } = {}) {
  return useQuery({
    ...queryOptions({ queryKey: credentialsQueryKey(projectId), queryFn: ({ signal }) => getCredentials(projectId, { signal }) }),
    enabled,
  });
}

export type RevealInput = { projectId: number; credentialIds: string[]; password: string };

/**
 * POST …/credentials/{credentialId}/reveal for one, POST …/credentials/reveal for several (one
 * password entry, one audit entry naming each). The values live only in the caller's state.
 */
export async function revealCredentials({ projectId, credentialIds, password }: RevealInput): Promise<RevealedCredential[]> {
  const [single] = credentialIds;
  if (credentialIds.length === 1 && single !== undefined) {
    const url = `/api/projects/${projectId}/credentials/${single}/reveal`;
    const revealed = await unwrap(
      'POST',
      url,
      apiClient.POST('/api/projects/{id}/credentials/{credentialId}/reveal', {
        params: { path: { id: projectId, credentialId: single } },
        body: { password },
      }),
    );
    return [revealed];
  }
  const url = `/api/projects/${projectId}/credentials/reveal`;
  const revealed = await unwrap(
    'POST',
    url,
    apiClient.POST('/api/projects/{id}/credentials/reveal', { params: { path: { id: projectId } }, body: { password, credentialIds } }),
  );
  return revealed.credentials;
}

export function useRevealCredentials() {
  return useMutation({ mutationFn: revealCredentials });
}

export type RotateInput = { projectId: number; credentialId: string };

/** POST …/credentials/{credentialId}/rotate: a new value, pushed where it is used, then stored. */
export function rotateCredential({ projectId, credentialId }: RotateInput): Promise<SiteCredential> {
  return unwrap(
    'POST',
    `/api/projects/${projectId}/credentials/${credentialId}/rotate`,
    apiClient.POST('/api/projects/{id}/credentials/{credentialId}/rotate', { params: { path: { id: projectId, credentialId } } }),
  );
}

export function useRotateCredential() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: rotateCredential,
    onSuccess: (_, { projectId }) => queryClient.invalidateQueries({ queryKey: credentialsQueryKey(projectId) }),
  });
}

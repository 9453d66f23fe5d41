import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, unwrap, type ApiTokenSummary, type CreatedToken, type Role } from '@/shared/api';

export const tokensQueryKey = ['api-tokens'] as const;

/** GET /api/tokens (admin): never the tokens themselves. */
export function getTokens({ signal }: { signal?: AbortSignal } = {}): Promise<ApiTokenSummary[]> {
  return unwrap('GET', '/api/tokens', apiClient.GET('/api/tokens', { signal }));
}

export function useTokens() {
  return useQuery(queryOptions({ queryKey: tokensQueryKey, queryFn: ({ signal }) => getTokens({ signal }) }));
}

export type CreateTokenInput = { name: string; role: Role; expiresAt: string | null };

/** POST /api/tokens (admin): the answer holds the token, this once. */
export function createToken(input: CreateTokenInput): Promise<CreatedToken> {
  return unwrap('POST', '/api/tokens', apiClient.POST('/api/tokens', { body: input }));
}

export function useCreateToken() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: createToken,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: tokensQueryKey }),
  });
}

/** DELETE /api/tokens/{id} (admin): revoke. */
export async function revokeToken(id: number): Promise<void> {
  const result = await apiClient.DELETE('/api/tokens/{id}', { params: { path: { id } } });
  if (!result.response.ok) await unwrap('DELETE', `/api/tokens/${id}`, Promise.resolve(result));
}

export function useRevokeToken() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: revokeToken,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: tokensQueryKey }),
  });
}

import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, unwrap, type CurrentUser } from '@/shared/api';

/** GET /api/auth/me: who is signed in. 401 = nobody; 503 with code setup-required = no admin yet. */
export function getCurrentUser({ signal }: { signal?: AbortSignal } = {}): Promise<CurrentUser> {
  return unwrap('GET', '/api/auth/me', apiClient.GET('/api/auth/me', { signal }));
}

export const currentUserQueryKey = ['auth', 'me'] as const;

export function getCurrentUserQueryOptions() {
  return queryOptions({
    queryKey: currentUserQueryKey,
    queryFn: ({ signal }) => getCurrentUser({ signal }),
    // The guard decides on the first answer; retrying a 401 only delays the sign-in page.
    retry: false,
    staleTime: 60_000,
  });
}

export function useCurrentUser() {
  return useQuery(getCurrentUserQueryOptions());
}

export type SignInInput = { username: string; password: string };

/** POST /api/auth/sign-in: sets the session cookie. */
export function signIn(input: SignInInput): Promise<CurrentUser> {
  return unwrap('POST', '/api/auth/sign-in', apiClient.POST('/api/auth/sign-in', { body: input }));
}

export function useSignIn({ onSuccess }: { onSuccess?: (user: CurrentUser) => void } = {}) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: signIn,
    onSuccess: (user) => {
      // Nothing cached under the previous (signed-out) state may leak into the session.
      queryClient.clear();
      queryClient.setQueryData(currentUserQueryKey, user);
      onSuccess?.(user);
    },
  });
}

/** POST /api/auth/sign-out: ends the session; always succeeds. */
export async function signOut(): Promise<void> {
  const { response } = await apiClient.POST('/api/auth/sign-out');
  if (!response.ok) throw new Error(`Sign-out answered ${response.status}`);
}

export function useSignOut({ onSuccess }: { onSuccess?: () => void } = {}) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: signOut,
    onSuccess: () => {
      queryClient.clear();
      onSuccess?.();
    },
  });
}

export type ChangePasswordInput = { currentPassword: string; newPassword: string };

/** POST /api/auth/password: the signed-in user's own password; other sessions end. */
export async function changePassword(input: ChangePasswordInput): Promise<void> {
  const result = await apiClient.POST('/api/auth/password', { body: input });
  if (!result.response.ok) await unwrap('POST', '/api/auth/password', Promise.resolve(result));
}

export function useChangePassword() {
  return useMutation({ mutationFn: changePassword });
}

import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, unwrap, type Role, type UserSummary } from '@/shared/api';

export const usersQueryKey = ['users'] as const;

/** GET /api/users (admin). */
export function getUsers({ signal }: { signal?: AbortSignal } = {}): Promise<UserSummary[]> {
  return unwrap('GET', '/api/users', apiClient.GET('/api/users', { signal }));
}

export function useUsers() {
  return useQuery(queryOptions({ queryKey: usersQueryKey, queryFn: ({ signal }) => getUsers({ signal }) }));
}

export type CreateUserInput = { username: string; password: string; role: Role };

/** POST /api/users (admin). */
export function createUser(input: CreateUserInput): Promise<UserSummary> {
  return unwrap('POST', '/api/users', apiClient.POST('/api/users', { body: input }));
}

export function useCreateUser() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: createUser,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: usersQueryKey }),
  });
}

export type UpdateUserInput = { id: number; role: Role; disabled: boolean };

/** PUT /api/users/{id} (admin): role and disabled flag; also clears a lockout. */
export function updateUser({ id, ...body }: UpdateUserInput): Promise<UserSummary> {
  return unwrap('PUT', `/api/users/${id}`, apiClient.PUT('/api/users/{id}', { params: { path: { id } }, body }));
}

export function useUpdateUser() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: updateUser,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: usersQueryKey }),
  });
}

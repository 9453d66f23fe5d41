import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, unwrap, type CurrentUser, type SetupStatus } from '@/shared/api';

/** GET /api/setup: whether the first admin still has to be created. */
export function getSetupStatus({ signal }: { signal?: AbortSignal } = {}): Promise<SetupStatus> {
  return unwrap('GET', '/api/setup', apiClient.GET('/api/setup', { signal }));
}

export const setupStatusQueryKey = ['setup'] as const;

export function useSetupStatus() {
  return useQuery(
    queryOptions({ queryKey: setupStatusQueryKey, queryFn: ({ signal }) => getSetupStatus({ signal }) }),
  );
}

export type CreateFirstAdminInput = { setupCode: string; username: string; password: string };

/** POST /api/setup: creates the first admin (once). */
export function createFirstAdmin(input: CreateFirstAdminInput): Promise<CurrentUser> {
  return unwrap('POST', '/api/setup', apiClient.POST('/api/setup', { body: input }));
}

export function useCreateFirstAdmin({ onSuccess }: { onSuccess?: (user: CurrentUser) => void } = {}) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: createFirstAdmin,
    onSuccess: (user) => {
      queryClient.setQueryData(setupStatusQueryKey, { required: false });
      void queryClient.invalidateQueries({ queryKey: ['auth'] });
      onSuccess?.(user);
    },
  });
}

import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, unwrap, type PlatformStatus } from '@/shared/api';

export const platformStatusQueryKey = ['platform', 'status'] as const;

/** GET /api/platform/status (viewer+): enrolment, last delivered report, changes waiting, last error. */
export function getPlatformStatus({ signal }: { signal?: AbortSignal } = {}): Promise<PlatformStatus> {
  return unwrap('GET', '/api/platform/status', apiClient.GET('/api/platform/status', { signal }));
}

export function platformStatusQueryOptions() {
  return queryOptions({
    queryKey: platformStatusQueryKey,
    queryFn: ({ signal }) => getPlatformStatus({ signal }),
    // Reports go out in the background; keep "last report" and "pending" current while the page is open.
    refetchInterval: 10_000,
  });
}

export function usePlatformStatus() {
  return useQuery(platformStatusQueryOptions());
}

export type EnrolInput = { code: string; replace: boolean };

/** POST (enrol) or PUT (re-enrol, replacing the current enrolment) /api/platform/enrolment (admin). */
export function enrolPlatform({ code, replace }: EnrolInput): Promise<PlatformStatus> {
  return replace
    ? unwrap('PUT', '/api/platform/enrolment', apiClient.PUT('/api/platform/enrolment', { body: { code } }))
    : unwrap('POST', '/api/platform/enrolment', apiClient.POST('/api/platform/enrolment', { body: { code } }));
}

export function useEnrolPlatform() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: enrolPlatform,
    onSuccess: (status) => queryClient.setQueryData(platformStatusQueryKey, status),
  });
}

/** DELETE /api/platform/enrolment (admin): forget the site id and token here. */
export function disconnectPlatform(): Promise<PlatformStatus> {
  return unwrap('DELETE', '/api/platform/enrolment', apiClient.DELETE('/api/platform/enrolment'));
}

export function useDisconnectPlatform() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: disconnectPlatform,
    onSuccess: (status) => queryClient.setQueryData(platformStatusQueryKey, status),
  });
}

import { queryOptions, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { apiClient, unwrap, type AlertIncidentView, type AlertTargetRequest, type AlertTargetView, type AlertTestResult } from '@/shared/api';

export const alertTargetsQueryKey = ['alerts', 'targets'] as const;
export const alertIncidentsQueryKey = ['alerts', 'incidents'] as const;

/** GET /api/alerts/targets (admin): the notification targets, with which secrets are stored (never a secret). */
export function getAlertTargets({ signal }: { signal?: AbortSignal } = {}): Promise<AlertTargetView[]> {
  return unwrap('GET', '/api/alerts/targets', apiClient.GET('/api/alerts/targets', { signal }));
}

export function alertTargetsQueryOptions() {
  return queryOptions({ queryKey: alertTargetsQueryKey, queryFn: ({ signal }) => getAlertTargets({ signal }) });
}

export function useAlertTargets() {
  return useQuery(alertTargetsQueryOptions());
}

/** GET /api/alerts/incidents (viewer+): newest first. */
export function getAlertIncidents({ signal }: { signal?: AbortSignal } = {}): Promise<AlertIncidentView[]> {
  return unwrap('GET', '/api/alerts/incidents', apiClient.GET('/api/alerts/incidents', { params: { query: { limit: 50 } }, signal }));
}

export function useAlertIncidents() {
  return useQuery(queryOptions({ queryKey: alertIncidentsQueryKey, queryFn: ({ signal }) => getAlertIncidents({ signal }), refetchInterval: 15_000 }));
}

export type SaveAlertTargetInput = { id?: number; body: AlertTargetRequest };

/** POST /api/alerts/targets (new) or PUT /api/alerts/targets/{id} (admin). */
export function saveAlertTarget({ id, body }: SaveAlertTargetInput): Promise<AlertTargetView> {
  return id === undefined
    ? unwrap('POST', '/api/alerts/targets', apiClient.POST('/api/alerts/targets', { body }))
    : unwrap('PUT', '/api/alerts/targets/{id}', apiClient.PUT('/api/alerts/targets/{id}', { params: { path: { id } }, body }));
}

export function useSaveAlertTarget() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: saveAlertTarget,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: alertTargetsQueryKey }),
  });
}

/** DELETE /api/alerts/targets/{id} (admin). */
export async function deleteAlertTarget(id: number): Promise<void> {
  const result = await apiClient.DELETE('/api/alerts/targets/{id}', { params: { path: { id } } });
  if (!result.response.ok) await unwrap('DELETE', `/api/alerts/targets/${id}`, Promise.resolve(result));
}

export function useDeleteAlertTarget() {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: deleteAlertTarget,
    onSuccess: () => queryClient.invalidateQueries({ queryKey: alertTargetsQueryKey }),
  });
}

/** POST /api/alerts/targets/{id}/test (admin): what the target answered. */
export function testAlertTarget(id: number): Promise<AlertTestResult> {
  return unwrap('POST', '/api/alerts/targets/{id}/test', apiClient.POST('/api/alerts/targets/{id}/test', { params: { path: { id } } }));
}

export function useTestAlertTarget() {
  return useMutation({ mutationFn: testAlertTarget });
}

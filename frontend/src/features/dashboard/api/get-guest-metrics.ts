import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiClient, unwrap, type MetricSeries, type MetricTimeframe } from '@/shared/api';
import type { QueryConfig } from '@/shared/lib/react-query';
import { METRICS_REFRESH_MS } from './get-node-metrics';

/** GET /api/guests/{vmid}/metrics?timeframe=…: CPU, memory, disk and network history of a guest. */
export function getGuestMetrics({
  vmid,
  timeframe,
  signal,
}: {
  vmid: number;
  timeframe: MetricTimeframe;
  signal?: AbortSignal;
}): Promise<MetricSeries> {
  return unwrap(
    'GET',
    `/api/guests/${vmid}/metrics?timeframe=${timeframe}`,
    apiClient.GET('/api/guests/{vmid}/metrics', { params: { path: { vmid }, query: { timeframe } }, signal }),
  );
}

export const guestMetricsQueryKey = (vmid: number, timeframe: MetricTimeframe) =>
  ['dashboard', 'guest-metrics', vmid, timeframe] as const;

export function getGuestMetricsQueryOptions(vmid: number, timeframe: MetricTimeframe) {
  return queryOptions({
    queryKey: guestMetricsQueryKey(vmid, timeframe),
    queryFn: ({ signal }) => getGuestMetrics({ vmid, timeframe, signal }),
    refetchInterval: METRICS_REFRESH_MS,
    staleTime: METRICS_REFRESH_MS / 2,
    placeholderData: keepPreviousData,
  });
}

export function useGuestMetrics({
  vmid,
  timeframe,
  queryConfig,
}: {
  vmid: number;
  timeframe: MetricTimeframe;
  queryConfig?: QueryConfig<typeof getGuestMetricsQueryOptions>;
}) {
  return useQuery({ ...getGuestMetricsQueryOptions(vmid, timeframe), ...queryConfig });
}

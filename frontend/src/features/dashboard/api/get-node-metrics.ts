import { keepPreviousData, queryOptions, useQuery } from '@tanstack/react-query';
import { apiClient, unwrap, type MetricSeries, type MetricTimeframe } from '@/shared/api';
import type { QueryConfig } from '@/shared/lib/react-query';

/** Proxmox keeps history at one point a minute at best; the backend caches it for 30 s. */
export const METRICS_REFRESH_MS = 60_000;

/** GET /api/nodes/{node}/metrics?timeframe=…: CPU, memory, load, root disk and network history. */
export function getNodeMetrics({
  node,
  timeframe,
  signal,
}: {
  node: string;
  timeframe: MetricTimeframe;
  signal?: AbortSignal;
}): Promise<MetricSeries> {
  return unwrap(
    'GET',
    `/api/nodes/${encodeURIComponent(node)}/metrics?timeframe=${timeframe}`,
    apiClient.GET('/api/nodes/{node}/metrics', { params: { path: { node }, query: { timeframe } }, signal }),
  );
}

export const nodeMetricsQueryKey = (node: string, timeframe: MetricTimeframe) =>
  ['dashboard', 'node-metrics', node, timeframe] as const;

export function getNodeMetricsQueryOptions(node: string, timeframe: MetricTimeframe) {
  return queryOptions({
    queryKey: nodeMetricsQueryKey(node, timeframe),
    queryFn: ({ signal }) => getNodeMetrics({ node, timeframe, signal }),
    refetchInterval: METRICS_REFRESH_MS,
    staleTime: METRICS_REFRESH_MS / 2,
    // Switching the timeframe keeps the old lines until the new ones arrive.
    placeholderData: keepPreviousData,
  });
}

export function useNodeMetrics({
  node,
  timeframe,
  queryConfig,
}: {
  node: string;
  timeframe: MetricTimeframe;
  queryConfig?: QueryConfig<typeof getNodeMetricsQueryOptions>;
}) {
  return useQuery({ ...getNodeMetricsQueryOptions(node, timeframe), ...queryConfig });
}

import type { UseQueryResult } from '@tanstack/react-query';
import { useMemo, useState } from 'react';
import { ApiError, type MetricSeries, type MetricTimeframe } from '@/shared/api';
import { formatPercent } from '@/shared/lib/format';
import { Button } from '@/shared/ui/button';
import { RefreshIcon } from '@/shared/ui/icons';
import { Spinner } from '@/shared/ui/spinner';
import { useGuestMetrics } from '../api/get-guest-metrics';
import { useNodeMetrics } from '../api/get-node-metrics';
import { cpuAndMemoryColumns, latestAndPeak } from '../lib/chart-data';
import { TimeSeriesChart, type ChartLine } from './time-series-chart';
import styles from './dashboard.module.css';

const TIMEFRAMES: readonly { value: MetricTimeframe; label: string; caption: string }[] = [
  { value: 'hour', label: 'Hour', caption: 'Last hour' },
  { value: 'day', label: 'Day', caption: 'Last day' },
  { value: 'week', label: 'Week', caption: 'Last week' },
];

// Stable (module-level) so the chart is built once. Colours: --color-accent and purple-700,
// both AA on white; memory is also dashed.
const CPU_AND_MEMORY: readonly ChartLine[] = [
  { label: 'CPU', color: '#1d4ed8' },
  { label: 'Memory', color: '#7e22ce', dash: [6, 3] },
];

function TimeframeSwitch({
  value,
  onChange,
  target,
}: {
  value: MetricTimeframe;
  onChange: (value: MetricTimeframe) => void;
  target: string;
}) {
  return (
    <div className={styles.segmented} role="group" aria-label={`History timeframe for ${target}`}>
      {TIMEFRAMES.map((timeframe) => (
        <button
          key={timeframe.value}
          type="button"
          className={styles.segment}
          aria-pressed={value === timeframe.value}
          onClick={() => onChange(timeframe.value)}
        >
          {timeframe.label}
        </button>
      ))}
    </div>
  );
}

function describe(label: string, values: readonly (number | null)[]): string {
  const summary = latestAndPeak(values);
  if (!summary) return `${label} no data`;
  return `${label} now ${formatPercent(summary.latest / 100)}, peak ${formatPercent(summary.peak / 100)}`;
}

function HistoryBody({
  query,
  timeframe,
  target,
}: {
  query: UseQueryResult<MetricSeries>;
  timeframe: MetricTimeframe;
  target: string;
}) {
  const points = query.data?.points;
  const columns = useMemo(() => cpuAndMemoryColumns(points ?? []), [points]);
  const caption = TIMEFRAMES.find((t) => t.value === timeframe)?.caption ?? '';

  if (query.isPending) {
    return (
      <p className={styles.historyMessage} role="status">
        <Spinner /> Loading the history…
      </p>
    );
  }
  if (query.isError && !query.data) {
    const reason = query.error instanceof ApiError && query.error.problem?.detail ? ` ${query.error.problem.detail}` : '';
    return (
      <div className={styles.historyMessage}>
        <p>
          Could not load the history of {target}.{reason}
        </p>
        <Button onClick={() => void query.refetch()} disabled={query.isFetching}>
          <RefreshIcon />
          {query.isFetching ? 'Retrying…' : 'Try again'}
        </Button>
      </div>
    );
  }
  if (columns.times.length === 0) {
    return <p className={styles.historyMessage}>No history yet: Proxmox records a point every minute.</p>;
  }
  const [cpu = [], memory = []] = columns.values;
  return (
    <TimeSeriesChart
      columns={columns}
      lines={CPU_AND_MEMORY}
      label={`CPU and memory of ${target}, ${caption.toLowerCase()}`}
      caption={
        <>
          {caption}: {describe('CPU', cpu)} · {describe('memory', memory)}.
          {query.isPlaceholderData ? ' Loading…' : null}
        </>
      }
    />
  );
}

function HistoryFrame({
  title,
  target,
  timeframe,
  onTimeframe,
  query,
}: {
  /** A heading (h4, inside a node card); without one the switch stands alone. */
  title?: string;
  target: string;
  timeframe: MetricTimeframe;
  onTimeframe: (value: MetricTimeframe) => void;
  query: UseQueryResult<MetricSeries>;
}) {
  return (
    <div className={styles.history}>
      <div className={styles.historyHead}>
        {title ? <h4 className={styles.historyTitle}>{title}</h4> : null}
        <TimeframeSwitch value={timeframe} onChange={onTimeframe} target={target} />
      </div>
      <HistoryBody query={query} timeframe={timeframe} target={target} />
    </div>
  );
}

/** CPU and memory history of a node, with an hour/day/week switch. */
export function NodeHistory({ node }: { node: string }) {
  const [timeframe, setTimeframe] = useState<MetricTimeframe>('hour');
  const query = useNodeMetrics({ node, timeframe });
  return (
    <HistoryFrame title="History" target={node} timeframe={timeframe} onTimeframe={setTimeframe} query={query} />
  );
}

/** CPU and memory history of a guest (mounted only while its disclosure is open). */
export function GuestHistory({ vmid, name }: { vmid: number; name: string }) {
  const [timeframe, setTimeframe] = useState<MetricTimeframe>('hour');
  const query = useGuestMetrics({ vmid, timeframe });
  return (
    <HistoryFrame
      target={`${name} (${vmid})`}
      timeframe={timeframe}
      onTimeframe={setTimeframe}
      query={query}
    />
  );
}

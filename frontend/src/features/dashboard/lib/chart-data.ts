import type { MetricPoint } from '@/shared/api';

/** Columns for a time-series chart: seconds since the epoch, and one column of values (or gaps) per line. */
export type ChartColumns = { times: number[]; values: (number | null)[][] };

function present(value: number | null | undefined): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

export function cpuPercent(point: MetricPoint): number | null {
  return present(point.cpu) ? Math.max(0, Math.min(100, point.cpu * 100)) : null;
}

export function memoryPercent(point: MetricPoint): number | null {
  if (!present(point.memUsed) || !present(point.memTotal) || point.memTotal <= 0) return null;
  return Math.max(0, Math.min(100, (point.memUsed / point.memTotal) * 100));
}

/** CPU % and memory % per point, in time order; a missing value stays a gap (null). */
export function cpuAndMemoryColumns(points: readonly MetricPoint[]): ChartColumns {
  const sorted = [...points].sort((a, b) => a.time - b.time);
  return {
    times: sorted.map((point) => point.time),
    values: [sorted.map(cpuPercent), sorted.map(memoryPercent)],
  };
}

/** The latest and the highest value of a line, ignoring gaps; null when it has no value at all. */
export function latestAndPeak(values: readonly (number | null)[]): { latest: number; peak: number } | null {
  let latest: number | null = null;
  let peak = -Infinity;
  for (const value of values) {
    if (value === null) continue;
    latest = value;
    peak = Math.max(peak, value);
  }
  return latest === null ? null : { latest, peak };
}

import { describe, expect, it } from 'vitest';
import { nodeSeries } from '@/testing/fixtures/dashboard';
import { cpuAndMemoryColumns, latestAndPeak } from '../chart-data';

describe('chart data', () => {
  it('turns metric points into time-ordered CPU % and memory % columns, keeping gaps', () => {
    const points = nodeSeries().points;
    const columns = cpuAndMemoryColumns([...points].reverse());

    expect(columns.times).toEqual(points.map((p) => p.time));
    const [cpu, memory] = columns.values;
    expect(cpu?.map((v) => (v === null ? null : Math.round(v)))).toEqual([10, 40, null, 20]);
    expect(memory?.map((v) => (v === null ? null : Math.round(v)))).toEqual([50, 55, null, 50]);
  });

  it('treats a missing or zero total as a gap', () => {
    const columns = cpuAndMemoryColumns([{ time: 1, cpu: 0.5, memUsed: 10, memTotal: 0 }]);
    expect(columns.values[1]).toEqual([null]);
  });

  it('finds the latest and the highest value, skipping gaps', () => {
    expect(latestAndPeak([10, 40, null, 20, null])).toEqual({ latest: 20, peak: 40 });
    expect(latestAndPeak([null, null])).toBeNull();
    expect(latestAndPeak([])).toBeNull();
  });
});

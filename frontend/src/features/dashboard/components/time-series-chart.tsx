// Chart library: uPlot 1.6.32. Small (about 22 kB gzipped, no dependencies) and fast (canvas,
// made for time series: a week of per-minute points costs nothing), with gaps for missing values,
// a time axis in local time and a live legend with the values under the cursor. A hand-rolled SVG
// sparkline would have needed its own axes, hover read-out and resizing.
// It needs a real canvas: jsdom (the unit tests) has none and no window.matchMedia, which uPlot
// calls when imported. So uPlot is imported lazily, only where charts can be drawn
// (canDrawCharts); elsewhere — and always, for screen readers — the figure's caption states the
// latest and highest value of each line in words.
import { useEffect, useRef, useState, type ReactNode } from 'react';
import type uPlot from 'uplot';
import type { ChartColumns } from '../lib/chart-data';
import { loadUplot } from './uplot-loader';
import styles from './time-series-chart.module.css';

export type ChartLine = {
  label: string;
  /** Stroke colour (AA-contrast on white, see tokens.css). */
  color: string;
  /** A dash pattern, so lines differ by more than colour. */
  dash?: number[];
};

const HEIGHT = 190;
const AXIS_COLOUR = '#4b5563'; // --color-text-muted
const GRID_COLOUR = '#e5e7eb';
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

/** Whether this browser can draw a uPlot chart (false in jsdom). */
export function canDrawCharts(): boolean {
  return (
    typeof window !== 'undefined' &&
    typeof window.matchMedia === 'function' &&
    typeof window.ResizeObserver === 'function'
  );
}

function percentValue(_: uPlot, value: number | null): string {
  return value === null || value === undefined ? '—' : `${Math.round(value)}%`;
}

/** The last point where any line has a value. */
function lastIndexWithData(data: uPlot.AlignedData): number | null {
  const times = data[0];
  for (let i = times.length - 1; i >= 0; i--) {
    if (data.slice(1).some((column) => column[i] !== null && column[i] !== undefined)) return i;
  }
  return null;
}

/** Out of the chart the legend shows the latest values instead of dashes. */
function showLatestWhenIdle(chart: uPlot) {
  if (chart.legend.idx !== null && chart.legend.idx !== undefined) return;
  const last = lastIndexWithData(chart.data);
  if (last !== null) chart.setLegend({ idx: last }, false);
}

function options(width: number, lines: readonly ChartLine[]): uPlot.Options {
  return {
    width,
    height: HEIGHT,
    padding: [8, 12, 0, 0],
    cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 6 } },
    legend: { show: true, live: true },
    hooks: { ready: [showLatestWhenIdle], setLegend: [showLatestWhenIdle] },
    scales: { x: { time: true }, y: { range: [0, 100] } },
    axes: [
      { stroke: AXIS_COLOUR, font: FONT, grid: { stroke: GRID_COLOUR, width: 1 }, ticks: { stroke: GRID_COLOUR, width: 1 } },
      {
        stroke: AXIS_COLOUR,
        font: FONT,
        size: 44,
        splits: () => [0, 25, 50, 75, 100],
        values: (_, splits) => splits.map((v) => `${v}%`),
        grid: { stroke: GRID_COLOUR, width: 1 },
        ticks: { show: false },
      },
    ],
    series: [
      {},
      ...lines.map((line) => ({
        label: line.label,
        stroke: line.color,
        width: 2,
        dash: line.dash,
        spanGaps: false,
        points: { show: false },
        value: percentValue,
      })),
    ],
  };
}

function aligned(columns: ChartColumns): uPlot.AlignedData {
  return [columns.times, ...columns.values];
}

/**
 * A percentage time-series chart (0–100 %). Pass a caption that states the values in words:
 * it is the chart for screen readers and for browsers that cannot draw one.
 */
export function TimeSeriesChart({
  columns,
  lines,
  caption,
  label,
}: {
  columns: ChartColumns;
  lines: readonly ChartLine[];
  caption: ReactNode;
  label: string;
}) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const latest = useRef(columns);
  latest.current = columns;
  const [drawable] = useState(canDrawCharts);
  const [failed, setFailed] = useState(false);

  // Create the chart once per set of lines; later data goes in through setData below.
  useEffect(() => {
    const element = container.current;
    if (!drawable || !element) return;
    let disposed = false;
    let observer: ResizeObserver | undefined;
    loadUplot()
      .then((UPlot) => {
        if (disposed) return;
        const chart = new UPlot(options(Math.max(element.clientWidth, 200), lines), aligned(latest.current), element);
        plot.current = chart;
        observer = new ResizeObserver(() => {
          const width = Math.max(element.clientWidth, 200);
          if (width !== chart.width) chart.setSize({ width, height: HEIGHT });
        });
        observer.observe(element);
      })
      .catch(() => {
        if (!disposed) setFailed(true);
      });
    return () => {
      disposed = true;
      observer?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [drawable, lines]);

  useEffect(() => {
    plot.current?.setData(aligned(columns));
  }, [columns]);

  const draws = drawable && !failed;
  return (
    <figure className={styles.figure} aria-label={label}>
      {draws ? <div ref={container} className={styles.plot} aria-hidden="true" data-testid="chart-canvas" /> : null}
      <figcaption className={styles.caption}>{caption}</figcaption>
    </figure>
  );
}

import { render, screen } from '@testing-library/react';
import { beforeEach, describe, expect, it, vi } from 'vitest';

const loadUplot = vi.hoisted(() => vi.fn());
vi.mock('../uplot-loader', () => ({ loadUplot }));

// The test files share one module graph (Vitest runs them without isolation): another file may have loaded the chart
// with the real loader, so it is loaded again here, after the mock.
async function chartModule() {
  vi.resetModules();
  return import('../time-series-chart');
}

const columns = { times: [1, 2, 3], values: [[10, null, 30], [50, 55, 52]] };
const lines = [{ label: 'CPU', color: '#1d4ed8' }, { label: 'Memory', color: '#7e22ce', dash: [6, 3] }];

describe('TimeSeriesChart', () => {
  // The mock is the file's, not a test's: each test starts with no calls recorded (the tests run in any order).
  beforeEach(() => loadUplot.mockReset());

  it('in jsdom (no canvas, no matchMedia) shows only the caption and never loads uPlot', async () => {
    const { TimeSeriesChart, canDrawCharts } = await chartModule();
    expect(canDrawCharts()).toBe(false);

    render(<TimeSeriesChart columns={columns} lines={lines} label="CPU and memory" caption="CPU now 30%" />);

    expect(screen.getByRole('figure', { name: 'CPU and memory' })).toHaveTextContent('CPU now 30%');
    expect(screen.queryByTestId('chart-canvas')).not.toBeInTheDocument();
    expect(loadUplot).not.toHaveBeenCalled();
  });

  it('where charts can be drawn, builds a uPlot with the columns, feeds it new data, and destroys it', async () => {
    const { TimeSeriesChart } = await chartModule();
    vi.stubGlobal('matchMedia', vi.fn());
    vi.stubGlobal(
      'ResizeObserver',
      class {
        observe() {}
        disconnect() {}
      },
    );
    const instance = { width: 400, setData: vi.fn(), setSize: vi.fn(), destroy: vi.fn() };
    const constructed: unknown[][] = [];
    loadUplot.mockResolvedValue(
      vi.fn(function construct(this: unknown, ...args: unknown[]) {
        constructed.push(args);
        return instance;
      }),
    );

    const { rerender, unmount } = render(
      <TimeSeriesChart columns={columns} lines={lines} label="CPU and memory" caption="CPU now 30%" />,
    );

    expect(screen.getByTestId('chart-canvas')).toHaveAttribute('aria-hidden', 'true');
    await vi.waitFor(() => expect(constructed).toHaveLength(1));
    const [options, data, target] = constructed[0] as [{ series: { label?: string }[]; scales: unknown }, unknown, unknown];
    expect(options.series.map((s) => s.label)).toEqual([undefined, 'CPU', 'Memory']);
    expect(options.scales).toMatchObject({ y: { range: [0, 100] } });
    expect(data).toEqual([[1, 2, 3], [10, null, 30], [50, 55, 52]]);
    expect(target).toBe(screen.getByTestId('chart-canvas'));

    const next = { times: [4], values: [[20], [40]] };
    rerender(<TimeSeriesChart columns={next} lines={lines} label="CPU and memory" caption="CPU now 20%" />);
    expect(instance.setData).toHaveBeenCalledWith([[4], [20], [40]]);

    unmount();
    expect(instance.destroy).toHaveBeenCalled();
  });
});

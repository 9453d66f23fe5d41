import { act, render, screen } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { formatAbsolute } from '@/shared/lib/format';
import { UpdatedIndicator } from '../updated-indicator';

describe('UpdatedIndicator', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2026-11-25T14:00:03Z'));
  });

  afterEach(() => {
    vi.useRealTimers();
  });

  it('ticks every second and shows the absolute time on hover', () => {
    const asOf = '2026-11-25T14:00:00Z';

    render(<UpdatedIndicator asOf={asOf} />);

    const indicator = screen.getByTestId('updated-indicator');
    expect(indicator).toHaveTextContent('Updated 3 s ago');
    const time = screen.getByText('3 s ago');
    expect(time.tagName).toBe('TIME');
    expect(time).toHaveAttribute('dateTime', asOf);
    expect(time).toHaveAttribute('title', formatAbsolute(asOf));

    act(() => vi.advanceTimersByTime(1_000));
    expect(indicator).toHaveTextContent('Updated 4 s ago');

    act(() => vi.advanceTimersByTime(2_000));
    expect(indicator).toHaveTextContent('Updated 6 s ago');

    act(() => vi.advanceTimersByTime(60_000));
    expect(indicator).toHaveTextContent('Updated 1 min ago');
  });

  it('says "Data from" when the snapshot is stale', () => {
    render(<UpdatedIndicator asOf="2026-11-25T13:58:00Z" stale />);

    expect(screen.getByTestId('updated-indicator')).toHaveTextContent('Data from 2 min ago');
  });

  it('stops ticking when it is gone', () => {
    const { unmount } = render(<UpdatedIndicator asOf="2026-11-25T14:00:00Z" />);
    expect(vi.getTimerCount()).toBe(1);

    unmount();

    expect(vi.getTimerCount()).toBe(0);
  });
});

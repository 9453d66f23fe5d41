import { render, screen } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import type { AppHealth } from '@/shared/api';
import { AppHealthBadge } from '../app-health-badge';

function app(since: Date, state: AppHealth['state'] = 'up'): AppHealth {
  return { state, since: since.toISOString(), checkedAt: new Date().toISOString(), target: 'http://192.168.1.50:8091/', detail: 'HTTP 200' };
}

describe('AppHealthBadge', () => {
  it('says since when on a 24-hour clock today, whatever the locale', () => {
    const since = new Date();
    since.setHours(0, 37, 0, 0);

    render(<AppHealthBadge app={app(since)} />);

    const badge = screen.getByText(/^App up since/);
    expect(badge).toHaveTextContent('App up since 00:37');
    expect(badge.textContent).not.toMatch(/AM|PM/);
  });

  it('adds the day before today, still on a 24-hour clock', () => {
    const since = new Date();
    since.setDate(since.getDate() - 2);
    since.setHours(13, 5, 0, 0);

    render(<AppHealthBadge app={app(since, 'down')} />);

    const badge = screen.getByText(/^App down since/);
    expect(badge).toHaveTextContent(/13:05$/);
    expect(badge.textContent).not.toMatch(/AM|PM/);
    expect(badge.querySelector('time')).toHaveAttribute('dateTime', since.toISOString());
  });
});

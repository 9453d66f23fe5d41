import type { AppHealth } from '@/shared/api';
import { formatAbsolute, formatRelative } from '@/shared/lib/format';
import { useNow } from '@/shared/lib/use-now';
import { CheckCircleIcon, XCircleIcon } from './icons';
import { StatusBadge } from './status-badge';

// A 24-hour clock in every locale, as the schedules beside it are written ("daily at 21:38").
const clock = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const dayAndClock = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/** "14:02" today, "12 Jun, 14:02" before. */
function since(date: string, now: number): string {
  const then = new Date(date);
  return then.toDateString() === new Date(now).toDateString() ? clock.format(then) : dayAndClock.format(then);
}

/**
 * Whether a running guest's app answers, next to its running state: "App up since 09:12" (green),
 * or "App down since 14:02" (red); on hover, how long ago and what the probe saw ("connection
 * refused", "HTTP 502") where.
 */
export function AppHealthBadge({ app }: { app: AppHealth }) {
  const now = useNow(30_000);
  const up = app.state === 'up';
  const title = `App ${up ? 'answers' : 'does not answer'} at ${app.target} (${app.detail}); ${up ? 'up' : 'down'} since ${formatAbsolute(app.since)}, ${formatRelative(app.since, now)}`;
  return (
    <span title={title} data-app-state={app.state}>
      <StatusBadge tone={up ? 'success' : 'danger'} icon={up ? <CheckCircleIcon /> : <XCircleIcon />}>
        App {up ? 'up' : 'down'} since <time dateTime={app.since}>{since(app.since, now)}</time>
      </StatusBadge>
    </span>
  );
}

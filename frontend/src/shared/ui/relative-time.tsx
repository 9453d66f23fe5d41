import { formatAbsolute, formatRelative } from '@/shared/lib/format';
import { useNow } from '@/shared/lib/use-now';

/**
 * "2 min ago", ticking every second, with the absolute time on hover (`title`) and in
 * `dateTime` for machines.
 */
export function RelativeTime({ date, className }: { date: string | Date; className?: string }) {
  const now = useNow();
  const iso = date instanceof Date ? date.toISOString() : date;
  return (
    <time dateTime={iso} title={formatAbsolute(date)} className={className}>
      {formatRelative(date, now)}
    </time>
  );
}

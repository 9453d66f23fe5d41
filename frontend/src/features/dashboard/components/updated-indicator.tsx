import { ClockIcon } from '@/shared/ui/icons';
import { RelativeTime } from '@/shared/ui/relative-time';
import styles from './dashboard.module.css';

/**
 * "Updated 4 s ago", ticking every second, with the absolute time on hover. The age is that of
 * the snapshot (`asOf`, taken by the provisioner), so it keeps growing while refreshes fail.
 */
export function UpdatedIndicator({ asOf, stale = false }: { asOf: string; stale?: boolean }) {
  return (
    <p className={[styles.updated, stale ? styles.updatedStale : null].filter(Boolean).join(' ')} data-testid="updated-indicator">
      <ClockIcon />
      <span>
        {stale ? 'Data from ' : 'Updated '}
        <RelativeTime date={asOf} />
      </span>
    </p>
  );
}

import type { ReactNode } from 'react';
import styles from './status-badge.module.css';

/**
 * The status colours of the whole app (see the UX notes): success = running/active/valid,
 * info = starting/in progress, neutral = stopped, warning = needs attention, danger = failed.
 * Never colour alone: always pass an icon and a word.
 */
export type StatusTone = 'success' | 'info' | 'neutral' | 'warning' | 'danger';

export function StatusBadge({
  tone,
  icon,
  children,
}: {
  tone: StatusTone;
  icon?: ReactNode;
  children: ReactNode;
}) {
  return (
    <span className={`${styles.badge} ${styles[tone]}`} data-tone={tone}>
      {icon}
      <span>{children}</span>
    </span>
  );
}

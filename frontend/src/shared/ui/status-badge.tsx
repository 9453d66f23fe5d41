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

/** Badges side by side (a state and the app's health): wrapping, kept to the right of a card's title. */
export function BadgeGroup({ children }: { children: ReactNode }) {
  return <div className={styles.group}>{children}</div>;
}

import type { ReactNode } from 'react';
import styles from './panel-state.module.css';

/** Nothing to show yet: say so, and say what to do next. */
export function EmptyState({
  icon,
  title,
  children,
  action,
}: {
  icon?: ReactNode;
  title: string;
  children?: ReactNode;
  action?: ReactNode;
}) {
  return (
    <section className={styles.panel} aria-label={title}>
      {icon ? <div className={styles.icon}>{icon}</div> : null}
      <h2 className={styles.title}>{title}</h2>
      {children ? <div className={styles.body}>{children}</div> : null}
      {action ? <div className={styles.actions}>{action}</div> : null}
    </section>
  );
}

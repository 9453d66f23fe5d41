import type { ReactNode } from 'react';
import { Button } from './button';
import { AlertTriangleIcon, RefreshIcon } from './icons';
import styles from './panel-state.module.css';

/**
 * Something failed: what happened and what to do in plain words, a retry, and the technical
 * detail (HTTP status, problem details) one click away behind "Details".
 */
export function ErrorState({
  title,
  children,
  details,
  onRetry,
  retrying = false,
}: {
  title: string;
  children?: ReactNode;
  details?: string;
  onRetry?: () => void;
  retrying?: boolean;
}) {
  return (
    <section className={`${styles.panel} ${styles.danger}`} role="alert">
      <div className={styles.icon}>
        <AlertTriangleIcon width={24} height={24} />
      </div>
      <h2 className={styles.title}>{title}</h2>
      {children ? <div className={styles.body}>{children}</div> : null}
      {onRetry ? (
        <div className={styles.actions}>
          <Button variant="primary" onClick={onRetry} disabled={retrying}>
            <RefreshIcon />
            {retrying ? 'Retrying…' : 'Try again'}
          </Button>
        </div>
      ) : null}
      {details ? (
        <details className={styles.details}>
          <summary>Details</summary>
          <pre>{details}</pre>
        </details>
      ) : null}
    </section>
  );
}

import styles from './skeleton.module.css';

/**
 * A grey placeholder bar, purely visual: the caller announces loading in words.
 * Size it with a class (no inline styles, so a strict CSP needs no exceptions).
 */
export function Skeleton({ className }: { className?: string }) {
  return <span className={[styles.skeleton, className].filter(Boolean).join(' ')} aria-hidden="true" />;
}

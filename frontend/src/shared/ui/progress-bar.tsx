import styles from './progress-bar.module.css';
import type { StatusTone } from './status-badge';

/**
 * A progress bar in the status colours (blue while working, green when done, red when failed,
 * amber when it needs attention), exposed as an ARIA progressbar with its percent and what is
 * happening now. The bar is SVG sized by attributes, so a strict CSP needs no inline styles.
 */
export function ProgressBar({
  percent,
  tone = 'info',
  label,
  valueText,
}: {
  /** 0..100 */
  percent: number;
  tone?: StatusTone;
  /** The accessible name ("Progress of smith-zwavejs"). */
  label: string;
  /** What a screen reader hears besides the percent ("45%, Configuring"). */
  valueText?: string;
}) {
  const clamped = Math.max(0, Math.min(100, Math.round(percent)));
  return (
    <div
      className={`${styles.progress} ${styles[tone]}`}
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={clamped}
      aria-valuetext={valueText ?? `${clamped}%`}
      data-tone={tone}
    >
      <svg className={styles.bar} width="100%" height="100%" aria-hidden="true" focusable="false">
        <rect className={styles.track} x="0" y="0" width="100%" height="100%" rx="4" />
        {clamped > 0 ? <rect className={styles.fill} x="0" y="0" width={`${clamped}%`} height="100%" rx="4" /> : null}
      </svg>
    </div>
  );
}

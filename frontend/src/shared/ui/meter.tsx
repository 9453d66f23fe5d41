import type { ReactNode } from 'react';
import styles from './meter.module.css';

export type MeterLevel = 'normal' | 'warning' | 'danger';

/** Where a usage bar turns amber and red. */
export const DEFAULT_THRESHOLDS = { warning: 0.75, danger: 0.9 } as const;

const LEVEL_WORDS: Record<Exclude<MeterLevel, 'normal'>, string> = {
  warning: 'High',
  danger: 'Very high',
};

export function meterLevel(
  fraction: number | null,
  thresholds: { warning: number; danger: number } = DEFAULT_THRESHOLDS,
): MeterLevel {
  if (fraction === null) return 'normal';
  if (fraction >= thresholds.danger) return 'danger';
  if (fraction >= thresholds.warning) return 'warning';
  return 'normal';
}

/**
 * A usage gauge: label, value in words, and a bar. The bar is SVG sized by attributes (no
 * inline styles, so a strict CSP needs no exceptions); the colour changes with the level and a
 * word ("High") says the same, so colour is never alone. Exposed as an ARIA meter.
 */
export function Meter({
  label,
  fraction,
  value,
  detail,
  compact = false,
  thresholds,
  accessibleLabel,
  hideLabel = false,
}: {
  label: string;
  /** The meter's accessible name when the visible label is not unique on the page ("CPU of zigbee2mqtt"). */
  accessibleLabel?: string;
  /** Keep the label for screen readers only (when a heading above already says it). */
  hideLabel?: boolean;
  /** 0..1, or null when not known (the bar stays empty and the value says "—"). */
  fraction: number | null;
  /** The value as read: "12%", "3.2 / 7.6 GiB". */
  value: string;
  /** A second line under the bar ("4 CPUs"). */
  detail?: ReactNode;
  compact?: boolean;
  thresholds?: { warning: number; danger: number };
}) {
  const level = meterLevel(fraction, thresholds);
  const percent = fraction === null ? 0 : Math.round(fraction * 1000) / 10;
  const word = level === 'normal' ? null : LEVEL_WORDS[level];
  const valueText = [value, word].filter(Boolean).join(', ');
  return (
    <div
      className={[styles.meter, compact ? styles.compact : null, styles[level]].filter(Boolean).join(' ')}
      role="meter"
      aria-label={accessibleLabel ?? label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={fraction === null ? undefined : percent}
      aria-valuetext={valueText}
      data-level={level}
    >
      <div className={styles.head}>
        <span className={hideLabel ? 'visually-hidden' : styles.label}>{label}</span>
        <span className={styles.value}>
          {value}
          {word ? <span className={styles.word}>{word}</span> : null}
        </span>
      </div>
      <svg className={styles.bar} width="100%" height="100%" aria-hidden="true" focusable="false">
        <rect className={styles.track} x="0" y="0" width="100%" height="100%" rx="3" />
        {percent > 0 ? (
          <rect className={styles.fill} x="0" y="0" width={`${Math.max(percent, 1)}%`} height="100%" rx="3" />
        ) : null}
      </svg>
      {detail ? <div className={styles.detail}>{detail}</div> : null}
    </div>
  );
}

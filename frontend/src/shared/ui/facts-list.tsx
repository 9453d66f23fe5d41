import type { ReactNode } from 'react';
import styles from './facts-list.module.css';

export type Fact = {
  term: string;
  value: ReactNode;
  /** Takes the whole line in the two-column layout (a MAC address, a long URL). */
  wide?: boolean;
  /** Addresses, ids, fingerprints: monospace. */
  mono?: boolean;
  testId?: string;
};

export type FactsLayout = 'row' | 'columns' | 'auto' | 'stack';

/**
 * Key/value facts as a description list (`<dl>`; each pair in a `<div>`, as HTML allows), so a
 * screen reader announces each value with its term. Falsy entries are skipped, for facts that
 * only sometimes apply.
 */
export function FactsList({
  facts,
  layout = 'columns',
  label,
}: {
  facts: readonly (Fact | false | null | undefined)[];
  layout?: FactsLayout;
  label?: string;
}) {
  const shown = facts.filter((fact): fact is Fact => Boolean(fact));
  if (shown.length === 0) return null;
  return (
    <dl className={`${styles.facts} ${styles[layout]}`} aria-label={label}>
      {shown.map((fact) => (
        <div key={fact.term} className={fact.wide ? styles.wide : undefined}>
          <dt>{fact.term}</dt>
          <dd className={fact.mono ? styles.mono : undefined} data-testid={fact.testId}>
            {fact.value}
          </dd>
        </div>
      ))}
    </dl>
  );
}

/** A value that is not known (yet): lighter than a real value, in words. */
export function MissingFact({ children }: { children: ReactNode }) {
  return <span className={styles.muted}>{children}</span>;
}

import type { ManifestError } from '@/shared/api';
import { VisuallyHidden } from '@/shared/ui/visually-hidden';
import styles from './releases.module.css';

export function formatLocation(error: ManifestError): string {
  return `${error.file}:${error.line}:${error.column}`;
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/**
 * The problems of an invalid manifest (or, with `warnings`, what a valid one should make an operator think about),
 * as `file:line:column path — message`, behind "Details".
 */
export function ManifestErrors({ release, errors, warnings = false }: { release: string; errors: ManifestError[]; warnings?: boolean }) {
  return (
    <details className={`${styles.errors} ${warnings ? styles.warnings : ''}`} data-tone={warnings ? 'warning' : 'danger'}>
      <summary>
        Details
        <span className={styles.errorsCount}> · {plural(errors.length, warnings ? 'warning' : 'problem')}</span>
        <VisuallyHidden> in release {release}</VisuallyHidden>
      </summary>
      {errors.length === 0 ? (
        <p className={styles.errorsEmpty}>The manifest is invalid but no problem was reported.</p>
      ) : (
        <ul className={styles.errorList}>
          {errors.map((error, index) => (
            <li key={`${formatLocation(error)}-${index}`}>
              <code className={styles.errorLocation}>{formatLocation(error)}</code>{' '}
              {error.path ? <code className={styles.errorPath}>{error.path}</code> : null}
              {' — '}
              <span>{error.message}</span>
            </li>
          ))}
        </ul>
      )}
    </details>
  );
}

import { Fragment, type ReactNode } from 'react';
import type { ReleaseSummary } from '@/shared/api';
import { StarIcon } from '@/shared/ui/icons';
import { Skeleton } from '@/shared/ui/skeleton';
import { StatusBadge } from '@/shared/ui/status-badge';
import { VisuallyHidden } from '@/shared/ui/visually-hidden';
import { ManifestErrors } from './manifest-errors';
import { ValidityBadge } from './validity-badge';
import styles from './releases.module.css';

const COLUMNS = 6;

function TableFrame({ children, busy = false }: { children: ReactNode; busy?: boolean }) {
  return (
    <div className={styles.tableWrap}>
      <table className={styles.table} aria-busy={busy || undefined}>
        <caption className="visually-hidden">Release manifests in releases/</caption>
        <thead>
          <tr>
            <th scope="col">Release</th>
            <th scope="col">Status</th>
            <th scope="col">Active</th>
            <th scope="col">Community scripts</th>
            <th scope="col">Proxmox VE</th>
            <th scope="col" className={styles.numeric}>
              Templates
            </th>
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}

function NotSet() {
  return (
    <span className={styles.muted}>
      <span aria-hidden="true">—</span>
      <VisuallyHidden>not set</VisuallyHidden>
    </span>
  );
}

const COMMIT_SHA = /^[0-9a-f]{40}$/i;

/** A tag shows as is; a 40-hex commit shows its first 12 digits (the whole one on hover). */
function ScriptsRef({ value }: { value: string }) {
  if (!COMMIT_SHA.test(value)) return <code>{value}</code>;
  return (
    <code title={value}>
      {value.slice(0, 12)}
      <VisuallyHidden>{value.slice(12)}</VisuallyHidden>
    </code>
  );
}

export function ReleasesTable({ releases }: { releases: ReleaseSummary[] }) {
  return (
    <TableFrame>
      {releases.map((release) => (
        <Fragment key={release.file}>
          <tr className={release.valid ? undefined : styles.invalidRow} data-release={release.name}>
            <th scope="row" className={styles.releaseCell}>
              <span className={styles.releaseName}>{release.name}</span>{' '}
              <span className={styles.releaseFile}>{release.file}</span>
            </th>
            <td>
              <ValidityBadge valid={release.valid} />
            </td>
            <td>
              {release.active ? (
                <StatusBadge tone="success" icon={<StarIcon />}>
                  Active
                </StatusBadge>
              ) : (
                <span className={styles.muted}>
                  <span aria-hidden="true">—</span>
                  <VisuallyHidden>not active</VisuallyHidden>
                </span>
              )}
            </td>
            <td>{release.communityScriptsRef ? <ScriptsRef value={release.communityScriptsRef} /> : <NotSet />}</td>
            <td>{release.proxmoxMinVersion ? `${release.proxmoxMinVersion} or later` : <NotSet />}</td>
            <td className={styles.numeric}>{release.templateCount}</td>
          </tr>
          {release.valid ? null : (
            <tr className={styles.errorsRow}>
              <td colSpan={COLUMNS}>
                <ManifestErrors release={release.name} errors={release.errors} />
              </td>
            </tr>
          )}
        </Fragment>
      ))}
    </TableFrame>
  );
}

export function ReleasesTableSkeleton({ rows = 3 }: { rows?: number }) {
  return (
    <>
      <p role="status" className="visually-hidden">
        Loading releases…
      </p>
      <TableFrame busy>
        {Array.from({ length: rows }, (_, row) => (
          <tr key={row} data-testid="release-skeleton-row">
            <td>
              <Skeleton className={styles.skeletonName} />
              <Skeleton className={styles.skeletonFile} />
            </td>
            <td>
              <Skeleton className={styles.skeletonBadge} />
            </td>
            <td>
              <Skeleton className={styles.skeletonBadge} />
            </td>
            <td>
              <Skeleton className={styles.skeletonText} />
            </td>
            <td>
              <Skeleton className={styles.skeletonText} />
            </td>
            <td className={styles.numeric}>
              <Skeleton className={styles.skeletonNumber} />
            </td>
          </tr>
        ))}
      </TableFrame>
    </>
  );
}

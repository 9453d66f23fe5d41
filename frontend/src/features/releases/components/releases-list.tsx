import { Button } from '@/shared/ui/button';
import { EmptyState } from '@/shared/ui/empty-state';
import { QueryError } from '@/shared/ui/query-error';
import { AlertTriangleIcon, FolderIcon, RefreshIcon } from '@/shared/ui/icons';
import { useReleases } from '../api/get-releases';
import { plural } from './manifest-errors';
import { ReleasesTable, ReleasesTableSkeleton, type BuildActions } from './releases-table';
import styles from './releases.module.css';

/** The releases table: loading, error, empty and list states of GET /api/releases; "Build" when `build` allows. */
export function ReleasesList({
  build,
  canUploadBaseBackup = false,
  canRemoveTemplates = false,
}: { build?: BuildActions; canUploadBaseBackup?: boolean; canRemoveTemplates?: boolean } = {}) {
  const query = useReleases();

  if (query.isPending) return <ReleasesTableSkeleton />;

  if (query.isError && query.data === undefined) {
    return <QueryError title="Could not load the releases" query={query} />;
  }

  const releases = query.data ?? [];

  if (releases.length === 0) {
    return (
      <EmptyState
        icon={<FolderIcon width={24} height={24} />}
        title="No release files found in releases/"
        action={
          <Button onClick={() => void query.refetch()} disabled={query.isFetching}>
            <RefreshIcon />
            {query.isFetching ? 'Checking…' : 'Check again'}
          </Button>
        }
      >
        <p>
          Put a release manifest such as <code>2026.06.yaml</code> in the <code>releases/</code>{' '}
          folder of the provisioner, then check again.
        </p>
      </EmptyState>
    );
  }

  const invalid = releases.filter((release) => !release.valid).length;

  return (
    <div className={styles.stack}>
      {query.isError ? (
        <p className={styles.notice} role="status">
          <AlertTriangleIcon />
          Could not refresh the list; showing the last one loaded.
        </p>
      ) : null}
      <p className={styles.summary}>
        {plural(releases.length, 'release')}
        {invalid > 0 ? (
          <>
            {' · '}
            <strong className={styles.summaryProblem}>{invalid} with problems</strong> — open
            “Details” under a release to see what to fix in its file.
          </>
        ) : null}
      </p>
      <ReleasesTable
        releases={releases}
        canUploadBaseBackup={canUploadBaseBackup}
        canRemoveTemplates={canRemoveTemplates}
        {...(build ? { build } : {})}
      />
    </div>
  );
}

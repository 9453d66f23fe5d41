import { ApiError } from '@/shared/api';
import { Button } from '@/shared/ui/button';
import { EmptyState } from '@/shared/ui/empty-state';
import { ErrorState } from '@/shared/ui/error-state';
import { AlertTriangleIcon, FolderIcon, RefreshIcon } from '@/shared/ui/icons';
import { useReleases } from '../api/get-releases';
import { plural } from './manifest-errors';
import { ReleasesTable, ReleasesTableSkeleton, type BuildActions } from './releases-table';
import styles from './releases.module.css';

function explain(error: Error): { message: string; details: string } {
  if (error instanceof ApiError) {
    const message = {
      network:
        'The provisioner did not answer. Check that it is running and that this device can reach it, then try again.',
      unreadable:
        'The provisioner answered with something this page cannot read: it may be an older version, or another page is in the way. Try again; if it keeps happening, send the details below to whoever looks after this provisioner.',
      http: `The provisioner answered with an error (HTTP ${error.status}). Try again; if it keeps happening, send the details below to whoever looks after this provisioner.`,
    }[error.reason];
    return { message, details: error.technicalSummary };
  }
  return { message: 'Something unexpected went wrong. Try again.', details: error.message };
}

/** The releases table: loading, error, empty and list states of GET /api/releases; "Build" when `build` allows. */
export function ReleasesList({ build, canUploadBaseBackup = false }: { build?: BuildActions; canUploadBaseBackup?: boolean } = {}) {
  const query = useReleases();

  if (query.isPending) return <ReleasesTableSkeleton />;

  if (query.isError && query.data === undefined) {
    const { message, details } = explain(query.error);
    return (
      <ErrorState
        title="Could not load the releases"
        details={details}
        onRetry={() => void query.refetch()}
        retrying={query.isFetching}
      >
        <p>{message}</p>
      </ErrorState>
    );
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
      <ReleasesTable releases={releases} canUploadBaseBackup={canUploadBaseBackup} {...(build ? { build } : {})} />
    </div>
  );
}

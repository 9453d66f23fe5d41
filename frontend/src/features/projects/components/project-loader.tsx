import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { ApiError, type Project } from '@/shared/api';
import { EmptyState } from '@/shared/ui/empty-state';
import { QueryError } from '@/shared/ui/query-error';
import { Skeleton } from '@/shared/ui/skeleton';
import { useProject } from '../api/get-project';
import styles from './projects.module.css';

/** Loads a project and hands it to `children`; says so while loading, when it does not exist, or when it failed. */
export function ProjectLoader({
  id,
  projectsHref,
  children,
}: {
  id: number;
  projectsHref: string;
  children: (project: Project) => ReactNode;
}) {
  const query = useProject({ id });
  if (query.isPending) {
    return (
      <div className={styles.loading} aria-busy="true">
        <p role="status">Loading the project…</p>
        <Skeleton className={styles.skeletonTitle} />
        <Skeleton />
      </div>
    );
  }
  if (query.isError) {
    if (query.error instanceof ApiError && query.error.status === 404) {
      return (
        <EmptyState title="This project does not exist">
          <p>
            It may have been removed, or the address is mistyped. See all <Link to={projectsHref}>projects</Link>.
          </p>
        </EmptyState>
      );
    }
    return (
      <QueryError title="Could not load the project" query={query}>
        <p>Check this device's network connection to the provisioner, then try again.</p>
      </QueryError>
    );
  }
  return <>{children(query.data)}</>;
}

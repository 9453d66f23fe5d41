import { useMemo } from 'react';
import { ApiError, type DashboardSnapshot } from '@/shared/api';
import { plural } from '@/shared/lib/format';
import { ErrorState } from '@/shared/ui/error-state';
import { StarIcon } from '@/shared/ui/icons';
import { Skeleton } from '@/shared/ui/skeleton';
import { StatusBadge } from '@/shared/ui/status-badge';
import { useDashboard } from '../api/get-dashboard';
import { collectAlerts } from '../lib/alerts';
import { AttentionList, RefreshFailedBanner, SimulatedBanner, StaleBanner } from './dashboard-banners';
import { OtherGuests, ProjectGroups } from './guest-groups';
import { NodeCard } from './node-card';
import { TemplatesList } from './templates-list';
import { UpdatedIndicator } from './updated-indicator';
import styles from './dashboard.module.css';

/** Ends a sentence taken from the server with a full stop, so the next one reads as a new sentence. */
function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function explain(error: Error): { title: string; message: string; details: string } {
  if (error instanceof ApiError) {
    if (error.reason === 'http' && error.status === 503) {
      return {
        title: 'Proxmox cannot be reached',
        message: `${sentence(error.problem?.detail ?? 'The provisioner has no data from Proxmox yet')} Check that the Proxmox host is on and that the provisioner can reach it. This page keeps trying every few seconds.`,
        details: error.technicalSummary,
      };
    }
    const message = {
      network:
        'The provisioner did not answer. Check that it is running and that this device can reach it, then try again.',
      unreadable:
        'The provisioner answered with something this page cannot read: it may be an older version, or another page is in the way. Try again; if it keeps happening, send the details below to whoever looks after this provisioner.',
      http: `The provisioner answered with an error (HTTP ${error.status}). Try again; if it keeps happening, send the details below to whoever looks after this provisioner.`,
    }[error.reason];
    return { title: 'Could not load the dashboard', message, details: error.technicalSummary };
  }
  return { title: 'Could not load the dashboard', message: 'Something unexpected went wrong. Try again.', details: error.message };
}

function DashboardSkeleton() {
  return (
    <div className={styles.page} aria-busy="true">
      <p role="status" className="visually-hidden">
        Loading the dashboard…
      </p>
      <div className={styles.nodeGrid}>
        <div className={`${styles.card} ${styles.skeletonCard}`} data-testid="dashboard-skeleton">
          <Skeleton className={styles.skeletonTitle} />
          <Skeleton />
          <Skeleton />
          <Skeleton />
        </div>
      </div>
      <div className={styles.guestGrid}>
        {[0, 1, 2].map((key) => (
          <div key={key} className={`${styles.card} ${styles.skeletonCard}`}>
            <Skeleton className={styles.skeletonTitle} />
            <Skeleton />
            <Skeleton />
          </div>
        ))}
      </div>
    </div>
  );
}

function HostSection({ snapshot }: { snapshot: DashboardSnapshot }) {
  return (
    <section className={styles.section} aria-labelledby="host-title">
      <div className={styles.sectionHead}>
        <h2 id="host-title" className={styles.sectionTitle}>
          Host
        </h2>
        <span className={styles.count}>{plural(snapshot.nodes.length, 'node')}</span>
      </div>
      {snapshot.nodes.length === 0 ? (
        <p className={styles.muted}>Proxmox reports no nodes.</p>
      ) : (
        <div className={styles.nodeGrid}>
          {snapshot.nodes.map((node) => (
            <NodeCard key={node.node} node={node} />
          ))}
        </div>
      )}
    </section>
  );
}

/** The page header's right side: active release and data age. */
export function DashboardStatusLine({ snapshot }: { snapshot: DashboardSnapshot }) {
  return (
    <div className={styles.statusLine}>
      {snapshot.activeRelease ? (
        <StatusBadge tone="success" icon={<StarIcon />}>
          Release {snapshot.activeRelease}
        </StatusBadge>
      ) : null}
      <UpdatedIndicator asOf={snapshot.asOf} stale={snapshot.stale} />
    </div>
  );
}

function DashboardView({
  snapshot,
  refreshFailed,
  releasesHref,
}: {
  snapshot: DashboardSnapshot;
  refreshFailed: boolean;
  releasesHref: string;
}) {
  const alerts = useMemo(() => collectAlerts(snapshot), [snapshot]);
  return (
    <div className={styles.page}>
      {snapshot.simulated ? <SimulatedBanner /> : null}
      <div className={styles.pageHead}>
        <div>
          <h1 className={styles.pageTitle}>Dashboard</h1>
          <p className={styles.pageDescription}>Host health, the active release and every project’s guests.</p>
        </div>
        <DashboardStatusLine snapshot={snapshot} />
      </div>
      {refreshFailed ? <RefreshFailedBanner snapshot={snapshot} /> : null}
      {snapshot.stale ? <StaleBanner snapshot={snapshot} /> : null}
      <AttentionList alerts={alerts} releasesHref={releasesHref} />
      <HostSection snapshot={snapshot} />
      <ProjectGroups projects={snapshot.projects} />
      <OtherGuests guests={snapshot.otherGuests} />
      <TemplatesList activeRelease={snapshot.activeRelease} templates={snapshot.templates} releasesHref={releasesHref} />
    </div>
  );
}

/**
 * The dealer's first screen: GET /api/dashboard every 5 s. Anything wrong is at the top
 * (simulated host, stale data, failed refresh, failed guests, slow storages, missing templates).
 * `releasesHref` is where the Releases page lives (features do not know the app's routes).
 */
export function Dashboard({ releasesHref }: { releasesHref: string }) {
  const query = useDashboard();

  if (query.isPending) {
    return (
      <div className={styles.page}>
        <h1 className={styles.pageTitle}>Dashboard</h1>
        <DashboardSkeleton />
      </div>
    );
  }

  if (query.isError && query.data === undefined) {
    const { title, message, details } = explain(query.error);
    return (
      <div className={styles.page}>
        <h1 className={styles.pageTitle}>Dashboard</h1>
        <ErrorState title={title} details={details} onRetry={() => void query.refetch()} retrying={query.isFetching}>
          <p>{message}</p>
        </ErrorState>
      </div>
    );
  }

  return <DashboardView snapshot={query.data} refreshFailed={query.isError} releasesHref={releasesHref} />;
}

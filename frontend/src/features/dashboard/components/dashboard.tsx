import { useMemo } from 'react';
import { ApiError, type DashboardSnapshot } from '@/shared/api';
import { plural } from '@/shared/lib/format';
import { QueryError } from '@/shared/ui/query-error';
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

/** 503: the provisioner is up but has never reached Proxmox; say so in its own words. */
function proxmoxUnreachable(error: Error): string | undefined {
  if (!(error instanceof ApiError) || error.reason !== 'http' || error.status !== 503) return undefined;
  return `${sentence(error.problem?.detail ?? 'The provisioner has no data from Proxmox yet')} Check that the Proxmox host is on and that the provisioner can reach it. This page keeps trying every few seconds.`;
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
    const unreachable = proxmoxUnreachable(query.error);
    return (
      <div className={styles.page}>
        <h1 className={styles.pageTitle}>Dashboard</h1>
        <QueryError title={unreachable ? 'Proxmox cannot be reached' : 'Could not load the dashboard'} query={query}>
          {unreachable ? <p>{unreachable}</p> : undefined}
        </QueryError>
      </div>
    );
  }

  return <DashboardView snapshot={query.data} refreshFailed={query.isError} releasesHref={releasesHref} />;
}

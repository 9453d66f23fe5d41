import { Link } from 'react-router';
import type { DashboardSnapshot } from '@/shared/api';
import { AlertTriangleIcon, ClockIcon, FlaskIcon, XCircleIcon } from '@/shared/ui/icons';
import { RelativeTime } from '@/shared/ui/relative-time';
import { guestAnchorId, type DashboardAlert } from '../lib/alerts';
import styles from './dashboard.module.css';

/** Demo mode: persistent and unmistakable, never mistaken for a status colour. */
export function SimulatedBanner() {
  return (
    <div className={styles.simulated} role="note" aria-label="Simulated host">
      <FlaskIcon width={20} height={20} />
      <p>
        <strong>Simulated Proxmox host — nothing here touches real hardware</strong>
        <span className={styles.simulatedNote}>
          Demo mode: no Proxmox host is configured, so the provisioner runs against a built-in emulator.
        </span>
      </p>
    </div>
  );
}

/** Proxmox did not answer the latest poll: the numbers below are from the last one that worked. */
export function StaleBanner({ snapshot }: { snapshot: DashboardSnapshot }) {
  return (
    <section className={`${styles.banner} ${styles.bannerWarning}`} aria-labelledby="stale-title">
      <ClockIcon width={20} height={20} />
      <div>
        <h2 id="stale-title" className={styles.bannerTitle}>
          Data may be out of date
        </h2>
        <p>
          {snapshot.staleReason ?? 'Proxmox did not answer the latest request.'} Showing data from{' '}
          <RelativeTime date={snapshot.asOf} />; the dashboard keeps trying.
        </p>
      </div>
    </section>
  );
}

/** The provisioner itself did not answer the latest refresh (the last snapshot stays on screen). */
export function RefreshFailedBanner({ snapshot }: { snapshot: DashboardSnapshot }) {
  return (
    <section className={`${styles.banner} ${styles.bannerWarning}`} aria-labelledby="refresh-failed-title">
      <AlertTriangleIcon width={20} height={20} />
      <div>
        <h2 id="refresh-failed-title" className={styles.bannerTitle}>
          Could not reach the provisioner
        </h2>
        <p>
          Showing the last data received, from <RelativeTime date={snapshot.asOf} />. Check this device’s network;
          the dashboard keeps trying.
        </p>
      </div>
    </section>
  );
}

function AlertItem({ alert, releasesHref }: { alert: DashboardAlert; releasesHref: string }) {
  const Icon = alert.tone === 'danger' ? XCircleIcon : AlertTriangleIcon;
  return (
    <li className={`${styles.alert} ${alert.tone === 'danger' ? styles.alertDanger : styles.alertWarning}`} data-alert={alert.kind}>
      <Icon width={18} height={18} />
      <div>
        <p className={styles.alertTitle}>{alert.title}</p>
        <p className={styles.alertDetail}>
          {alert.detail}{' '}
          {alert.guestVmid !== undefined ? <a href={`#${guestAnchorId(alert.guestVmid)}`}>Go to its card</a> : null}
          {alert.kind === 'missing-template' ? <Link to={releasesHref}>Open the Releases page</Link> : null}
        </p>
      </div>
    </li>
  );
}

/** Everything wrong, worst first, at the top of the page. */
export function AttentionList({ alerts, releasesHref }: { alerts: readonly DashboardAlert[]; releasesHref: string }) {
  if (alerts.length === 0) return null;
  return (
    <section className={styles.attention} aria-labelledby="attention-title">
      <h2 id="attention-title" className={styles.attentionTitle}>
        Needs attention <span className={styles.count}>({alerts.length})</span>
      </h2>
      <ul className={styles.alerts}>
        {alerts.map((alert) => (
          <AlertItem key={alert.id} alert={alert} releasesHref={releasesHref} />
        ))}
      </ul>
    </section>
  );
}

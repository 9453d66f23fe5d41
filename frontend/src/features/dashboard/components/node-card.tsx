import type { NodeHealth, StorageHealth } from '@/shared/api';
import {
  formatDisk,
  formatDiskUsage,
  formatDuration,
  formatLoad,
  formatMemoryUsage,
  formatPercent,
  fractionOf,
  plural,
} from '@/shared/lib/format';
import { AlertTriangleIcon, CheckCircleIcon, HardDriveIcon, ServerIcon, XCircleIcon } from '@/shared/ui/icons';
import { Meter } from '@/shared/ui/meter';
import { StatusBadge } from '@/shared/ui/status-badge';
import { isSlowForDeploys } from '../lib/storage';
import { NodeHistory } from './metric-history';
import styles from './dashboard.module.css';
import { FactsList } from '@/shared/ui/facts-list';

function NodeStatus({ status }: { status: string }) {
  if (status === 'online') {
    return (
      <StatusBadge tone="success" icon={<CheckCircleIcon />}>
        Online
      </StatusBadge>
    );
  }
  return (
    <StatusBadge tone="danger" icon={<XCircleIcon />}>
      {status === 'offline' ? 'Offline' : `Status: ${status}`}
    </StatusBadge>
  );
}

function StorageRow({ storage }: { storage: StorageHealth }) {
  const slow = isSlowForDeploys(storage);
  const fraction = fractionOf(storage.used, storage.total);
  const label = `Storage ${storage.storage}`;
  return (
    <li className={styles.storage} data-storage={storage.storage}>
      <div className={styles.storageHead}>
        <span className={styles.storageName}>
          <HardDriveIcon />
          {storage.storage}
        </span>
        <span className={styles.storageMeta}>
          {storage.type}
          {storage.shared ? ' · shared' : null}
        </span>
      </div>
      {storage.total > 0 ? (
        <Meter
          compact
          hideLabel
          label={label}
          fraction={fraction}
          value={`${formatDiskUsage(storage.used, storage.total)} · ${formatPercent(fraction)}`}
          thresholds={{ warning: 0.8, danger: 0.9 }}
        />
      ) : (
        <p className={styles.muted}>Not available (inactive or not mounted)</p>
      )}
      {slow ? (
        <p className={styles.storageFlag}>
          <AlertTriangleIcon />
          No linked clones: deploys here are slow full copies
        </p>
      ) : null}
    </li>
  );
}

/** One Proxmox node: status, version, uptime, load, gauges, storages and history. */
export function NodeCard({ node }: { node: NodeHealth }) {
  const online = node.status === 'online';
  const memory = fractionOf(node.memUsed, node.memTotal);
  const root = fractionOf(node.rootUsed, node.rootTotal);
  const headingId = `node-${node.node}-title`;
  return (
    <article className={`${styles.card} ${styles.nodeCard}`} aria-labelledby={headingId} data-node={node.node}>
      <header className={styles.cardHead}>
        <h3 id={headingId} className={styles.cardTitle}>
          <ServerIcon width={20} height={20} />
          {node.node}
        </h3>
        <NodeStatus status={node.status} />
      </header>
      <FactsList
        layout="row"
        facts={[
          { term: 'Proxmox VE', value: node.pveVersion ?? '—' },
          { term: 'Uptime', value: online ? formatDuration(node.uptimeSeconds) : '—' },
          { term: 'Load (1, 5, 15 min)', value: formatLoad(node.loadAverage) },
        ]}
      />
      {online ? (
        <div className={styles.nodeBody}>
          <div className={styles.nodeGauges}>
            <Meter
              label="CPU"
              fraction={node.cpuFraction}
              value={formatPercent(node.cpuFraction)}
              detail={node.cpus > 0 ? plural(node.cpus, 'CPU') : undefined}
            />
            <Meter
              label="Memory"
              fraction={memory}
              value={formatMemoryUsage(node.memUsed, node.memTotal)}
              detail={`${formatPercent(memory)} used`}
            />
            <Meter
              label="Root disk"
              fraction={root}
              value={formatDiskUsage(node.rootUsed, node.rootTotal)}
              detail={`${formatPercent(root)} used · ${formatDisk(Math.max(0, node.rootTotal - node.rootUsed))} free`}
              thresholds={{ warning: 0.8, danger: 0.9 }}
            />
            {node.storages.length > 0 ? (
              <div className={styles.storages}>
                <h4 className={styles.subTitle}>Storages</h4>
                <ul className={styles.storageList}>
                  {node.storages.map((storage) => (
                    <StorageRow key={storage.storage} storage={storage} />
                  ))}
                </ul>
              </div>
            ) : null}
          </div>
          <NodeHistory node={node.node} />
        </div>
      ) : (
        <p className={styles.offlineNote}>
          Proxmox reports this node {node.status === 'offline' ? 'offline' : `as “${node.status}”`}: its
          numbers are not available until it is back.
        </p>
      )}
    </article>
  );
}

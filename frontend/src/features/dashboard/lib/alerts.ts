import type { DashboardSnapshot } from '@/shared/api';
import { isAppDown } from './guest-status';
import { isSlowForDeploys } from './storage';

/**
 * Something wrong that belongs at the top of the dashboard. `tone` is danger (red: failed,
 * offline) or warning (amber: works, but needs attention); red ones come first.
 */
export type DashboardAlert = {
  id: string;
  tone: 'danger' | 'warning';
  kind: 'node-offline' | 'slow-storage' | 'missing-template' | 'guest-failed' | 'guest-needs-binding' | 'app-down';
  title: string;
  detail: string;
  /** The guest card this is about (its element id is `guest-<vmid>`). */
  guestVmid?: number;
};

export function guestAnchorId(vmid: number): string {
  return `guest-${vmid}`;
}

export function collectAlerts(snapshot: DashboardSnapshot): DashboardAlert[] {
  const alerts: DashboardAlert[] = [];

  for (const node of snapshot.nodes) {
    if (node.status !== 'online') {
      alerts.push({
        id: `node-${node.node}`,
        tone: 'danger',
        kind: 'node-offline',
        title: `Node ${node.node} is ${node.status === 'offline' ? 'offline' : `reported as “${node.status}”`}`,
        detail: 'Its guests cannot be reached or deployed until it is back online.',
      });
    }
  }

  for (const project of snapshot.projects) {
    for (const guest of project.guests) {
      const state = guest.instanceState?.toLowerCase();
      if (state === 'failed') {
        alerts.push({
          id: `guest-failed-${guest.vmid}`,
          tone: 'danger',
          kind: 'guest-failed',
          title: `${guest.name} (${guest.vmid}) in ${project.name} failed`,
          detail: 'Open “Details” on its card for the reason.',
          guestVmid: guest.vmid,
        });
      } else if (state === 'active' && isAppDown(guest)) {
        alerts.push({
          id: `app-down-${guest.vmid}`,
          tone: 'danger',
          kind: 'app-down',
          title: `${guest.name} (${guest.vmid}) in ${project.name} runs, but its app does not answer`,
          detail: 'The guest is running; its app stopped answering. Open the app or restart the guest.',
          guestVmid: guest.vmid,
        });
      } else if (state === 'needs-binding') {
        alerts.push({
          id: `guest-binding-${guest.vmid}`,
          tone: 'warning',
          kind: 'guest-needs-binding',
          title: `${guest.name} (${guest.vmid}) in ${project.name} needs a USB device bound`,
          detail: 'It waits for its radio stick (Z-Wave or Zigbee) to be bound to it before it can work.',
          guestVmid: guest.vmid,
        });
      }
    }
  }

  // A shared storage shows up once per node: warn once, naming it once.
  const slow = new Map<string, string>();
  for (const node of snapshot.nodes) {
    for (const storage of node.storages) {
      if (isSlowForDeploys(storage) && !slow.has(storage.storage)) slow.set(storage.storage, storage.type);
    }
  }
  for (const [storage, type] of slow) {
    alerts.push({
      id: `storage-${storage}`,
      tone: 'warning',
      kind: 'slow-storage',
      title: `Deploys onto ${storage} will be slow full copies`,
      detail: `${storage} is a “${type}” storage, which cannot make linked clones of the templates. Use a thin-provisioned storage (LVM-thin, ZFS, Ceph RBD or Btrfs) for fast deploys.`,
    });
  }

  const release = snapshot.activeRelease ? `release ${snapshot.activeRelease}` : 'the active release';
  for (const template of snapshot.templates) {
    if (!template.present) {
      alerts.push({
        id: `template-${template.name}`,
        tone: 'warning',
        kind: 'missing-template',
        title: `Template ${template.name} (VMID ${template.vmid}) of ${release} is missing from Proxmox`,
        detail: `Deploys of ${template.name} will fail until the release is built again on the Releases page.`,
      });
    }
  }

  const rank = { danger: 0, warning: 1 } as const;
  return alerts.sort((a, b) => rank[a.tone] - rank[b.tone]);
}

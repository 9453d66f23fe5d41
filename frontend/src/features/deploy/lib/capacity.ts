// What the chosen components need against what the node has free.
import type { DashboardSnapshot, NodeHealth, SiteSettings, StorageHealth, TemplateState } from '@/shared/api';

const MIB = 1024 ** 2;
const GIB = 1024 ** 3;

/** The node guests go to: the project's, else the one holding the release's templates, else the first. */
export function targetNode(snapshot: DashboardSnapshot, settings: SiteSettings): NodeHealth | undefined {
  const byName = (name: string | null | undefined) => (name ? snapshot.nodes.find((n) => n.node === name) : undefined);
  return byName(settings.node) ?? byName(snapshot.templates[0]?.node) ?? snapshot.nodes[0];
}

function holdsGuestDisks(storage: StorageHealth): boolean {
  const content = storage.content.split(',').map((part) => part.trim()).filter(Boolean);
  return content.length === 0 || content.includes('images') || content.includes('rootdir');
}

/** The storage guests' disks go to: the project's, else local-lvm (the provisioner's default), else the first that holds guest disks. */
export function targetStorage(node: NodeHealth | undefined, settings: SiteSettings): StorageHealth | undefined {
  if (!node) return undefined;
  const candidates = node.storages.filter(holdsGuestDisks);
  return (
    (settings.storage ? node.storages.find((s) => s.storage === settings.storage) : undefined) ??
    candidates.find((s) => s.storage === 'local-lvm') ??
    candidates[0]
  );
}

export type Totals = { cpu: number; ramBytes: number; diskBytes: number; ramMiB: number; diskGb: number };

export function totalsOf(templates: readonly TemplateState[]): Totals {
  const cpu = templates.reduce((sum, t) => sum + t.resources.cpu, 0);
  const ramMiB = templates.reduce((sum, t) => sum + t.resources.ramMiB, 0);
  const diskGb = templates.reduce((sum, t) => sum + t.resources.diskGb, 0);
  // Proxmox sizes disks in GiB ("32G"): count them so, to err on the safe side.
  return { cpu, ramMiB, diskGb, ramBytes: ramMiB * MIB, diskBytes: diskGb * GIB };
}

export type Capacity = {
  ramFree: number | null;
  diskFree: number | null;
  ramOver: boolean;
  diskOver: boolean;
};

export function capacityFor(totals: Totals, node: NodeHealth | undefined, storage: StorageHealth | undefined): Capacity {
  const ramFree = node && node.memTotal > 0 ? Math.max(0, node.memTotal - node.memUsed) : null;
  const diskFree = storage && storage.total > 0 ? Math.max(0, storage.total - storage.used) : null;
  return {
    ramFree,
    diskFree,
    ramOver: ramFree !== null && totals.ramBytes > ramFree,
    diskOver: diskFree !== null && totals.diskBytes > diskFree,
  };
}

/** RAM in the manifest's MiB as people read it: "2 GiB", "512 MiB". */
export function formatRamMiB(mib: number): string {
  if (mib >= 1024) {
    const gib = mib / 1024;
    return `${Number.isInteger(gib) ? gib : gib.toFixed(1)} GiB`;
  }
  return `${mib} MiB`;
}

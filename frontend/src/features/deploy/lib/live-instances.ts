// Merges what the API said about a set of instances (GET /api/deploys/{id} or /api/projects/{id})
// with what the event stream said since (InstanceProgress), the newer of the two winning.
import type { Instance, InstanceProgress } from '@/shared/api';

/** An instance as shown live: the API's fields, with the step it last worked on (to say where it failed). */
export type LiveInstance = Instance & { lastWorkingState: string | null };

/** The latest progress per instance, with the last state that was not `failed`. */
export type ProgressMap = ReadonlyMap<number, InstanceProgress & { lastWorkingState: string | null }>;

function time(value: string): number {
  const t = Date.parse(value);
  return Number.isFinite(t) ? t : 0;
}

/** Applies events (a snapshot's items or one progress event) to the map; older news than held is ignored. */
export function applyProgress(map: ProgressMap, items: readonly InstanceProgress[]): ProgressMap {
  const next = new Map(map);
  for (const item of items) {
    const held = next.get(item.instanceId);
    if (held && time(held.at) > time(item.at)) continue;
    const lastWorkingState = item.state === 'failed' ? (held?.lastWorkingState ?? null) : item.state;
    next.set(item.instanceId, { ...item, lastWorkingState });
  }
  return next;
}

export function mergeInstances(base: readonly Instance[], progress: ProgressMap): LiveInstance[] {
  const merged = new Map<number, LiveInstance>();
  for (const instance of base) {
    const news = progress.get(instance.id);
    if (news && time(news.at) >= time(instance.updatedAt)) {
      merged.set(instance.id, {
        ...instance,
        state: news.state,
        percent: news.percent,
        message: news.message ?? null,
        error: news.error ?? null,
        // Under DHCP the orchestrator follows a guest to a new address: the stream carries it.
        ip: news.ip ?? instance.ip,
        appUrl: news.appUrl ?? instance.appUrl,
        // The API's upgrade offer was worked out for the state it read (an offer read while upgrading says "blocked");
        // on a new state it waits for the re-read that the state change asks for.
        upgrade: news.state === instance.state ? instance.upgrade : null,
        updatedAt: news.at,
        lastWorkingState: news.lastWorkingState,
      });
    } else {
      merged.set(instance.id, { ...instance, lastWorkingState: instance.state === 'failed' ? (news?.lastWorkingState ?? null) : instance.state });
    }
  }
  // Instances the API has not listed yet (an add-instance seen first on the stream).
  for (const news of progress.values()) {
    if (merged.has(news.instanceId)) continue;
    merged.set(news.instanceId, {
      id: news.instanceId,
      projectId: news.projectId,
      deployId: news.deployId ?? null,
      type: news.type,
      kind: news.type === 'ctrlable-pro' ? 'vm' : 'lxc',
      hostname: news.hostname,
      vmid: null,
      node: null,
      mac: null,
      ip: news.ip ?? null,
      state: news.state,
      percent: news.percent,
      release: null,
      cloneMode: null,
      message: news.message ?? null,
      error: news.error ?? null,
      createdAt: news.at,
      updatedAt: news.at,
      needsBinding: false,
      installedVersions: null,
      appUrl: news.appUrl ?? null,
      lastWorkingState: news.lastWorkingState,
    });
  }
  return [...merged.values()].sort((a, b) => a.type.localeCompare(b.type) || a.hostname.localeCompare(b.hostname));
}

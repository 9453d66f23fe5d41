import type { GuestCard } from '@/shared/api';
import { plural } from '@/shared/lib/format';
import type { StatusTone } from '@/shared/ui/status-badge';

/**
 * What a guest card says about its guest, in the app's status colours (UX notes):
 * running/active = success, starting/personalising = info (busy, with a spinner),
 * stopped = neutral, needs attention = warning, failed = danger.
 */
export type GuestStatus = {
  tone: StatusTone;
  /** The word on the badge: "Running", "Personalising", "Failed". */
  label: string;
  /** Work is under way (show a spinner). */
  busy: boolean;
};

/** Instance states that are not work in progress. Every other state (pending, cloning, personalising, …) is. */
const SETTLED_STATES = new Set(['active', 'failed', 'needs-binding', 'deleted']);

function capitalise(text: string): string {
  const words = text.replace(/[-_]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function guestStatus(guest: Pick<GuestCard, 'status' | 'lock' | 'instanceState'>): GuestStatus {
  const state = guest.instanceState?.toLowerCase() ?? null;
  if (state === 'failed') return { tone: 'danger', label: 'Failed', busy: false };
  if (state === 'needs-binding') return { tone: 'warning', label: 'Needs USB binding', busy: false };
  if (state !== null && !SETTLED_STATES.has(state)) return { tone: 'info', label: capitalise(state), busy: true };
  // A Proxmox lock means a clone, backup, migration or snapshot is running on the guest.
  if (guest.lock) return { tone: 'info', label: `Busy: ${guest.lock}`, busy: true };
  switch (guest.status) {
    case 'running':
      return { tone: 'success', label: 'Running', busy: false };
    case 'stopped':
      return { tone: 'neutral', label: 'Stopped', busy: false };
    case 'paused':
    case 'suspended':
      return { tone: 'neutral', label: capitalise(guest.status), busy: false };
    default:
      return { tone: 'warning', label: 'Status unknown', busy: false };
  }
}

/** A running guest whose app does not answer (the shared poller's probe, SPEC §7f): red at a glance. */
export function isAppDown(guest: Pick<GuestCard, 'status' | 'app'>): boolean {
  return guest.status === 'running' && guest.app?.state === 'down';
}

/** Worst first: the tone a group takes when any of its guests has it. */
const SEVERITY: readonly StatusTone[] = ['danger', 'warning', 'info', 'neutral', 'success'];

const GROUP_WORDS: Record<StatusTone, string> = {
  danger: 'failed',
  warning: 'need attention',
  info: 'in progress',
  neutral: 'stopped',
  success: 'running',
};

export type GroupHealth = { tone: StatusTone; label: string };

/**
 * A project's overall health: the worst tone among its guests and the count per tone, worst first. A running guest
 * whose app is down counts as "app down" (danger), not as running.
 */
export function groupHealth(guests: readonly Pick<GuestCard, 'status' | 'lock' | 'instanceState' | 'app'>[]): GroupHealth {
  if (guests.length === 0) return { tone: 'neutral', label: 'No guests' };
  const counts = new Map<StatusTone, number>();
  let appsDown = 0;
  for (const guest of guests) {
    const { tone } = guestStatus(guest);
    if (tone === 'success' && isAppDown(guest)) {
      appsDown += 1;
      continue;
    }
    counts.set(tone, (counts.get(tone) ?? 0) + 1);
  }
  const present = SEVERITY.filter((tone) => counts.has(tone));
  const worst = appsDown > 0 ? 'danger' : (present[0] ?? 'neutral');
  if (appsDown === 0 && present.length === 1 && worst === 'success') {
    return { tone: 'success', label: guests.length === 1 ? 'Running' : `All ${guests.length} running` };
  }
  const parts = present.map((tone) => {
    const count = counts.get(tone) ?? 0;
    const word = tone === 'warning' && count === 1 ? 'needs attention' : GROUP_WORDS[tone];
    return `${count} ${word}`;
  });
  if (appsDown > 0) parts.splice(counts.has('danger') ? 1 : 0, 0, `${appsDown} app down`);
  return { tone: worst, label: parts.join(' · ') };
}

export function guestCountLabel(count: number): string {
  return plural(count, 'guest');
}

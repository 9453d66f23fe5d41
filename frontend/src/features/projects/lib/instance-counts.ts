import type { Instance, SiteSettings } from '@/shared/api';
import { isInProgress, needsUsbBinding } from '@/shared/lib/instances';
import type { StatusTone } from '@/shared/ui/status-badge';

/** States in which the guest has been started (a USB binding can be made now). */
const AFTER_START = new Set(['waiting', 'personalising', 'active', 'needs-binding']);

export type StateCount = { tone: StatusTone; count: number; label: string };

/**
 * A project's instances counted by what they need from the dealer, worst first:
 * failed (red), needs a USB binding (amber), in progress (blue), active (green).
 */
export function instanceCounts(instances: readonly Instance[], settings: SiteSettings): StateCount[] {
  let failed = 0;
  let binding = 0;
  let busy = 0;
  let active = 0;
  let other = 0;
  for (const instance of instances) {
    if (instance.state === 'deleted') continue;
    if (instance.state === 'failed') failed += 1;
    // Flagged as soon as the guest exists and runs: the binding is the dealer's next step.
    else if (AFTER_START.has(instance.state) && needsUsbBinding(settings, instance)) binding += 1;
    else if (isInProgress(instance.state)) busy += 1;
    else if (instance.state === 'active') active += 1;
    else other += 1;
  }
  const counts: StateCount[] = [
    { tone: 'danger', count: failed, label: `${failed} failed` },
    { tone: 'warning', count: binding, label: `${binding} ${binding === 1 ? 'needs' : 'need'} a USB binding` },
    { tone: 'info', count: busy, label: `${busy} in progress` },
    { tone: 'success', count: active, label: `${active} active` },
    { tone: 'neutral', count: other, label: `${other} other` },
  ];
  return counts.filter((c) => c.count > 0);
}

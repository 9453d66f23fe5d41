// The steps of an instance's deploy, in the dealer's words, and how far along it is.
import type { LiveInstance } from './live-instances';

export type StepStatus = 'done' | 'current' | 'failed' | 'upcoming';
export type Step = { state: string; label: string; status: StepStatus };

const LABELS: Record<string, string> = {
  pending: 'Queued',
  cloning: 'Clone the template',
  configuring: 'Set MAC address and hostname',
  starting: 'Start the guest',
  waiting: 'First boot',
  personalising: 'Personalise',
  locating: 'Find Home Assistant',
  preparing: 'Wait for Home Assistant',
  restoring: 'Restore the base backup',
  securing: 'Set site credentials',
  wiring: "Wire MQTT and the project's services",
  active: 'Ready',
};

const LXC_STEPS = ['pending', 'cloning', 'configuring', 'starting', 'waiting', 'personalising', 'active'];
// Home Assistant OS has no first-boot script: the orchestrator drives Home Assistant over its API once started.
const HA_STEPS = ['pending', 'cloning', 'configuring', 'starting', 'locating', 'preparing', 'restoring', 'securing', 'wiring', 'active'];
// Other VMs: active once started.
const VM_STEPS = ['pending', 'cloning', 'configuring', 'starting', 'active'];

/** The percent the backend gives each state (InstanceProgress.PercentOf). */
const PERCENT: Record<string, number> = {
  pending: 0,
  cloning: 20,
  configuring: 45,
  starting: 60,
  waiting: 75,
  personalising: 90,
  locating: 65,
  preparing: 70,
  restoring: 78,
  securing: 88,
  wiring: 94,
  active: 100,
};

export function stepLabel(state: string): string {
  return LABELS[state] ?? state;
}

/** The step a failed instance failed at: the last one seen working, else what its message says. */
export function failedAt(instance: Pick<LiveInstance, 'lastWorkingState' | 'message'>): string {
  if (instance.lastWorkingState && instance.lastWorkingState in LABELS && instance.lastWorkingState !== 'active') {
    return instance.lastWorkingState;
  }
  const message = instance.message ?? '';
  if (/first.?boot|waiting for the guest/i.test(message)) return 'waiting';
  if (/finding home assistant|home assistant not found/i.test(message)) return 'locating';
  if (/waiting for home assistant|did not get ready|onboarded by hand/i.test(message)) return 'preparing';
  if (/restor/i.test(message)) return 'restoring';
  if (/signing in/i.test(message)) return 'securing';
  if (/wiring/i.test(message)) return 'wiring';
  if (/start/i.test(message)) return 'starting';
  if (/configur/i.test(message)) return 'configuring';
  if (/personalis/i.test(message)) return 'personalising';
  return 'cloning';
}

// What Home Assistant's wiring step connects besides the project's MQTT broker (HomeAssistantSetup.WireAsync).
const WIRED: Record<string, string> = { zwavejs: 'Z-Wave JS', frigate: 'Frigate' };

/** The wiring step in the dealer's words: MQTT, plus Z-Wave JS and Frigate when the project has them. */
export function wiringLabel(projectTypes: readonly string[]): string {
  const wired = Object.keys(WIRED).filter((type) => projectTypes.includes(type)).map((type) => WIRED[type]);
  return wired.length === 0 ? 'Wire MQTT' : `Wire MQTT, ${wired.join(', ')}`;
}

/** The instance's steps; <projectTypes> (the types of the project's instances) names what the wiring step connects. */
export function stepsOf(
  instance: Pick<LiveInstance, 'type' | 'kind' | 'state' | 'lastWorkingState' | 'message'>,
  projectTypes?: readonly string[],
): Step[] {
  const vm = instance.kind === 'vm' || instance.kind === 'qemu';
  const failed = instance.state === 'failed';
  const at = failed ? failedAt(instance) : instance.state;
  const order =
    instance.type === 'ctrlable-pro' ? HA_STEPS : vm && !['waiting', 'personalising'].includes(at) ? VM_STEPS : LXC_STEPS;
  const index = order.indexOf(at);
  return order.map((state, i) => {
    let status: StepStatus;
    if (instance.state === 'active' || i < index) status = 'done';
    else if (i === index) status = failed ? 'failed' : 'current';
    else status = 'upcoming';
    const label = state === 'wiring' && projectTypes ? wiringLabel(projectTypes) : (LABELS[state] ?? state);
    return { state, label, status };
  });
}

/** The bar's percent: the backend's, except a failed instance keeps the percent of the step it failed at. */
export function percentOf(instance: Pick<LiveInstance, 'state' | 'percent' | 'lastWorkingState' | 'message'>): number {
  if (instance.state === 'failed') return PERCENT[failedAt(instance)] ?? 0;
  return instance.percent;
}

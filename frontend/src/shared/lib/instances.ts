// The life of a deployed instance, in the dealer's words and the app's status colours (UX notes):
// active = green, work in progress = blue with a spinner, stopped/deleted = grey,
// needs attention (a USB binding) = amber, failed = red. Shared by the projects and deploy features.
import type { SiteSettings } from '@/shared/api';
import type { StatusTone } from '@/shared/ui/status-badge';

/**
 * pending → cloning → configuring → starting → waiting (first boot) → personalising → active;
 * Home Assistant (ctrlable-pro) after starting: locating → preparing → restoring → securing → wiring → active;
 * failed; deleting → deleted; an upgrade: active → upgrading → active (or → rolling-back → active on the old release).
 */
export type InstanceState =
  | 'pending'
  | 'cloning'
  | 'configuring'
  | 'starting'
  | 'waiting'
  | 'personalising'
  | 'locating'
  | 'preparing'
  | 'restoring'
  | 'securing'
  | 'wiring'
  | 'active'
  | 'failed'
  | 'deleting'
  | 'deleted'
  | 'upgrading'
  | 'rolling-back';

const LABELS: Record<InstanceState, string> = {
  pending: 'Queued',
  cloning: 'Cloning',
  configuring: 'Configuring',
  starting: 'Starting',
  waiting: 'Waiting for first boot',
  personalising: 'Personalising',
  locating: 'Finding Home Assistant',
  preparing: 'Preparing Home Assistant',
  restoring: 'Restoring the base backup',
  securing: 'Securing Home Assistant',
  wiring: 'Wiring services',
  active: 'Active',
  failed: 'Failed',
  deleting: 'Deleting',
  deleted: 'Deleted',
  upgrading: 'Upgrading',
  'rolling-back': 'Rolling back',
};

/** States in which the pipeline is still working on the instance. */
const IN_PROGRESS = new Set<string>([
  'pending',
  'cloning',
  'configuring',
  'starting',
  'waiting',
  'personalising',
  'locating',
  'preparing',
  'restoring',
  'securing',
  'wiring',
]);

function capitalise(text: string): string {
  const words = text.replace(/[-_]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function instanceStateLabel(state: string): string {
  return LABELS[state as InstanceState] ?? capitalise(state);
}

/** The pipeline is still working on it (deploying, upgrading, or deleting). */
export function isInProgress(state: string): boolean {
  return IN_PROGRESS.has(state) || state === 'deleting' || isUpgrading(state);
}

/** An upgrade to the active release is under way (its snapshot, the app's update, or the rollback). */
export function isUpgrading(state: string): boolean {
  return state === 'upgrading' || state === 'rolling-back';
}

/** Still being deployed (not yet active, not failed). */
export function isDeploying(state: string): boolean {
  return IN_PROGRESS.has(state);
}

export function instanceStateTone(state: string): StatusTone {
  if (state === 'active') return 'success';
  if (state === 'failed') return 'danger';
  if (state === 'needs-binding') return 'warning';
  if (state === 'deleted') return 'neutral';
  return isInProgress(state) ? 'info' : 'neutral';
}

/** The USB device a component needs passed through on the Proxmox host, or null when it needs none. */
export function usbDeviceFor(settings: SiteSettings | null | undefined, type: string): string | null {
  if (!settings) return null;
  if (type === 'zigbee2mqtt' && settings.zigbee.mode === 'usb') return settings.zigbee.usbDevice?.trim() || 'the USB stick';
  if (type === 'zwavejs' && settings.zwave.mode === 'usb') return settings.zwave.usbDevice?.trim() || 'the USB stick';
  return null;
}

/**
 * Whether the instance needs a manual USB binding on the Proxmox host: its coordinator is a USB stick
 * (site settings), or the backend says so (a `needs-binding` state, or the step message).
 */
export function needsUsbBinding(
  settings: SiteSettings | null | undefined,
  instance: { type: string; state: string; message?: string | null | undefined; needsBinding?: boolean | undefined },
): boolean {
  if (instance.state === 'deleted' || instance.state === 'deleting') return false;
  // The orchestrator records it when it creates the instance's first-boot assignment.
  if (instance.needsBinding === true) return true;
  if (instance.state === 'needs-binding') return true;
  if (instance.message && /needs a USB binding/i.test(instance.message)) return true;
  return usbDeviceFor(settings, instance.type) !== null;
}

/** "CT" for containers, "VM" for virtual machines, as Proxmox's own UI says. */
export function guestKindShort(kind: string): string {
  return kind === 'vm' || kind === 'qemu' ? 'VM' : 'CT';
}

/** The component names of the release, in words ("zwavejs" → "Z-Wave JS UI"). */
const COMPONENT_NAMES: Record<string, string> = {
  'ctrlable-pro': 'Home Assistant',
  zwavejs: 'Z-Wave JS UI',
  zigbee2mqtt: 'Zigbee2MQTT',
  'docker-portainer': 'Docker + Portainer',
  frigate: 'Frigate NVR',
  freepbx: 'FreePBX',
};

export function componentName(type: string): string {
  return COMPONENT_NAMES[type] ?? type;
}

// The project form's state (strings, as typed) and its translation to and from the API's
// SiteSettings, plus where each validation error of a 400 ValidationProblem belongs.
import type {
  AddressingMode,
  BackupFrequency,
  CoordinatorMode,
  CreateProjectRequest,
  Project,
  SiteSettings,
  UpdateProjectRequest,
} from '@/shared/api';

/** The Zigbee2MQTT adapter types the API accepts. */
export const ZIGBEE_ADAPTERS = [
  { value: 'zstack', label: 'Z-Stack (Texas Instruments: SLZB-06, Sonoff ZBDongle-P, …)' },
  { value: 'ember', label: 'Ember (Silicon Labs: Sonoff ZBDongle-E, SLZB-06M, …)' },
  { value: 'deconz', label: 'deCONZ (ConBee, RaspBee)' },
  { value: 'zigate', label: 'ZiGate' },
  { value: 'zboss', label: 'ZBOSS (Nordic)' },
] as const;

export const DEFAULT_ZIGBEE_PORT = 6638;
export const DEFAULT_ZWAVE_PORT = 3333;
export const DEFAULT_MQTT_PORT = 1883;

export type CoordinatorForm = {
  mode: CoordinatorMode;
  host: string;
  port: string;
  adapter: string;
  usbDevice: string;
};

export type CameraForm = { key: number; name: string; streamUrl: string };

/** How the guests get their addresses: DHCP, or a static plan the orchestrator gives out addresses from. */
export type AddressingForm = {
  mode: AddressingMode;
  network: string;
  range: string;
  gateway: string;
  /** As typed: addresses separated by commas or spaces. */
  dnsServers: string;
  dnsServesHostnames: boolean;
};

/** Guest backups: off, or a schedule (daily / weekly on a day, at HH:MM), a backup storage and how many to keep. */
export type BackupsForm = {
  enabled: boolean;
  frequency: BackupFrequency;
  /** Weekly only: monday … sunday. */
  day: string;
  time: string;
  storage: string;
  keepLast: string;
};

export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;

export type ProjectForm = {
  name: string;
  slug: string;
  zigbee: CoordinatorForm;
  zwave: CoordinatorForm;
  /** project = the Mosquitto of this project's Home Assistant (settings.mqtt null). */
  mqttMode: 'project' | 'custom';
  mqtt: { host: string; port: string; username: string; tls: boolean };
  cameras: CameraForm[];
  bridge: string;
  vlan: string;
  addressing: AddressingForm;
  node: string;
  storage: string;
  backups: BackupsForm;
};

let cameraKeys = 0;
export function newCamera(name = '', streamUrl = ''): CameraForm {
  cameraKeys += 1;
  return { key: cameraKeys, name, streamUrl };
}

/** A new site: network coordinators (the usual installation), the project's own MQTT broker, no cameras. */
export function emptyProjectForm(): ProjectForm {
  return {
    name: '',
    slug: '',
    zigbee: { mode: 'network', host: '', port: String(DEFAULT_ZIGBEE_PORT), adapter: 'zstack', usbDevice: '' },
    zwave: { mode: 'network', host: '', port: String(DEFAULT_ZWAVE_PORT), adapter: 'zstack', usbDevice: '' },
    mqttMode: 'project',
    mqtt: { host: '', port: String(DEFAULT_MQTT_PORT), username: '', tls: false },
    cameras: [],
    bridge: '',
    vlan: '',
    addressing: { mode: 'dhcp', network: '', range: '', gateway: '', dnsServers: '', dnsServesHostnames: false },
    node: '',
    storage: '',
    backups: { enabled: false, frequency: 'daily', day: 'sunday', time: '03:00', storage: 'local', keepLast: '7' },
  };
}

export function projectToForm(project: Project): ProjectForm {
  const s = project.settings;
  const coordinator = (c: SiteSettings['zigbee'], defaultPort: number) => ({
    mode: c.mode,
    host: c.host ?? '',
    port: String(c.port || defaultPort),
    adapter: c.adapter || 'zstack',
    usbDevice: c.usbDevice ?? '',
  });
  return {
    name: project.name,
    slug: project.slug,
    zigbee: coordinator(s.zigbee, DEFAULT_ZIGBEE_PORT),
    zwave: coordinator(s.zwave, DEFAULT_ZWAVE_PORT),
    mqttMode: s.mqtt ? 'custom' : 'project',
    mqtt: s.mqtt
      ? { host: s.mqtt.host, port: String(s.mqtt.port), username: s.mqtt.username ?? '', tls: s.mqtt.tls }
      : { host: '', port: String(DEFAULT_MQTT_PORT), username: '', tls: false },
    cameras: s.cameras.map((c) => newCamera(c.name, c.streamUrl)),
    bridge: s.network.bridge ?? '',
    vlan: s.network.vlan == null ? '' : String(s.network.vlan),
    addressing: {
      mode: s.addressing.mode,
      network: s.addressing.network ?? '',
      range: s.addressing.range ?? '',
      gateway: s.addressing.gateway ?? '',
      dnsServers: s.addressing.dnsServers.join(', '),
      dnsServesHostnames: s.addressing.dnsServesHostnames,
    },
    node: s.node ?? '',
    storage: s.storage ?? '',
    backups: s.backups
      ? {
          enabled: true,
          frequency: s.backups.schedule.frequency,
          day: s.backups.schedule.day ?? 'sunday',
          time: s.backups.schedule.time,
          storage: s.backups.storage,
          keepLast: String(s.backups.retention.keepLast),
        }
      : { enabled: false, frequency: 'daily', day: 'sunday', time: '03:00', storage: 'local', keepLast: '7' },
  };
}

const blankToNull = (value: string): string | null => (value.trim() === '' ? null : value.trim());

/** A typed port or VLAN as a number; what is not a whole number goes as 0 so the API names the field. */
function toInt(value: string): number {
  const n = Number(value.trim());
  return value.trim() !== '' && Number.isInteger(n) ? n : 0;
}

export function formToSettings(form: ProjectForm): SiteSettings {
  const coordinator = (c: CoordinatorForm) => ({
    mode: c.mode,
    host: blankToNull(c.host),
    port: toInt(c.port),
    adapter: c.adapter,
    usbDevice: blankToNull(c.usbDevice),
  });
  const vlan = form.vlan.trim();
  return {
    zigbee: coordinator(form.zigbee),
    zwave: coordinator(form.zwave),
    mqtt:
      form.mqttMode === 'custom'
        ? { host: form.mqtt.host.trim(), port: toInt(form.mqtt.port), username: blankToNull(form.mqtt.username), tls: form.mqtt.tls }
        : null,
    cameras: form.cameras.map((c) => ({ name: c.name.trim(), streamUrl: c.streamUrl.trim() })),
    network: { bridge: blankToNull(form.bridge), vlan: vlan === '' ? null : toInt(vlan) },
    addressing: {
      mode: form.addressing.mode,
      // Kept as typed under DHCP too, so switching back to static finds them; the API reads them only for static.
      network: blankToNull(form.addressing.network),
      range: blankToNull(form.addressing.range),
      gateway: blankToNull(form.addressing.gateway),
      dnsServers: form.addressing.dnsServers.split(/[\s,;]+/).filter((d) => d !== ''),
      dnsServesHostnames: form.addressing.dnsServesHostnames,
    },
    node: blankToNull(form.node),
    storage: blankToNull(form.storage),
    backups: form.backups.enabled
      ? {
          schedule: {
            frequency: form.backups.frequency,
            // A daily schedule has no day (the API refuses one).
            day: form.backups.frequency === 'weekly' ? (form.backups.day as NonNullable<SiteSettings['backups']>['schedule']['day']) : null,
            time: form.backups.time.trim(),
          },
          storage: form.backups.storage.trim(),
          retention: { keepLast: toInt(form.backups.keepLast) },
        }
      : null,
  };
}

export function formToCreateRequest(form: ProjectForm): CreateProjectRequest {
  return { name: form.name.trim(), slug: blankToNull(form.slug), settings: formToSettings(form) };
}

export function formToUpdateRequest(form: ProjectForm): UpdateProjectRequest {
  return { name: form.name.trim(), settings: formToSettings(form) };
}

/**
 * The API's error keys ("Name", "Settings.Zigbee.Host", "Settings.network.vlan",
 * "Settings.Cameras[0].StreamUrl", or "$.settings.zigbee.port" from the JSON reader) in one spelling:
 * lower case, without the "$." prefix.
 */
export function normaliseErrorKey(key: string): string {
  return key.replace(/^\$\.?/, '').toLowerCase();
}

/** Every field the form shows an error next to, by normalised key. */
export function formFieldKeys(form: ProjectForm): string[] {
  const keys = ['name', 'slug', 'settings.cameras', 'settings.network.bridge', 'settings.network.vlan', 'settings.node', 'settings.storage'];
  for (const f of ['schedule.time', 'schedule.day', 'storage', 'retention.keeplast']) keys.push(`settings.backups.${f}`);
  for (const f of ['mode', 'network', 'range', 'gateway', 'dnsservers']) keys.push(`settings.addressing.${f}`);
  for (const c of ['zigbee', 'zwave']) {
    for (const f of ['mode', 'host', 'port', 'adapter', 'usbdevice']) keys.push(`settings.${c}.${f}`);
  }
  for (const f of ['host', 'port', 'username', 'tls']) keys.push(`settings.mqtt.${f}`);
  form.cameras.forEach((_, i) => {
    keys.push(`settings.cameras[${i}].name`, `settings.cameras[${i}].streamurl`);
  });
  return keys;
}

export type FormErrors = {
  /** Messages by normalised field key. */
  byField: Record<string, string[]>;
  /** Messages for keys the form has no field for (still shown, at the top). */
  unplaced: string[];
};

/**
 * A validator's message as it reads next to its field: "'Host' must not be empty." → "Required.",
 * "'Mqtt Port' must be between 1 and 65535. You entered 0." → "Must be between 1 and 65535. You entered 0."
 * Messages that name no field ("Camera names must be unique.") stay as they are.
 */
export function fieldMessage(message: string): string {
  if (/^'[^']+' must not be empty\.?$/.test(message)) return 'Required.';
  return message.replace(/^'[^']+' must/, 'Must');
}

export function groupErrors(errors: Record<string, string[]>, form: ProjectForm): FormErrors {
  const known = new Set(formFieldKeys(form));
  const byField: Record<string, string[]> = {};
  const unplaced: string[] = [];
  for (const [key, messages] of Object.entries(errors)) {
    // One field holds every DNS server: "settings.addressing.dnsservers[1]" belongs to it.
    const normalised = normaliseErrorKey(key).replace(/^(settings\.addressing\.dnsservers)\[\d+\]$/, '$1');
    if (known.has(normalised)) byField[normalised] = [...(byField[normalised] ?? []), ...messages.map(fieldMessage)];
    else unplaced.push(...messages);
  }
  return { byField, unplaced };
}

/** The form's value behind a normalised error key (to tell whether the user has changed it since). */
export function valueAt(form: ProjectForm, key: string): unknown {
  const camera = /^settings\.cameras\[(\d+)\]\.(name|streamurl)$/.exec(key);
  if (camera) {
    const item = form.cameras[Number(camera[1])];
    return camera[2] === 'name' ? item?.name : item?.streamUrl;
  }
  const coordinator = /^settings\.(zigbee|zwave)\.(\w+)$/.exec(key);
  if (coordinator) {
    const c = coordinator[1] === 'zigbee' ? form.zigbee : form.zwave;
    const field = coordinator[2] === 'usbdevice' ? 'usbDevice' : coordinator[2];
    return [c.mode, (c as Record<string, string>)[field ?? '']];
  }
  const mqtt = /^settings\.mqtt\.(\w+)$/.exec(key);
  if (mqtt) return [form.mqttMode, (form.mqtt as Record<string, unknown>)[mqtt[1] ?? '']];
  const backups = /^settings\.backups\.(schedule\.time|schedule\.day|storage|retention\.keeplast)$/.exec(key);
  if (backups) {
    const field = { 'schedule.time': 'time', 'schedule.day': 'day', storage: 'storage', 'retention.keeplast': 'keepLast' }[backups[1] ?? ''] ?? '';
    return [form.backups.enabled, form.backups.frequency, (form.backups as Record<string, unknown>)[field]];
  }
  const addressing = /^settings\.addressing\.(\w+)$/.exec(key);
  if (addressing) {
    const field = addressing[1] === 'dnsservers' ? 'dnsServers' : (addressing[1] ?? '');
    return [form.addressing.mode, (form.addressing as Record<string, unknown>)[field]];
  }
  switch (key) {
    case 'name':
      return form.name;
    case 'slug':
      return form.slug;
    case 'settings.cameras':
      return form.cameras.map((c) => c.name);
    case 'settings.network.bridge':
      return form.bridge;
    case 'settings.network.vlan':
      return form.vlan;
    case 'settings.node':
      return form.node;
    case 'settings.storage':
      return form.storage;
    default:
      return undefined;
  }
}

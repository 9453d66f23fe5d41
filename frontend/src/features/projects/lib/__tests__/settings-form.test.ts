import { describe, expect, it } from 'vitest';
import { project, siteSettings } from '@/testing/fixtures/projects';
import {
  emptyProjectForm,
  fieldMessage,
  formToSettings,
  groupErrors,
  normaliseErrorKey,
  projectToForm,
} from '../settings-form';

describe('site settings form', () => {
  it('reads the API error keys in one spelling', () => {
    expect(normaliseErrorKey('Settings.Zigbee.Host')).toBe('settings.zigbee.host');
    expect(normaliseErrorKey('Settings.network.vlan')).toBe('settings.network.vlan');
    expect(normaliseErrorKey('$.settings.zwave.port')).toBe('settings.zwave.port');
    expect(normaliseErrorKey('Settings.Cameras[1].StreamUrl')).toBe('settings.cameras[1].streamurl');
  });

  it('words validator messages for the field they sit under', () => {
    expect(fieldMessage("'Host' must not be empty.")).toBe('Required.');
    expect(fieldMessage("'Mqtt Port' must be between 1 and 65535. You entered 0.")).toBe(
      'Must be between 1 and 65535. You entered 0.',
    );
    expect(fieldMessage('Camera names must be unique.')).toBe('Camera names must be unique.');
  });

  it('keeps errors without a field aside', () => {
    const form = emptyProjectForm();
    const grouped = groupErrors({ Name: ['x'], 'Settings.Cameras[3].Name': ['y'], Other: ['z'] }, form);
    expect(grouped.byField).toEqual({ name: ['x'] });
    expect(grouped.unplaced).toEqual(['y', 'z']);
  });

  it('turns what was typed into settings: blanks to null, numbers to numbers, the project broker as null', () => {
    const form = emptyProjectForm();
    form.zigbee.host = ' 10.0.0.5 ';
    form.vlan = '20';
    form.bridge = '  ';
    form.zwave.port = 'abc';
    expect(formToSettings(form)).toMatchObject({
      zigbee: { host: '10.0.0.5', port: 6638 },
      zwave: { host: null, port: 0 },
      mqtt: null,
      network: { bridge: null, vlan: 20 },
    });
  });

  it('round-trips a project’s settings', () => {
    const settings = siteSettings({
      zwave: { mode: 'usb', host: null, port: 3333, adapter: 'zstack', usbDevice: '/dev/ttyACM0' },
      mqtt: { host: 'broker', port: 1883, username: null, tls: false },
      cameras: [{ name: 'door', streamUrl: 'rtsp://cam/1' }],
      network: { bridge: 'vmbr0', vlan: null },
      addressing: {
        mode: 'static',
        network: '192.168.1.0/24',
        range: '192.168.1.64/27',
        gateway: '192.168.1.1',
        dnsServers: ['192.168.1.1', '1.1.1.1'],
        dnsServesHostnames: true,
      },
      storage: 'local-lvm',
    });
    expect(formToSettings(projectToForm(project({ settings })))).toEqual(settings);
  });

  it('splits typed DNS servers and puts every DNS server error on that one field', () => {
    const form = emptyProjectForm();
    form.addressing = { ...form.addressing, mode: 'static', dnsServers: ' 192.168.1.1,1.1.1.1  9.9.9.9;' };
    expect(formToSettings(form).addressing.dnsServers).toEqual(['192.168.1.1', '1.1.1.1', '9.9.9.9']);

    const grouped = groupErrors(
      {
        'Settings.Addressing.DnsServers[0]': ['first'],
        'Settings.Addressing.DnsServers[2]': ['third'],
        'Settings.Addressing.Gateway': ['gateway'],
      },
      form,
    );
    expect(grouped.byField).toEqual({ 'settings.addressing.dnsservers': ['first', 'third'], 'settings.addressing.gateway': ['gateway'] });
    expect(grouped.unplaced).toEqual([]);
  });
});

describe('guest backup settings in the form', () => {
  it('round-trips a weekly schedule and sends none when switched off (so an edit never drops or invents one)', () => {
    const weekly = project({
      settings: siteSettings({
        backups: { schedule: { frequency: 'weekly', day: 'saturday', time: '02:30' }, storage: 'pbs', retention: { keepLast: 4 } },
      }),
    });
    const form = projectToForm(weekly);
    expect(form.backups).toMatchObject({ enabled: true, frequency: 'weekly', day: 'saturday', time: '02:30', storage: 'pbs', keepLast: '4' });
    expect(formToSettings(form).backups).toEqual(weekly.settings.backups);

    form.backups.frequency = 'daily';
    expect(formToSettings(form).backups?.schedule).toEqual({ frequency: 'daily', day: null, time: '02:30' });

    form.backups.enabled = false;
    expect(formToSettings(form).backups).toBeNull();
    expect(formToSettings(projectToForm(project())).backups).toBeNull();
  });

  it('places the backup field errors under their fields', () => {
    const form = emptyProjectForm();
    const grouped = groupErrors({ 'Settings.Backups.Schedule.Time': ['Time must be HH:MM.'], 'Settings.Backups.Storage': ['No backups there.'] }, form);
    expect(grouped.byField).toEqual({ 'settings.backups.schedule.time': ['Time must be HH:MM.'], 'settings.backups.storage': ['No backups there.'] });
    expect(grouped.unplaced).toEqual([]);
  });
});

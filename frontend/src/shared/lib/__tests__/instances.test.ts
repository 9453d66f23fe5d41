import { describe, expect, it } from 'vitest';
import { needsUsbBinding } from '../instances';
import { siteSettings } from '@/testing/fixtures/projects';

describe('needsUsbBinding', () => {
  it('follows the flag the orchestrator recorded with the first-boot assignment', () => {
    expect(needsUsbBinding(siteSettings(), { type: 'zigbee2mqtt', state: 'active', needsBinding: true })).toBe(true);
    expect(needsUsbBinding(siteSettings(), { type: 'zigbee2mqtt', state: 'active', needsBinding: false })).toBe(false);
  });

  it('still derives it from the site settings when the flag is absent, and never for deleted guests', () => {
    const usb = siteSettings({ zigbee: { mode: 'usb', host: null, port: 6638, adapter: 'zstack', usbDevice: '/dev/ttyACM0' } });
    expect(needsUsbBinding(usb, { type: 'zigbee2mqtt', state: 'waiting' })).toBe(true);
    expect(needsUsbBinding(usb, { type: 'zigbee2mqtt', state: 'deleted', needsBinding: true })).toBe(false);
  });
});

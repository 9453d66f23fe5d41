import { describe, expect, it } from 'vitest';
import { pveNode, snapshot } from '@/testing/fixtures/dashboard';
import { instance, progress, releaseDetail, siteSettings } from '@/testing/fixtures/projects';
import { appLink } from '../apps';
import { capacityFor, formatRamMiB, targetNode, targetStorage, totalsOf } from '../capacity';
import { applyProgress, mergeInstances } from '../live-instances';
import { failedAt, percentOf, stepsOf } from '../steps';

describe('live instances', () => {
  it('takes the newer of the API’s state and the stream’s, and remembers where a failed one was working', () => {
    const base = [instance({ id: 1, type: 'zwavejs', state: 'cloning', percent: 20, updatedAt: '2026-06-10T09:00:05Z' })];
    let map = applyProgress(new Map(), [progress({ instanceId: 1, type: 'zwavejs', state: 'pending', at: '2026-06-10T09:00:01Z' })]);
    expect(mergeInstances(base, map)[0]?.state).toBe('cloning');

    map = applyProgress(map, [progress({ instanceId: 1, type: 'zwavejs', state: 'starting', percent: 60, at: '2026-06-10T09:00:09Z' })]);
    map = applyProgress(map, [progress({ instanceId: 1, type: 'zwavejs', state: 'failed', percent: 100, at: '2026-06-10T09:00:10Z' })]);
    // An older event arriving late changes nothing.
    map = applyProgress(map, [progress({ instanceId: 1, type: 'zwavejs', state: 'configuring', at: '2026-06-10T09:00:08Z' })]);
    const [merged] = mergeInstances(base, map);
    expect(merged).toMatchObject({ state: 'failed', lastWorkingState: 'starting', vmid: 1001 });
  });

  it('follows a guest to the address the stream reports (a DHCP lease that changed)', () => {
    const base = [instance({ id: 1, type: 'ctrlable-pro', state: 'active', ip: '192.168.1.20', appUrl: 'http://192.168.1.20:8123/', updatedAt: '2026-06-10T09:00:05Z' })];
    const map = applyProgress(new Map(), [
      progress({ instanceId: 1, type: 'ctrlable-pro', state: 'active', ip: '192.168.1.31', appUrl: 'http://192.168.1.31:8123/', at: '2026-06-10T09:10:00Z' }),
    ]);
    expect(mergeInstances(base, map)[0]).toMatchObject({ state: 'active', ip: '192.168.1.31', appUrl: 'http://192.168.1.31:8123/' });
    // An event without an address (older orchestrators) keeps what the API said.
    const bare = applyProgress(new Map(), [progress({ instanceId: 1, type: 'ctrlable-pro', state: 'active', at: '2026-06-10T09:10:00Z' })]);
    expect(mergeInstances(base, bare)[0]).toMatchObject({ ip: '192.168.1.20', appUrl: 'http://192.168.1.20:8123/' });
  });

  it('drops an upgrade offer read for another state until the API is read again', () => {
    const offer = { from: '2026.06', to: '2026.07', possible: false, code: 'not-active', reason: 'it is upgrading' };
    const base = [instance({ id: 1, type: 'zwavejs', state: 'upgrading', upgrade: offer, updatedAt: '2026-06-10T09:00:05Z' })];
    const rolledBack = applyProgress(new Map(), [progress({ instanceId: 1, type: 'zwavejs', state: 'active', at: '2026-06-10T09:01:00Z' })]);
    expect(mergeInstances(base, rolledBack)[0]).toMatchObject({ state: 'active', upgrade: null });
    // News of the same state keeps the offer the API gave for it.
    const same = applyProgress(new Map(), [progress({ instanceId: 1, type: 'zwavejs', state: 'upgrading', percent: 50, at: '2026-06-10T09:00:30Z' })]);
    expect(mergeInstances(base, same)[0]?.upgrade).toEqual(offer);
  });

  it('lists an instance first seen on the stream', () => {
    const map = applyProgress(new Map(), [progress({ instanceId: 9, type: 'ctrlable-pro', state: 'cloning', hostname: 'smith-ctrlable-pro' })]);
    expect(mergeInstances([], map)).toEqual([
      expect.objectContaining({ id: 9, kind: 'vm', hostname: 'smith-ctrlable-pro', state: 'cloning', vmid: null }),
    ]);
  });
});

describe('steps', () => {
  it('gives a container the first-boot steps and a VM not', () => {
    expect(stepsOf({ type: 'zwavejs', kind: 'lxc', state: 'waiting', lastWorkingState: 'waiting', message: null }).map((s) => `${s.state}:${s.status}`)).toEqual([
      'pending:done',
      'cloning:done',
      'configuring:done',
      'starting:done',
      'waiting:current',
      'personalising:upcoming',
      'active:upcoming',
    ]);
    expect(stepsOf({ type: 'freepbx', kind: 'vm', state: 'active', lastWorkingState: 'active', message: null }).every((s) => s.status === 'done')).toBe(true);
    expect(stepsOf({ type: 'freepbx', kind: 'vm', state: 'active', lastWorkingState: 'active', message: null })).toHaveLength(5);
  });

  it('names in the wiring step only the services the project has', () => {
    const ha = { type: 'ctrlable-pro', kind: 'vm', state: 'wiring', lastWorkingState: 'wiring', message: null };
    const wiring = (types?: string[]) => stepsOf(ha, types).find((s) => s.state === 'wiring')?.label;
    expect(wiring(['ctrlable-pro'])).toBe('Wire MQTT');
    expect(wiring(['frigate', 'ctrlable-pro', 'zwavejs'])).toBe('Wire MQTT, Z-Wave JS, Frigate');
    expect(wiring(['ctrlable-pro', 'frigate', 'zigbee2mqtt'])).toBe('Wire MQTT, Frigate');
    expect(wiring()).toBe("Wire MQTT and the project's services");
  });

  it('gives Home Assistant its own steps after the start', () => {
    expect(
      stepsOf({ type: 'ctrlable-pro', kind: 'vm', state: 'restoring', lastWorkingState: 'restoring', message: null }).map((s) => `${s.state}:${s.status}`),
    ).toEqual([
      'pending:done',
      'cloning:done',
      'configuring:done',
      'starting:done',
      'locating:done',
      'preparing:done',
      'restoring:current',
      'securing:upcoming',
      'wiring:upcoming',
      'active:upcoming',
    ]);
    expect(failedAt({ lastWorkingState: null, message: "Failed while restoring Home Assistant's base backup" })).toBe('restoring');
    expect(failedAt({ lastWorkingState: null, message: 'Failed while signing in to Home Assistant' })).toBe('securing');
  });

  it('finds the failed step from the message after a reload', () => {
    expect(failedAt({ lastWorkingState: null, message: 'Start failed' })).toBe('starting');
    expect(failedAt({ lastWorkingState: null, message: 'No first-boot report' })).toBe('waiting');
    expect(failedAt({ lastWorkingState: null, message: 'Clone failed' })).toBe('cloning');
    expect(failedAt({ lastWorkingState: 'configuring', message: 'Failed while configuring' })).toBe('configuring');
    expect(percentOf({ state: 'failed', percent: 100, lastWorkingState: null, message: 'Start failed' })).toBe(60);
  });
});

describe('app links', () => {
  it('opens each app at its port', () => {
    expect(appLink('ctrlable-pro', '10.0.0.2')?.url).toBe('http://10.0.0.2:8123/');
    expect(appLink('zwavejs', '10.0.0.3')?.url).toBe('http://10.0.0.3:8091/');
    expect(appLink('zigbee2mqtt', '10.0.0.4')?.url).toBe('http://10.0.0.4:8080/');
    expect(appLink('docker-portainer', '10.0.0.5')?.url).toBe('https://10.0.0.5:9443/');
    expect(appLink('frigate', '10.0.0.6')?.url).toBe('http://10.0.0.6:5000/');
    expect(appLink('freepbx', '10.0.0.7')?.url).toBe('http://10.0.0.7/');
    expect(appLink('freepbx', 'fd00::7')?.url).toBe('http://[fd00::7]/');
    expect(appLink('zwavejs', null)).toBeNull();
  });
});

describe('capacity', () => {
  it('totals the chosen templates and compares them with the node and its guest storage', () => {
    const templates = releaseDetail().templates.slice(0, 3);
    const totals = totalsOf(templates);
    expect(totals).toMatchObject({ cpu: 6, ramMiB: 8192, diskGb: 48 });
    const host = snapshot();
    const node = targetNode(host, siteSettings());
    const storage = targetStorage(node, siteSettings());
    expect(node?.node).toBe('pve');
    // "local" holds no guest disks; local-lvm does.
    expect(storage?.storage).toBe('local-lvm');
    expect(capacityFor(totals, node, storage)).toMatchObject({ ramOver: false, diskOver: false });
    expect(capacityFor(totalsOf(releaseDetail().templates), { ...pveNode, memUsed: pveNode.memTotal - 1024 ** 3 }, storage).ramOver).toBe(true);
  });

  it('reads RAM like people do', () => {
    expect(formatRamMiB(2048)).toBe('2 GiB');
    expect(formatRamMiB(1536)).toBe('1.5 GiB');
    expect(formatRamMiB(512)).toBe('512 MiB');
  });
});

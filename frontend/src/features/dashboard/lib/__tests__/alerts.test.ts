import { describe, expect, it } from 'vitest';
import { guest, pveNode, snapshot } from '@/testing/fixtures/dashboard';
import { collectAlerts } from '../alerts';
import { holdsGuestDisks, isSlowForDeploys } from '../storage';

describe('collectAlerts', () => {
  it('finds nothing wrong in a healthy snapshot', () => {
    expect(collectAlerts(snapshot())).toEqual([]);
  });

  it('raises a running, active guest whose app is down, and not one whose app is up or that is stopped', () => {
    const down = { state: 'down', since: '2026-12-04T10:00:00Z', checkedAt: '2026-12-04T10:05:00Z', detail: 'connection refused', target: '10.0.0.5:8080' } as const;
    const alerts = collectAlerts(
      snapshot({
        projects: [
          {
            projectId: 1,
            name: 'Smith',
            slug: 'smith',
            guests: [
              guest({ vmid: 1, name: 'z2m', instanceId: 1, instanceState: 'active', app: down }),
              guest({ vmid: 2, name: 'zwave', instanceId: 2, instanceState: 'active', app: { ...down, state: 'up' } }),
              guest({ vmid: 3, name: 'frigate', instanceId: 3, instanceState: 'active', status: 'stopped', app: down }),
            ],
          },
        ],
      }),
    );
    expect(alerts.map((a) => [a.kind, a.title, a.guestVmid])).toEqual([
      ['app-down', 'z2m (1) in Smith runs, but its app does not answer', 1],
    ]);
  });

  it('puts red (failed, offline) before amber, and warns once about a shared slow storage', () => {
    const nas = { storage: 'nas', type: 'nfs', content: 'images', shared: true, used: 1, total: 2, linkedClones: false };
    const alerts = collectAlerts(
      snapshot({
        nodes: [
          { ...pveNode, storages: [...pveNode.storages, nas] },
          { ...pveNode, node: 'pve2', status: 'offline', storages: [nas] },
        ],
        projects: [
          {
            projectId: 1,
            name: 'Smith',
            slug: 'smith',
            guests: [
              guest({ vmid: 1, name: 'z', instanceId: 1, instanceState: 'needs-binding' }),
              guest({ vmid: 2, name: 'w', instanceId: 2, instanceState: 'failed', error: 'boom' }),
            ],
          },
        ],
        templates: [{ name: 'frigate', kind: 'lxc', vmid: 9005, node: 'pve', present: false, appVersion: null }],
      }),
    );

    expect(alerts.map((a) => [a.tone, a.kind])).toEqual([
      ['danger', 'node-offline'],
      ['danger', 'guest-failed'],
      ['warning', 'guest-needs-binding'],
      ['warning', 'slow-storage'],
      ['warning', 'missing-template'],
    ]);
    expect(alerts.map((a) => a.title)).toEqual([
      'Node pve2 is offline',
      'w (2) in Smith failed',
      'z (1) in Smith needs a USB device bound',
      'Deploys onto nas will be slow full copies',
      'Template frigate (VMID 9005) of release 2026.06 is missing from Proxmox',
    ]);
    expect(alerts[1]?.guestVmid).toBe(2);
  });
});

describe('storages', () => {
  it('only storages that hold guest disks matter for deploys', () => {
    expect(holdsGuestDisks({ content: 'images,rootdir' })).toBe(true);
    expect(holdsGuestDisks({ content: 'rootdir' })).toBe(true);
    expect(holdsGuestDisks({ content: 'iso, vztmpl ,backup' })).toBe(false);
    expect(holdsGuestDisks({ content: '' })).toBe(true);
    expect(isSlowForDeploys({ content: 'images', linkedClones: false })).toBe(true);
    expect(isSlowForDeploys({ content: 'images', linkedClones: true })).toBe(false);
    expect(isSlowForDeploys({ content: 'backup', linkedClones: false })).toBe(false);
  });
});

import { describe, expect, it } from 'vitest';
import type { ProjectCredentials, SiteCredential } from '@/shared/api';
import { componentName } from '@/shared/lib/instances';
import { credentialGroups, credentialName } from '../credential-groups';

function credential(id: string, instanceId: number | null, hostname: string | null): SiteCredential {
  return {
    id,
    kind: 'mqtt',
    label: `Secret ${id}`,
    instanceId,
    hostname,
    type: null,
    username: null,
    usedBy: 'tests',
    url: null,
    rotatable: false,
    notRotatableReason: null,
    updatedAt: null,
  };
}

describe('credential groups', () => {
  it('names a guest secret with its guest and a site secret alone', () => {
    expect(credentialName(credential('a', 1, 'smith-zigbee2mqtt'))).toBe('Secret a of smith-zigbee2mqtt');
    expect(credentialName(credential('m', null, null))).toBe('Secret m');
  });

  it('groups secrets by guest in the API order, a guest without secrets included, and the whole site apart', () => {
    const data: ProjectCredentials = {
      projectId: 1,
      projectName: 'Smith',
      slug: 'smith',
      instances: [
        { instanceId: 2, hostname: 'smith-zigbee2mqtt', type: 'zigbee2mqtt', app: null, state: 'active', ip: null, url: null },
        { instanceId: 1, hostname: 'smith-ctrlable-pro', type: 'ctrlable-pro', app: 'Home Assistant', state: 'active', ip: null, url: null },
        { instanceId: 3, hostname: 'smith-zwavejs', type: 'zwavejs', app: 'Z-Wave JS UI', state: 'active', ip: null, url: null },
      ],
      credentials: [credential('h', 1, 'smith-ctrlable-pro'), credential('m', null, null), credential('z', 2, 'smith-zigbee2mqtt')],
    };

    const { guests, site } = credentialGroups(data);

    expect(guests.map((g) => [g.instance.instanceId, g.app, g.credentials.map((c) => c.id)])).toEqual([
      [2, componentName('zigbee2mqtt'), ['z']],
      [1, 'Home Assistant', ['h']],
      [3, 'Z-Wave JS UI', []],
    ]);
    expect(site.map((c) => c.id)).toEqual(['m']);
  });
});

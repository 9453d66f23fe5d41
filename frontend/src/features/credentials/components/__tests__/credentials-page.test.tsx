import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { ProjectCredentials, SiteCredential } from '@/shared/api';
import { jsonResponse, mockApi, problemWithCode, renderWithQueryClient } from '@/testing/test-utils';
import { CredentialsPage } from '../credentials-page';

const at = '2026-06-01T08:00:00Z';

function credential(over: Partial<SiteCredential> & Pick<SiteCredential, 'id' | 'label'>): SiteCredential {
  return {
    kind: 'home-assistant-owner',
    instanceId: 1,
    hostname: 'smith-ctrlable-pro',
    type: 'ctrlable-pro',
    username: null,
    usedBy: 'Signing in to Home Assistant as its owner',
    url: 'http://192.168.1.21:8123/',
    rotatable: false,
    notRotatableReason: null,
    updatedAt: at,
    ...over,
  };
}

const owner = credential({ id: 'i1.homeassistant-owner', label: 'Home Assistant owner password', username: 'ctrlable', rotatable: true });
const zigbeeKey = credential({
  id: 'i2.zigbee-network-key',
  kind: 'zigbee-network-key',
  label: 'Zigbee network key',
  instanceId: 2,
  hostname: 'smith-zigbee2mqtt',
  type: 'zigbee2mqtt',
  usedBy: "Zigbee2MQTT's Zigbee network",
  url: 'http://192.168.1.22:8080/',
  notRotatableReason: 'Every paired Zigbee device holds this key: a new one means pairing every device again.',
});
const mqtt = credential({
  id: 'site.mqtt',
  kind: 'mqtt',
  label: 'MQTT password',
  instanceId: null,
  hostname: null,
  type: null,
  username: 'ctrlable',
  usedBy: "Home Assistant's Mosquitto add-on",
  url: 'mqtt://smith-ctrlable-pro:1883',
  notRotatableReason: 'Guests hold it from their first boot.',
});

const list: ProjectCredentials = {
  projectId: 1,
  projectName: 'Smith residence',
  slug: 'smith',
  instances: [
    { instanceId: 1, hostname: 'smith-ctrlable-pro', type: 'ctrlable-pro', app: 'Home Assistant', state: 'active', ip: '192.168.1.21', url: 'http://192.168.1.21:8123/' },
    { instanceId: 2, hostname: 'smith-zigbee2mqtt', type: 'zigbee2mqtt', app: 'Zigbee2MQTT', state: 'active', ip: '192.168.1.22', url: 'http://192.168.1.22:8080/' },
  ],
  credentials: [owner, zigbeeKey, mqtt],
};

const values: Record<string, string> = {
  'i1.homeassistant-owner': 'Owner-Secret-123',
  'i2.zigbee-network-key': '00112233445566778899AABBCCDDEEFF',
  'site.mqtt': 'Mqtt-Secret-456',
};

describe('credentials page', () => {
  it('lists every secret per guest without a value, and reveals one only with the right password', async () => {
    const user = userEvent.setup();
    const bodies: unknown[] = [];
    mockApi({
      'GET /api/projects/1/credentials': () => jsonResponse(list),
      'POST /api/projects/1/credentials/i1.homeassistant-owner/reveal': async (request) => {
        const body = (await request.json()) as { password: string };
        bodies.push(body);
        return body.password === 'my-Passw0rd'
          ? jsonResponse({ id: 'i1.homeassistant-owner', value: values['i1.homeassistant-owner'] })
          : problemWithCode(403, 'Wrong password', 'wrong-password', 'That is not your current password.');
      },
    });
    renderWithQueryClient(<CredentialsPage projectId={1} isAdmin />);

    const ha = await screen.findByRole('table', { name: 'Secrets of smith-ctrlable-pro' });
    const row = within(ha).getByRole('row', { name: /Home Assistant owner password/ });
    expect(within(row).getByText('ctrlable')).toBeInTheDocument();
    expect(within(screen.getByRole('table', { name: 'Secrets of the whole site' })).getByRole('row', { name: /MQTT password/ })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: /http:\/\/192\.168\.1\.22:8080\// })).toHaveAttribute('href', 'http://192.168.1.22:8080/');
    for (const value of Object.values(values)) expect(document.body.textContent).not.toContain(value);

    await user.click(within(row).getByRole('button', { name: 'Reveal the Home Assistant owner password of smith-ctrlable-pro' }));
    const dialog = screen.getByRole('dialog', { name: 'Confirm with your password' });
    await user.type(within(dialog).getByLabelText('Your password'), 'wrong-guess');
    await user.click(within(dialog).getByRole('button', { name: 'Reveal' }));
    expect(await within(dialog).findByText('That is not your password. Nothing was revealed.')).toBeInTheDocument();
    expect(document.body.textContent).not.toContain(values['i1.homeassistant-owner']);

    await user.type(within(dialog).getByLabelText('Your password'), 'my-Passw0rd');
    await user.click(within(dialog).getByRole('button', { name: 'Reveal' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(within(row).getByLabelText('Value of the Home Assistant owner password of smith-ctrlable-pro')).toHaveTextContent('Owner-Secret-123');
    expect(bodies).toEqual([{ password: 'wrong-guess' }, { password: 'my-Passw0rd' }]);

    await user.click(within(row).getByRole('button', { name: 'Hide' }));
    expect(document.body.textContent).not.toContain(values['i1.homeassistant-owner']);
  });

  it('rotates what can be rotated, says why the rest cannot, and says so when a rotation failed', async () => {
    const user = userEvent.setup();
    let rotations = 0;
    mockApi({
      'GET /api/projects/1/credentials': () => jsonResponse(list),
      'POST /api/projects/1/credentials/i1.homeassistant-owner/rotate': () => {
        rotations += 1;
        return rotations === 1
          ? problemWithCode(502, 'Not rotated', 'rotation-failed', 'Home Assistant did not answer. The old password stays in place and still works.')
          : jsonResponse({ ...owner, updatedAt: '2026-06-02T08:00:00Z' });
      },
    });
    renderWithQueryClient(<CredentialsPage projectId={1} isAdmin />);

    const zigbeeRow = within(await screen.findByRole('table', { name: 'Secrets of smith-zigbee2mqtt' })).getByRole('row', { name: /Zigbee network key/ });
    expect(within(zigbeeRow).queryByRole('button', { name: /Rotate/ })).not.toBeInTheDocument();
    expect(within(zigbeeRow).getByText('Not rotatable')).toBeInTheDocument();
    expect(within(zigbeeRow).getByText(/pairing every device again/)).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Rotate the Home Assistant owner password of smith-ctrlable-pro' }));
    const dialog = screen.getByRole('dialog', { name: 'Rotate the home assistant owner password?' });
    await user.click(within(dialog).getByRole('button', { name: 'Rotate' }));
    expect(await within(dialog).findByRole('alert')).toHaveTextContent('Not rotated. Home Assistant did not answer. The old password stays in place and still works.');

    await user.click(within(dialog).getByRole('button', { name: 'Rotate' }));
    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(screen.getByRole('status')).toHaveTextContent('The Home Assistant owner password of smith-ctrlable-pro was rotated: the old value no longer works.');
    expect(rotations).toBe(2);
  });

  it('prints a hand-over sheet with every address and user name and only the secrets ticked', async () => {
    const user = userEvent.setup();
    const print = vi.spyOn(window, 'print').mockImplementation(() => {});
    let asked: unknown;
    mockApi({
      'GET /api/projects/1/credentials': () => jsonResponse(list),
      'POST /api/projects/1/credentials/reveal': async (request) => {
        asked = await request.json();
        const { credentialIds } = asked as { credentialIds: string[] };
        return jsonResponse({ credentials: credentialIds.map((id) => ({ id, value: values[id] })) });
      },
    });
    renderWithQueryClient(<CredentialsPage projectId={1} isAdmin />);

    await user.click(await screen.findByRole('checkbox', { name: 'Include the Home Assistant owner password of smith-ctrlable-pro on the hand-over sheet' }));
    await user.click(screen.getByRole('checkbox', { name: 'Include the MQTT password on the hand-over sheet' }));
    await user.click(screen.getByRole('button', { name: 'Prepare the sheet' }));
    const dialog = screen.getByRole('dialog', { name: 'Confirm with your password' });
    await user.type(within(dialog).getByLabelText('Your password'), 'my-Passw0rd');
    await user.click(within(dialog).getByRole('button', { name: 'Prepare the sheet' }));

    const sheet = await screen.findByRole('article', { name: 'Hand-over sheet' });
    expect(asked).toEqual({ password: 'my-Passw0rd', credentialIds: ['i1.homeassistant-owner', 'site.mqtt'] });
    expect(within(sheet).getByRole('heading', { name: 'Smith residence' })).toBeInTheDocument();
    const ha = within(sheet).getByRole('region', { name: 'smith-ctrlable-pro on the sheet' });
    expect(ha).toHaveTextContent('Home Assistant — smith-ctrlable-pro');
    expect(ha).toHaveTextContent('http://192.168.1.21:8123/');
    expect(ha).toHaveTextContent('User ctrlable');
    expect(ha).toHaveTextContent('Owner-Secret-123');
    const zigbee = within(sheet).getByRole('region', { name: 'smith-zigbee2mqtt on the sheet' });
    expect(zigbee).toHaveTextContent('http://192.168.1.22:8080/');
    expect(zigbee).toHaveTextContent('secret not included');
    expect(zigbee).not.toHaveTextContent(values['i2.zigbee-network-key']!);
    expect(within(sheet).getByRole('region', { name: 'The whole site on the sheet' })).toHaveTextContent('Mqtt-Secret-456');

    await user.click(screen.getByRole('button', { name: 'Print or save as PDF' }));
    expect(print).toHaveBeenCalledOnce();
  });

  it('keeps its print stylesheet: on paper only the sheet, without the app around it or the buttons', () => {
    const css = readFileSync(join(__dirname, '..', 'credentials.module.css'), 'utf8');
    const print = css.slice(css.indexOf('@media print'));
    expect(print).toMatch(/:global\(body\) :not\(:has\(\.sheet\), \.sheet, \.sheet \*\) \{\s*display: none !important;/);
    expect(print).toMatch(/\.noPrint \{\s*display: none !important;/);
    expect(print).toMatch(/@page/);
  });

  it('tells a viewer or an operator that credentials are for admins, without asking the API', async () => {
    const fetchMock = mockApi({});
    renderWithQueryClient(<CredentialsPage projectId={1} isAdmin={false} />);

    expect(screen.getByRole('heading', { name: 'Credentials are for admins' })).toBeInTheDocument();
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it('explains an API refusal', async () => {
    mockApi({ 'GET /api/projects/1/credentials': () => problemWithCode(403, 'Forbidden', 'forbidden', 'Admins only.') });
    renderWithQueryClient(<CredentialsPage projectId={1} isAdmin />);

    expect(await screen.findByRole('alert')).toHaveTextContent('Could not load the credentials');
  });
});

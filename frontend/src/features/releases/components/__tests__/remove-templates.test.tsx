import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { ReleaseTemplate, ReleaseTemplates } from '@/shared/api';
import { jsonResponse, mockApi, problemWithCode, renderWithQueryClient } from '@/testing/test-utils';
import { RemoveTemplates } from '../remove-templates';

const zwave = (holders: ReleaseTemplate['holders']): ReleaseTemplate => ({
  name: 'zwavejs',
  kind: 'lxc',
  vmid: 9201,
  node: 'pve1',
  state: 'present',
  removable: holders.length === 0,
  reason: holders.length === 0 ? null : 'Its base volume is held by site-zwave (1001): remove or re-create those guests first.',
  holders,
});

const pro: ReleaseTemplate = {
  name: 'ctrlable-pro',
  kind: 'qemu' as ReleaseTemplate['kind'],
  vmid: 9200,
  node: 'pve1',
  state: 'present',
  removable: true,
  reason: null,
  holders: [],
};

const holder = { vmid: 1001, name: 'site-zwave', node: 'pve1', kind: 'lxc', volume: 'local-zfs:basevol-9201-disk-0/subvol-1001-disk-0' };

function view(templates: ReleaseTemplate[], removedAt: string | null = null, removeAutomaticallyAt: string | null = null): ReleaseTemplates {
  return { release: '2026.05', active: false, templatesRemovedAt: removedAt, templatesRemovedBy: removedAt ? 'admin' : null, templates, removeAutomaticallyAt };
}

const legacy: ReleaseTemplate = {
  name: 'docker-portainer',
  kind: 'lxc',
  vmid: 9202,
  node: 'pve1',
  state: 'unproven',
  removable: false,
  reason: 'Not proven ours: no proof of ownership was recorded for VMID 9202 (built before this version…), so the orchestrator never removes it, not even automatically; remove it by hand in Proxmox once no guest needs it.',
  holders: [],
};

describe('RemoveTemplates', () => {
  it('lists a template without recorded proof as not proven ours, with the reason, and says when the proven ones go by themselves', async () => {
    mockApi({ 'GET /api/releases/2026.05/templates': () => jsonResponse(view([pro, legacy], null, '2031-05-04T12:00:00Z')) });

    renderWithQueryClient(<RemoveTemplates release="2026.05" canRemove />);

    const line = (await screen.findByText('docker-portainer')).closest('li')!;
    expect(line).toHaveTextContent('CT 9202 on pve1 · not proven ours (no proof of ownership recorded): the orchestrator never removes it');
    expect(line).toHaveTextContent('remove it by hand in Proxmox once no guest needs it');
    expect(screen.getByTestId('automatic-removal')).toHaveTextContent(/removes the proven templates by itself from .*2031/);
  });

  it('names the guests that hold a template and keeps "Remove templates" disabled while they do', async () => {
    const api = mockApi({ 'GET /api/releases/2026.05/templates': () => jsonResponse(view([pro, zwave([holder])])) });

    renderWithQueryClient(<RemoveTemplates release="2026.05" canRemove />);

    const holders = await screen.findByRole('list', { name: 'Guests holding zwavejs' });
    expect(within(holders).getByText(/site-zwave \(1001\) on pve1/)).toBeInTheDocument();
    expect(within(holders).getByText('local-zfs:basevol-9201-disk-0/subvol-1001-disk-0')).toBeInTheDocument();
    expect(screen.getByText(/CT 9201 on pve1/)).toBeInTheDocument();
    expect(screen.getByText(/VM 9200 on pve1/)).toBeInTheDocument();
    const remove = screen.getByRole('button', { name: 'Remove templates of 2026.05' });
    expect(remove).toBeDisabled();
    expect(screen.getByText('Guests still hold zwavejs: remove or re-create them first.')).toBeInTheDocument();
    expect(api.mock.calls.map(([request]) => (request as Request).method)).toEqual(['GET']);
  });

  it('removes after a confirmation with DELETE and shows what was done', async () => {
    let removed = false;
    const api = mockApi({
      'GET /api/releases/2026.05/templates': () => jsonResponse(removed ? view([], '2026-12-05T10:00:00Z') : view([pro, zwave([])])),
      'DELETE /api/releases/2026.05/templates': () => {
        removed = true;
        return jsonResponse({
          release: '2026.05',
          templatesRemovedAt: '2026-12-05T10:00:00Z',
          templates: [
            { name: 'ctrlable-pro', vmid: 9200, outcome: 'removed', detail: 'VM 9200 destroyed.' },
            { name: 'zwavejs', vmid: 9201, outcome: 'removed', detail: 'CT 9201 destroyed.' },
          ],
        });
      },
    });
    const user = userEvent.setup();

    renderWithQueryClient(<RemoveTemplates release="2026.05" canRemove />);

    await user.click(await screen.findByRole('button', { name: 'Remove templates of 2026.05' }));
    expect(screen.getByText(/Destroy ctrlable-pro \(9200\), zwavejs \(9201\) on the Proxmox host\?/)).toBeInTheDocument();
    await user.click(screen.getByRole('button', { name: 'Remove' }));

    expect(await screen.findByText('The templates of 2026.05 were removed.')).toBeInTheDocument();
    const deletes = api.mock.calls.map(([request]) => request as Request).filter((r) => r.method === 'DELETE');
    expect(deletes).toHaveLength(1);
    expect(new URL(deletes[0]!.url).pathname).toBe('/api/releases/2026.05/templates');
    expect(deletes[0]!.headers.get('X-CSRF-TOKEN')).toBe('csrf-test-token');
  });

  it('shows the refusal when a guest took hold of a template meanwhile', async () => {
    mockApi({
      'GET /api/releases/2026.05/templates': () => jsonResponse(view([zwave([])])),
      'DELETE /api/releases/2026.05/templates': () =>
        problemWithCode(409, 'Templates are in use', 'templates-in-use', 'Guests are linked clones of these templates: zwavejs (9201) is held by site-zwave (1001). Nothing was removed.'),
    });
    const user = userEvent.setup();

    renderWithQueryClient(<RemoveTemplates release="2026.05" canRemove />);

    await user.click(await screen.findByRole('button', { name: 'Remove templates of 2026.05' }));
    await user.click(screen.getByRole('button', { name: 'Remove' }));

    await waitFor(() => expect(screen.getByRole('alert')).toHaveTextContent('zwavejs (9201) is held by site-zwave (1001)'));
  });

  it('offers no removal to a caller who is not an admin', async () => {
    mockApi({ 'GET /api/releases/2026.05/templates': () => jsonResponse(view([pro])) });

    renderWithQueryClient(<RemoveTemplates release="2026.05" canRemove={false} />);

    expect(await screen.findByText('ctrlable-pro')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /Remove templates/ })).not.toBeInTheDocument();
  });
});

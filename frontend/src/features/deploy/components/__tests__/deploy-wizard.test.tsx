import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import type { DashboardSnapshot, NodeHealth } from '@/shared/api';
import { pveNode, snapshot } from '@/testing/fixtures/dashboard';
import { deploy, instance, project, releaseDetail, siteSettings } from '@/testing/fixtures/projects';
import { jsonResponse, mockApi, problemResponse, renderInRouter } from '@/testing/test-utils';
import { DeployWizard } from '../deploy-wizard';

const GIB = 1024 ** 3;
const links = { project: '/projects/1', editProject: '/projects/1/edit', releases: '/releases' };

function host(node: Partial<NodeHealth> = {}, overrides: Partial<DashboardSnapshot> = {}): DashboardSnapshot {
  return snapshot({ nodes: [{ ...pveNode, ...node }], projects: [], otherGuests: [], ...overrides });
}

function renderWizard({
  dashboard = host(),
  onDeployed = vi.fn(),
  subject = project(),
}: { dashboard?: DashboardSnapshot; onDeployed?: (id: number) => void; subject?: ReturnType<typeof project> } = {}) {
  renderInRouter(<DeployWizard project={subject} links={links} onDeployed={onDeployed} siteSummary={<p>Site summary</p>} />);
  return { dashboard, onDeployed };
}

describe('deploy wizard', () => {
  it('lists the release’s components with CPU, RAM and disk, and totals the choice against the node’s free capacity', async () => {
    const user = userEvent.setup();
    // pve: 16 GiB of memory, 3.2 used; local-lvm 800 GB, 150 used.
    mockApi({ 'GET /api/dashboard': () => jsonResponse(host()), 'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()) });
    renderWizard();

    const table = await screen.findByRole('table', { name: 'Components of release 2026.06' });
    const zwave = within(table).getByRole('row', { name: /Z-Wave JS UI/ });
    expect(within(zwave).getAllByRole('cell').map((c) => c.textContent?.trim()).slice(1)).toEqual(['2', '2 GiB', '8 GB']);
    const ha = within(table).getByRole('row', { name: /Home Assistant/ });
    expect(within(ha).getAllByRole('cell').map((c) => c.textContent?.trim()).slice(1)).toEqual(['2', '4 GiB', '32 GB']);

    // Every component is preselected: 10 CPU, 12 GiB, 80 GB.
    expect(screen.getByRole('row', { name: /^Selected: 4 components/ })).toBeInTheDocument();
    expect(screen.getByTestId('total-cpu')).toHaveTextContent('10');
    expect(screen.getByTestId('total-ram')).toHaveTextContent('12 GiB');
    expect(screen.getByTestId('total-disk')).toHaveTextContent('80 GB');
    const capacity = screen.getByRole('region', { name: 'Capacity' });
    expect(within(capacity).getByRole('meter', { name: 'Memory on pve' })).toHaveTextContent('needs 12 GiB');
    expect(within(capacity).getByRole('meter', { name: 'Memory on pve' })).toHaveTextContent('12.8 GiB free of 16.0 GiB');
    expect(within(capacity).getByRole('meter', { name: 'Disk on local-lvm' })).toHaveTextContent('650 GB free of 800 GB');
    expect(within(capacity).queryByRole('note')).not.toBeInTheDocument();

    await user.click(screen.getByRole('checkbox', { name: /Frigate NVR/ }));
    await user.click(screen.getByRole('checkbox', { name: /Zigbee2MQTT/ }));

    expect(screen.getByRole('row', { name: /^Selected: 2 components/ })).toBeInTheDocument();
    expect(screen.getByTestId('total-cpu')).toHaveTextContent('4');
    expect(screen.getByTestId('total-ram')).toHaveTextContent('6 GiB');
    expect(screen.getByTestId('total-disk')).toHaveTextContent('40 GB');
  });

  it('warns when the choice needs more memory than the node has free', async () => {
    const user = userEvent.setup();
    // 8 GiB free: the 12 GiB of all four do not fit; without Frigate (8 GiB) they do.
    mockApi({
      'GET /api/dashboard': () => jsonResponse(host({ memTotal: 16 * GIB, memUsed: 8 * GIB })),
      'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
    });
    renderWizard();

    const capacity = await screen.findByRole('region', { name: 'Capacity' });
    const warning = within(capacity).getByRole('note');
    expect(warning).toHaveTextContent('Not enough free memory. The selected components need 12 GiB; pve has 8.0 GiB free.');
    expect(within(capacity).getByRole('meter', { name: 'Memory on pve' })).toHaveAttribute('data-level', 'danger');

    await user.click(screen.getByRole('checkbox', { name: /Frigate NVR/ }));

    expect(within(capacity).queryByText(/Not enough free memory/)).not.toBeInTheDocument();
  });

  it('warns that deploys onto a storage without linked clones are slow full copies', async () => {
    const node = {
      storages: [{ storage: 'local', type: 'dir', content: 'images,rootdir', shared: false, used: 10e9, total: 500e9, linkedClones: false }],
    };
    mockApi({
      'GET /api/dashboard': () => jsonResponse(host(node)),
      'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
    });
    renderWizard();

    const capacity = await screen.findByRole('region', { name: 'Capacity' });
    expect(within(capacity).getByRole('note')).toHaveTextContent(
      'Full copies, not linked clones. Storage local (dir) cannot do linked clones',
    );
  });

  it('offers no second Home Assistant, and nothing that is not built', async () => {
    mockApi({
      'GET /api/dashboard': () => jsonResponse(host()),
      'GET /api/releases/2026.06': () =>
        jsonResponse(
          releaseDetail({
            templates: releaseDetail().templates.map((t) => (t.name === 'frigate' ? { ...t, state: 'not-built' as const } : t)),
          }),
        ),
    });
    renderWizard({ subject: project({ instances: [instance({ id: 1, type: 'ctrlable-pro' })] }) });

    const ha = await screen.findByRole('checkbox', { name: /Home Assistant/ });
    expect(ha).toBeDisabled();
    expect(ha).not.toBeChecked();
    expect(ha).toHaveAccessibleDescription('Already deployed: a site has one Home Assistant');
    expect(screen.getByRole('checkbox', { name: /Frigate/ })).toBeDisabled();
    expect(screen.getByRole('checkbox', { name: /Frigate/ })).toHaveAccessibleDescription('Not built on this host yet');
    expect(screen.getByRole('row', { name: /^Selected: 2 components/ })).toBeInTheDocument();
  });

  it('shows what a partly built release lacks and why, and deploys the rest', async () => {
    const user = userEvent.setup();
    const posts: unknown[] = [];
    const reason = 'build 11 failed: ct/frigate.sh failed with exit code 1 (see the log)';
    mockApi({
      'GET /api/dashboard': () => jsonResponse(host()),
      'GET /api/releases/2026.06': () =>
        jsonResponse(
          releaseDetail({
            templates: releaseDetail().templates.map((t) => (t.name === 'frigate' ? { ...t, state: 'failed' as const, reason, buildId: 11 } : t)),
          }),
        ),
      'POST /api/projects/1/deploy': async (request) => {
        posts.push(await request.json());
        return jsonResponse(deploy([instance({ id: 1, type: 'zwavejs', state: 'pending', percent: 0 })], { id: 43 }), { status: 202 });
      },
    });
    const { onDeployed } = renderWizard();

    const frigate = await screen.findByRole('checkbox', { name: /Frigate/ });
    expect(frigate).toBeDisabled();
    expect(frigate).not.toBeChecked();
    expect(frigate).toHaveAccessibleDescription(`Not available: ${reason}`);
    const note = screen.getAllByRole('note').find((n) => n.textContent?.includes('partly built'));
    expect(note).toHaveTextContent('Release 2026.06 is partly built: Frigate NVR is not available on this host. The other components deploy as usual.');
    expect(within(note!).getByRole('link', { name: 'Releases page' })).toHaveAttribute('href', '/releases');
    expect(screen.getByRole('row', { name: /^Selected: 3 components/ })).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Next: review' }));
    await user.click(screen.getByRole('button', { name: 'Deploy 3 components' }));

    await vi.waitFor(() => expect(onDeployed).toHaveBeenCalledWith(43));
    expect(posts).toEqual([{ types: ['ctrlable-pro', 'zwavejs', 'zigbee2mqtt'] }]);
  });

  it('reviews the guests to create, then POSTs the deploy and hands over its id', async () => {
    const user = userEvent.setup();
    const posts: unknown[] = [];
    const onDeployed = vi.fn();
    mockApi({
      'GET /api/dashboard': () => jsonResponse(host()),
      'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
      'POST /api/projects/1/deploy': async (request) => {
        expect(request.headers.get('X-CSRF-TOKEN')).toBe('csrf-test-token');
        posts.push(await request.json());
        return jsonResponse(deploy([instance({ id: 1, type: 'zwavejs', state: 'pending', percent: 0 })], { id: 42 }), { status: 202 });
      },
    });
    renderWizard({
      onDeployed,
      subject: project({ settings: siteSettings({ zwave: { mode: 'usb', host: null, port: 3333, adapter: 'zstack', usbDevice: '/dev/ttyACM0' } }) }),
    });

    await user.click(await screen.findByRole('checkbox', { name: /Frigate NVR/ }));
    await user.click(screen.getByRole('checkbox', { name: /Home Assistant/ }));
    await user.click(screen.getByRole('button', { name: 'Next: review' }));

    expect(screen.getByRole('heading', { name: 'Review' })).toBeInTheDocument();
    expect(screen.getByRole('listitem', { current: 'step' })).toHaveTextContent('Review');
    const guests = screen.getByRole('list', { name: 'Guests to create' });
    expect(within(guests).getAllByRole('listitem').map((li) => li.firstElementChild?.textContent)).toEqual([
      'smith-zwavejs',
      'smith-zigbee2mqtt',
    ]);
    expect(guests).toHaveTextContent('Needs a USB binding of /dev/ttyACM0 on the Proxmox host afterwards');
    expect(screen.getByText('Site summary')).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Deploy 2 components' }));

    await vi.waitFor(() => expect(onDeployed).toHaveBeenCalledWith(42));
    expect(posts).toEqual([{ types: ['zwavejs', 'zigbee2mqtt'] }]);
  });

  it('says why a deploy did not start, with the detail behind Details', async () => {
    const user = userEvent.setup();
    mockApi({
      'GET /api/dashboard': () => jsonResponse(host()),
      'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
      'POST /api/projects/1/deploy': () =>
        problemResponse(409, 'Home Assistant exists', 'A project has one ctrlable-pro (Home Assistant); this one has it already.'),
    });
    renderWizard();
    await user.click(await screen.findByRole('button', { name: 'Next: review' }));
    await user.click(screen.getByRole('button', { name: 'Deploy 4 components' }));

    const alert = await screen.findByRole('alert');
    expect(alert).toHaveTextContent('The deploy did not start: A project has one ctrlable-pro (Home Assistant); this one has it already.');
    expect(alert).toHaveTextContent('POST /api/projects/1/deploy → HTTP 409 — Home Assistant exists');
  });

  it('sends to the Releases page when no release is built', async () => {
    mockApi({ 'GET /api/dashboard': () => jsonResponse(host({}, { activeRelease: null })) });
    renderWizard();
    const empty = await screen.findByRole('region', { name: 'No release built yet' });
    expect(within(empty).getByRole('link', { name: 'Open the Releases page' })).toHaveAttribute('href', '/releases');
  });
});

import { QueryClientProvider } from '@tanstack/react-query';
import { act, render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { describe, expect, it, vi } from 'vitest';
import type { DashboardSnapshot } from '@/shared/api';
import {
  guest,
  homeAssistant,
  nodeSeries,
  pihole,
  pveNode,
  snapshot,
  zigbee,
} from '@/testing/fixtures/dashboard';
import {
  createTestQueryClient,
  jsonResponse,
  mockFetch,
  pendingForever,
  problemResponse,
  requestPath,
} from '@/testing/test-utils';
import { DASHBOARD_REFRESH_MS } from '../../api/get-dashboard';
import { Dashboard } from '../dashboard';

function renderDashboard(queryClient = createTestQueryClient()) {
  const router = createMemoryRouter([
    { path: '/', element: <Dashboard releasesHref="/releases" /> },
    { path: '/releases', element: <h1>Releases page</h1> },
  ]);
  render(
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return { router, queryClient };
}

/** Answers the dashboard with `dashboard` (a snapshot or a response factory) and every history request. */
function mockApi(dashboard: DashboardSnapshot | ((call: number) => Response | Promise<Response>)) {
  let calls = 0;
  return mockFetch((request) => {
    const url = new URL(request.url);
    if (url.pathname === '/api/dashboard') {
      calls += 1;
      return typeof dashboard === 'function' ? dashboard(calls) : jsonResponse(dashboard);
    }
    if (url.pathname.startsWith('/api/nodes/') || url.pathname.startsWith('/api/guests/')) {
      return jsonResponse(nodeSeries(url.searchParams.get('timeframe') ?? 'hour'));
    }
    throw new Error(`unexpected request ${request.method} ${requestPath(request)}`);
  });
}

function dashboardCalls(fetchMock: ReturnType<typeof mockFetch>) {
  return fetchMock.mock.calls.filter(([input]) => requestPath(input as Request) === '/api/dashboard');
}

async function nodeCard(name = 'pve') {
  return screen.findByRole('article', { name });
}

describe('Dashboard', () => {
  it('asks GET /api/dashboard and shows the node with its gauges, facts and storages', async () => {
    const fetchMock = mockApi(snapshot());

    renderDashboard();

    const card = await nodeCard();
    expect(within(card).getByText('Online')).toBeInTheDocument();
    expect(within(card).getByText('9.1.3')).toBeInTheDocument();
    expect(within(card).getByText('3 d 4 h')).toBeInTheDocument();
    expect(within(card).getByText('0.42 · 0.35 · 0.30')).toBeInTheDocument();

    const cpu = within(card).getByRole('meter', { name: 'CPU' });
    expect(cpu).toHaveAttribute('aria-valuenow', '12');
    expect(cpu).toHaveTextContent('12%');
    expect(cpu).toHaveTextContent('8 CPUs');
    const memory = within(card).getByRole('meter', { name: 'Memory' });
    expect(memory).toHaveTextContent('3.2 / 16.0 GiB');
    expect(memory).toHaveTextContent('20% used');
    const root = within(card).getByRole('meter', { name: 'Root disk' });
    expect(root).toHaveTextContent('12.3 / 100 GB');
    expect(root).toHaveTextContent('87.7 GB free');

    const lvm = within(card).getByRole('meter', { name: 'Storage local-lvm' });
    expect(lvm).toHaveTextContent('150 / 800 GB · 19%');
    expect(within(card).getByText('lvmthin')).toBeInTheDocument();
    // "local" holds no guest disks: not flagged although it cannot do linked clones.
    expect(within(card).queryByText(/No linked clones/)).not.toBeInTheDocument();
    expect(screen.queryByRole('heading', { name: /Needs attention/ })).not.toBeInTheDocument();

    expect(screen.getByRole('heading', { level: 1, name: 'Dashboard' })).toBeInTheDocument();
    expect(screen.getByText('Release 2026.06')).toBeInTheDocument();
    expect(screen.getByTestId('updated-indicator')).toHaveTextContent(/^Updated \d+ s ago$/);

    const first = dashboardCalls(fetchMock)[0]?.[0] as Request;
    expect(first.method).toBe('GET');
  });

  it('groups guests by project with status, release, IP, node and mini bars', async () => {
    mockApi(snapshot());

    renderDashboard();

    const project = await screen.findByRole('region', { name: 'Smith residence' });
    expect(within(project).getByText('2 guests')).toBeInTheDocument();
    expect(within(project).getByText('1 in progress · 1 running')).toBeInTheDocument();

    const ha = within(project).getByRole('article', { name: 'smith-ctrlable-pro' });
    expect(within(ha).getByText('Running')).toBeInTheDocument();
    expect(ha).toHaveAttribute('data-tone', 'success');
    expect(within(ha).getByText('VMID 201')).toBeInTheDocument();
    expect(within(ha).getByText('VM')).toBeInTheDocument();
    expect(within(ha).getByText('192.168.10.21')).toBeInTheDocument();
    expect(within(ha).getByText('2026.06')).toBeInTheDocument();
    expect(within(ha).getByText('pve')).toBeInTheDocument();
    expect(within(ha).getByText('2 h')).toBeInTheDocument();
    expect(within(ha).getByRole('meter', { name: 'CPU of smith-ctrlable-pro' })).toHaveTextContent('23%');
    expect(within(ha).getByRole('meter', { name: 'RAM of smith-ctrlable-pro' })).toHaveTextContent('2.5 / 4.0 GiB');
    // The actions area holds no buttons yet (lifecycle actions come later).
    expect(within(ha).queryByRole('button')).not.toBeInTheDocument();

    const z2m = within(project).getByRole('article', { name: 'smith-zigbee2mqtt' });
    expect(within(z2m).getByText('Personalising')).toBeInTheDocument();
    expect(z2m).toHaveAttribute('data-tone', 'info');
    expect(within(z2m).getByText('Container')).toBeInTheDocument();
  });

  it('says next to "Running" whether the guest\'s app answers, and since when', async () => {
    const downSince = '2026-06-01T14:02:00Z';
    mockApi(
      snapshot({
        projects: [
          {
            projectId: 1,
            name: 'Smith residence',
            slug: 'smith',
            guests: [
              { ...homeAssistant, app: { state: 'up', since: '2026-06-01T09:12:00Z', checkedAt: downSince, detail: 'HTTP 200', target: 'http://192.168.10.21:8123/' } },
              guest({
                vmid: 203,
                name: 'smith-zwavejs',
                instanceId: 3,
                type: 'zwavejs',
                instanceState: 'active',
                app: { state: 'down', since: downSince, checkedAt: downSince, detail: 'connection refused', target: 'http://192.168.10.23:8091/' },
              }),
              { ...zigbee, app: null },
            ],
          },
        ],
      }),
    );

    renderDashboard();

    const project = await screen.findByRole('region', { name: 'Smith residence' });
    const ha = within(project).getByRole('article', { name: 'smith-ctrlable-pro' });
    expect(within(ha).getByText('Running')).toBeInTheDocument();
    expect(within(ha).getByText(/^App up since/)).toBeInTheDocument();
    const zwave = within(project).getByRole('article', { name: 'smith-zwavejs' });
    expect(within(zwave).getByText('Running')).toBeInTheDocument();
    const down = within(zwave).getByText(/^App down since/);
    expect(down.closest('[data-tone]')).toHaveAttribute('data-tone', 'danger');
    expect(down.querySelector('time')).toHaveAttribute('dateTime', downSince);
    expect(zwave).toHaveAttribute('data-tone', 'danger');
    expect(ha).toHaveAttribute('data-tone', 'success');
    expect(down.closest('[title]')?.getAttribute('title')).toMatch(/does not answer at http:\/\/192\.168\.10\.23:8091\/ \(connection refused\)/);
    // Not probed (still on its first boot): no app badge at all.
    expect(within(within(project).getByRole('article', { name: 'smith-zigbee2mqtt' })).queryByText(/^App /)).not.toBeInTheDocument();
  });

  it('keeps guests the provisioner did not deploy in a collapsed "Other guests" group with a count', async () => {
    mockApi(snapshot({ otherGuests: [pihole, guest({ vmid: 106, name: 'unifi' })] }));
    const user = userEvent.setup();

    renderDashboard();

    const other = await screen.findByRole('region', { name: 'Other guests' });
    expect(other).toHaveTextContent('2 guests');
    const details = other.querySelector('details');
    expect(details).not.toHaveAttribute('open');
    const card = within(other).getByRole('article', { name: 'pihole', hidden: true });
    expect(card).not.toBeVisible();

    await user.click(within(other).getByText('Other guests'));

    expect(details).toHaveAttribute('open');
    expect(card).toBeVisible();
    expect(within(card).getByText('Stopped')).toBeInTheDocument();
    expect(card).toHaveAttribute('data-tone', 'neutral');
    // Not running: no uptime, no bars, IP not known.
    expect(within(card).queryByRole('meter')).not.toBeInTheDocument();
    expect(within(card).getByText('not known', { exact: false })).toBeInTheDocument();
  });

  it('lists the templates of the active release, present or missing, and warns about a missing one', async () => {
    mockApi(
      snapshot({
        templates: [
          { name: 'ctrlable-pro', kind: 'vm', vmid: 9001, node: 'pve', present: true, appVersion: '15.1' },
          { name: 'zwavejs', kind: 'lxc', vmid: 9002, node: 'pve', present: false, appVersion: '9.x' },
        ],
      }),
    );

    renderDashboard();

    const templates = await screen.findByRole('region', { name: 'Templates of release 2026.06' });
    expect(templates).toHaveTextContent('2 templates · 1 missing');
    const present = within(templates).getByRole('row', { name: /^ctrlable-pro/ });
    expect(within(present).getByText('Present')).toBeInTheDocument();
    expect(within(present).getByText('9001')).toBeInTheDocument();
    const missing = within(templates).getByRole('row', { name: /^zwavejs/ });
    expect(within(missing).getByText('Missing')).toBeInTheDocument();

    const attention = screen.getByRole('region', { name: /Needs attention/ });
    expect(attention).toHaveTextContent(
      'Template zwavejs (VMID 9002) of release 2026.06 is missing from Proxmox',
    );
    expect(within(attention).getByRole('link', { name: 'Open the Releases page' })).toHaveAttribute('href', '/releases');
  });

  it('shows a persistent banner when running against the simulated host', async () => {
    mockApi(snapshot({ simulated: true }));

    renderDashboard();

    const banner = await screen.findByRole('note', { name: 'Simulated host' });
    expect(banner).toHaveTextContent('Simulated Proxmox host — nothing here touches real hardware');
  });

  it('has no simulated banner against a real host', async () => {
    mockApi(snapshot({ simulated: false }));

    renderDashboard();

    await nodeCard();
    expect(screen.queryByRole('note', { name: 'Simulated host' })).not.toBeInTheDocument();
    expect(screen.queryByText(/Simulated Proxmox host/)).not.toBeInTheDocument();
  });

  it('shows an amber banner with the reason and the age of the data when it is stale', async () => {
    const asOf = new Date(Date.now() - 150_000).toISOString();
    mockApi(snapshot({ stale: true, staleReason: 'Proxmox is unreachable: Connection refused (10.0.0.2:8006)', asOf }));

    renderDashboard();

    const banner = await screen.findByRole('region', { name: 'Data may be out of date' });
    expect(banner).toHaveTextContent('Proxmox is unreachable: Connection refused (10.0.0.2:8006)');
    expect(banner).toHaveTextContent('Showing data from 2 min ago');
    expect(within(banner).getByText('2 min ago')).toHaveAttribute('dateTime', asOf);
    expect(within(banner).getByText('2 min ago').getAttribute('title')).not.toBe('');
    expect(screen.getByTestId('updated-indicator')).toHaveTextContent('Data from 2 min ago');
    // The numbers are still shown.
    expect(await nodeCard()).toBeInTheDocument();
  });

  it('explains a 503 (Proxmox never reached) with the reason, keeps the detail behind Details, and retries', async () => {
    const fetchMock = mockApi((call) =>
      call === 1
        ? problemResponse(503, 'Proxmox unavailable', 'Proxmox is unreachable: Name or service not known (pve.lan:8006)')
        : jsonResponse(snapshot()),
    );
    const user = userEvent.setup();

    renderDashboard();

    const alert = await screen.findByRole('alert');
    expect(within(alert).getByRole('heading', { name: 'Proxmox cannot be reached' })).toBeInTheDocument();
    expect(alert).toHaveTextContent('Proxmox is unreachable: Name or service not known (pve.lan:8006). Check that the Proxmox host is on');
    expect(alert).toHaveTextContent('keeps trying');
    expect(within(alert).getByText('Details')).toBeInTheDocument();
    expect(alert).toHaveTextContent('GET /api/dashboard → HTTP 503 — Proxmox unavailable');

    await user.click(within(alert).getByRole('button', { name: 'Try again' }));

    expect(await nodeCard()).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(dashboardCalls(fetchMock)).toHaveLength(2);
  });

  it('keeps the last data on screen and says so when a refresh fails', async () => {
    mockApi((call) => (call === 1 ? jsonResponse(snapshot()) : Promise.reject(new TypeError('fetch failed'))));
    const { queryClient } = renderDashboard();

    await nodeCard();
    await queryClient.refetchQueries({ queryKey: ['dashboard'], exact: true });

    const banner = await screen.findByRole('region', { name: 'Could not reach the provisioner' });
    expect(banner).toHaveTextContent('Showing the last data received');
    expect(await nodeCard()).toBeInTheDocument();
  });

  it('warns at the top and on the storage when deploys onto it cannot be linked clones', async () => {
    mockApi(
      snapshot({
        nodes: [
          {
            ...pveNode,
            storages: [
              ...pveNode.storages,
              { storage: 'nas', type: 'nfs', content: 'images,rootdir', shared: true, used: 1_200 * 1e9, total: 4_000 * 1e9, linkedClones: false },
            ],
          },
        ],
      }),
    );

    renderDashboard();

    const attention = await screen.findByRole('region', { name: /Needs attention/ });
    const item = within(attention).getByText('Deploys onto nas will be slow full copies').closest('li');
    expect(item).toHaveAttribute('data-alert', 'slow-storage');
    expect(item).toHaveTextContent('“nfs” storage, which cannot make linked clones');

    const storage = within(await nodeCard()).getByText('nas').closest('li');
    if (!storage) throw new Error('storage outside a list item');
    expect(storage).toHaveTextContent('nfs · shared');
    expect(storage).toHaveTextContent('No linked clones: deploys here are slow full copies');
    expect(within(storage).getByRole('meter')).toHaveTextContent('1,200 / 4,000 GB · 30%');
  });

  it('shows a failed guest in red at the top, with the reason one click away behind Details', async () => {
    const failed = guest({
      vmid: 203,
      name: 'smith-zwavejs',
      status: 'stopped',
      instanceId: 3,
      type: 'zwavejs',
      release: '2026.06',
      instanceState: 'failed',
      error: 'First boot did not report back within 10 min (assignment fetch: HTTP 401).',
    });
    mockApi(
      snapshot({ projects: [{ projectId: 1, name: 'Smith residence', slug: 'smith', guests: [homeAssistant, zigbee, failed] }] }),
    );
    const user = userEvent.setup();

    renderDashboard();

    const attention = await screen.findByRole('region', { name: /Needs attention/ });
    const item = within(attention).getByText('smith-zwavejs (203) in Smith residence failed').closest('li');
    expect(item).toHaveAttribute('data-alert', 'guest-failed');
    expect(within(item as HTMLElement).getByRole('link', { name: 'Go to its card' })).toHaveAttribute('href', '#guest-203');

    const card = screen.getByRole('article', { name: 'smith-zwavejs' });
    expect(card).toHaveAttribute('id', 'guest-203');
    expect(card).toHaveAttribute('data-tone', 'danger');
    expect(within(card).getByText('Failed')).toBeInTheDocument();
    expect(screen.getByRole('region', { name: 'Smith residence' })).toHaveTextContent('1 failed · 1 in progress · 1 running');

    const reason = within(card).getByText(/First boot did not report back/);
    expect(reason).not.toBeVisible();
    await user.click(within(card).getByText('Details'));
    expect(reason).toBeVisible();
    expect(reason).toHaveTextContent('First boot did not report back within 10 min (assignment fetch: HTTP 401).');
  });

  it('shows a guest that needs a USB binding in amber, at the top and on its card', async () => {
    const binding = guest({ vmid: 204, name: 'smith-zwave', instanceId: 4, instanceState: 'needs-binding' });
    mockApi(snapshot({ projects: [{ projectId: 1, name: 'Smith residence', slug: 'smith', guests: [binding] }] }));

    renderDashboard();

    const attention = await screen.findByRole('region', { name: /Needs attention/ });
    const item = within(attention).getByText('smith-zwave (204) in Smith residence needs a USB device bound').closest('li');
    expect(item).toHaveAttribute('data-alert', 'guest-needs-binding');
    const card = screen.getByRole('article', { name: 'smith-zwave' });
    expect(card).toHaveAttribute('data-tone', 'warning');
    expect(within(card).getByText('Needs USB binding')).toBeInTheDocument();
  });

  it('says what to do when there are no projects and no release yet', async () => {
    mockApi(snapshot({ projects: [], activeRelease: null, templates: [] }));
    const user = userEvent.setup();

    const { router } = renderDashboard();

    const projects = await screen.findByRole('region', { name: 'No projects yet' });
    expect(projects).toHaveTextContent('once the first stack is deployed');
    const release = screen.getByRole('region', { name: 'No release built yet' });
    const link = within(release).getByRole('link', { name: 'Releases page' });
    expect(link).toHaveAttribute('href', '/releases');
    expect(screen.queryByText(/^Release /)).not.toBeInTheDocument();

    await user.click(link);
    expect(router.state.location.pathname).toBe('/releases');
  });

  it('marks an offline node in red and does not show numbers it does not have', async () => {
    mockApi(
      snapshot({
        nodes: [{ ...pveNode, node: 'pve2', status: 'offline', cpuFraction: 0, memUsed: 0, loadAverage: [], pveVersion: null, storages: [] }],
      }),
    );

    renderDashboard();

    const card = await nodeCard('pve2');
    expect(within(card).getByText('Offline')).toBeInTheDocument();
    expect(within(card).queryByRole('meter')).not.toBeInTheDocument();
    expect(screen.getByRole('region', { name: /Needs attention/ })).toHaveTextContent('Node pve2 is offline');
  });

  it('charts the node history and switches the timeframe', async () => {
    const fetchMock = mockApi(snapshot());
    const user = userEvent.setup();

    renderDashboard();

    const card = await nodeCard();
    const figure = await within(card).findByRole('figure', { name: 'CPU and memory of pve, last hour' });
    expect(figure).toHaveTextContent('Last hour: CPU now 20%, peak 40% · memory now 50%, peak 55%.');
    const hour = within(card).getByRole('button', { name: 'Hour' });
    expect(hour).toHaveAttribute('aria-pressed', 'true');

    await user.click(within(card).getByRole('button', { name: 'Week' }));

    expect(await within(card).findByRole('figure', { name: 'CPU and memory of pve, last week' })).toBeInTheDocument();
    expect(within(card).getByRole('button', { name: 'Week' })).toHaveAttribute('aria-pressed', 'true');
    expect(hour).toHaveAttribute('aria-pressed', 'false');
    const paths = fetchMock.mock.calls.map(([input]) => requestPath(input as Request));
    expect(paths).toContain('/api/nodes/pve/metrics?timeframe=hour');
    expect(paths).toContain('/api/nodes/pve/metrics?timeframe=week');
  });

  it('asks for a guest’s history only when its History disclosure is opened', async () => {
    const fetchMock = mockApi(snapshot());
    const user = userEvent.setup();

    renderDashboard();

    const card = await screen.findByRole('article', { name: 'smith-ctrlable-pro' });
    const guestCalls = () =>
      fetchMock.mock.calls.map(([input]) => requestPath(input as Request)).filter((path) => path.startsWith('/api/guests/'));
    expect(guestCalls()).toEqual([]);

    await user.click(within(card).getByText('History'));

    expect(await within(card).findByRole('figure', { name: /smith-ctrlable-pro \(201\), last hour/ })).toBeInTheDocument();
    expect(guestCalls()).toEqual(['/api/guests/201/metrics?timeframe=hour']);
  });

  it('says it is loading while the first answer is on its way', () => {
    mockFetch(() => pendingForever());

    renderDashboard();

    expect(screen.getByRole('status')).toHaveTextContent('Loading the dashboard…');
    expect(screen.getByTestId('dashboard-skeleton')).toBeInTheDocument();
  });

  it('refreshes on its own every 5 seconds', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const fetchMock = mockApi((call) =>
        jsonResponse(snapshot({ nodes: [{ ...pveNode, cpuFraction: call === 1 ? 0.12 : 0.55 }] })),
      );

      renderDashboard();

      const card = await nodeCard();
      expect(within(card).getByRole('meter', { name: 'CPU' })).toHaveTextContent('12%');
      expect(dashboardCalls(fetchMock)).toHaveLength(1);

      await act(() => vi.advanceTimersByTimeAsync(DASHBOARD_REFRESH_MS));

      await waitFor(() => expect(within(card).getByRole('meter', { name: 'CPU' })).toHaveTextContent('55%'));
      expect(dashboardCalls(fetchMock)).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });
});

import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { installFakeEventSource } from '@/testing/fake-event-source';
import { deploy, instance, progress, project, siteSettings } from '@/testing/fixtures/projects';
import { jsonResponse, mockApi, renderInRouter } from '@/testing/test-utils';
import { DEPLOY_POLL_MS } from '../../api/get-deploy';
import { DeployProgress } from '../deploy-progress';

const links = { project: (id: number) => `/projects/${id}`, projects: '/projects' };
const earlier = '2026-06-10T09:00:00Z';

const queued = [
  instance({ id: 1, type: 'ctrlable-pro', state: 'pending', percent: 0, vmid: null, message: 'Queued', updatedAt: earlier }),
  instance({ id: 2, type: 'zwavejs', state: 'pending', percent: 0, vmid: null, message: 'Queued', updatedAt: earlier }),
];

function steps(card: HTMLElement, hostname: string) {
  return within(within(card).getByRole('list', { name: `Steps of ${hostname}` }))
    .getAllByRole('listitem')
    .map((li) => `${li.getAttribute('data-status')}: ${li.textContent?.replace(/:.*$/, '')}`);
}

describe('deploy progress', () => {
  it('applies the snapshot and each progress event: bar, percent, current step, steps passed', async () => {
    const EventSource = installFakeEventSource();
    mockApi({
      'GET /api/deploys/7': () => jsonResponse(deploy(queued)),
      'GET /api/projects/1': () => jsonResponse(project()),
    });
    renderInRouter(<DeployProgress deployId={7} links={links} canOperate />);

    expect(await screen.findByRole('heading', { level: 1, name: 'Deploy to Smith residence' })).toBeInTheDocument();
    const stream = EventSource.at('/api/deploys/7/events');
    expect(screen.getByText('Connecting…')).toBeInTheDocument();

    stream.emit('snapshot', [
      progress({ instanceId: 1, type: 'ctrlable-pro', state: 'cloning', percent: 20, message: 'Cloning (linked clone)' }),
      progress({ instanceId: 2, type: 'zwavejs', state: 'pending', percent: 0, message: 'Waiting for the template (one clone at a time)' }),
    ]);

    expect(screen.getByText('Live')).toBeInTheDocument();
    const ha = screen.getByRole('article', { name: 'smith-ctrlable-pro' });
    expect(within(ha).getByRole('progressbar', { name: 'Progress of smith-ctrlable-pro' })).toHaveAttribute('aria-valuenow', '20');
    expect(ha).toHaveTextContent('Cloning (linked clone)');
    expect(within(ha).getByText('Cloning')).toBeInTheDocument();
    expect(steps(ha, 'smith-ctrlable-pro')).toEqual([
      'done: Queued',
      'current: Clone the template',
      'upcoming: Set MAC address and hostname',
      'upcoming: Start the guest',
      'upcoming: Find Home Assistant',
      'upcoming: Wait for Home Assistant',
      'upcoming: Restore the base backup',
      'upcoming: Set site credentials',
      'upcoming: Wire MQTT, Z-Wave JS',
      'upcoming: Ready',
    ]);

    stream.emit('progress', progress({ instanceId: 1, type: 'ctrlable-pro', state: 'restoring', percent: 78, message: 'Restoring the base backup: Home Assistant restarts' }));
    expect(within(ha).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '78');
    expect(steps(ha, 'smith-ctrlable-pro').slice(4, 7)).toEqual(['done: Find Home Assistant', 'done: Wait for Home Assistant', 'current: Restore the base backup']);

    stream.emit('progress', progress({ instanceId: 2, type: 'zwavejs', state: 'configuring', percent: 45, message: 'Setting a fresh MAC address and the hostname' }));
    stream.emit('progress', progress({ instanceId: 2, type: 'zwavejs', state: 'starting', percent: 60, message: 'Starting' }));
    stream.emit('progress', progress({ instanceId: 1, type: 'ctrlable-pro', state: 'active', percent: 100, message: 'Running' }));

    const zwave = screen.getByRole('article', { name: 'smith-zwavejs' });
    expect(within(zwave).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '60');
    expect(zwave).toHaveAttribute('data-tone', 'info');
    expect(steps(zwave, 'smith-zwavejs')).toEqual([
      'done: Queued',
      'done: Clone the template',
      'done: Set MAC address and hostname',
      'current: Start the guest',
      'upcoming: First boot',
      'upcoming: Personalise',
      'upcoming: Ready',
    ]);
    expect(ha).toHaveAttribute('data-tone', 'success');
    expect(within(ha).getByText('Active')).toBeInTheDocument();
    expect(within(ha).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '100');
    // The IP is not known yet: no link, and the card says so.
    expect(within(ha).getByText('Open Home Assistant: address not known yet')).toBeInTheDocument();

    const overall = screen.getByRole('region', { name: 'Overall progress' });
    expect(within(overall).getByRole('progressbar', { name: 'Overall progress' })).toHaveAttribute('aria-valuenow', '80');
    expect(overall).toHaveTextContent('1 of 2 active · 1 deploying');
    // A guest that changed state makes the page re-read the deploy (VMID, IP).
    await waitFor(() =>
      expect(vi.mocked(fetch).mock.calls.filter(([r]) => (r as Request).url.endsWith('/api/deploys/7')).length).toBeGreaterThan(1),
    );
  });

  it('shows a failed guest in red with the reason behind Details, and retries it', async () => {
    const user = userEvent.setup();
    const EventSource = installFakeEventSource();
    const retried: string[] = [];
    mockApi({
      'GET /api/deploys/7': () => jsonResponse(deploy(queued)),
      'GET /api/projects/1': () => jsonResponse(project()),
      'POST /api/instances/2/retry': (request) => {
        retried.push(request.headers.get('X-CSRF-TOKEN') ?? '');
        return jsonResponse(instance({ id: 2, type: 'zwavejs', state: 'configuring', percent: 45, message: 'Retrying' }));
      },
    });
    renderInRouter(<DeployProgress deployId={7} links={links} canOperate />);
    await screen.findByRole('article', { name: 'smith-zwavejs' });
    const stream = EventSource.at('/api/deploys/7/events');
    stream.emit('snapshot', [progress({ instanceId: 2, type: 'zwavejs', state: 'pending', percent: 0 })]);
    stream.emit('progress', progress({ instanceId: 2, type: 'zwavejs', state: 'cloning', percent: 20, message: 'Cloning (linked clone)' }));
    stream.emit('progress', progress({ instanceId: 2, type: 'zwavejs', state: 'configuring', percent: 45 }));
    stream.emit(
      'progress',
      progress({
        instanceId: 2,
        type: 'zwavejs',
        state: 'failed',
        percent: 100,
        message: 'Failed while configuring',
        error: "500 PUT /nodes/pve/lxc/1002/config: unable to parse value of 'net0'",
      }),
    );

    const card = screen.getByRole('article', { name: 'smith-zwavejs' });
    expect(card).toHaveAttribute('data-tone', 'danger');
    expect(within(card).getByText('Failed')).toBeInTheDocument();
    expect(card).toHaveTextContent('Failed while configuring');
    expect(within(card).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '45');
    expect(within(card).getByRole('progressbar')).toHaveAttribute('data-tone', 'danger');
    expect(steps(card, 'smith-zwavejs').slice(1, 4)).toEqual([
      'done: Clone the template',
      'failed: Set MAC address and hostname',
      'upcoming: Start the guest',
    ]);
    const reason = within(card).getByText(/unable to parse value of 'net0'/);
    expect(reason).not.toBeVisible();
    await user.click(within(card).getByText('Details'));
    expect(reason).toBeVisible();
    expect(screen.getByRole('region', { name: 'Overall progress' })).toHaveTextContent('1 guest failed — retry or remove it below.');
    expect(within(card).getByRole('button', { name: 'Remove' })).toBeInTheDocument();

    await user.click(within(card).getByRole('button', { name: 'Retry' }));

    await waitFor(() => expect(retried).toEqual(['csrf-test-token']));
  });

  it('works after a reload: the snapshot alone gives the whole picture', async () => {
    const EventSource = installFakeEventSource();
    mockApi({
      'GET /api/deploys/7': () =>
        jsonResponse(
          deploy([
            instance({ id: 1, type: 'ctrlable-pro', state: 'active', updatedAt: earlier }),
            instance({ id: 2, type: 'zwavejs', state: 'waiting', percent: 75, message: "Started; waiting for the guest's first boot", updatedAt: earlier }),
          ]),
        ),
      'GET /api/projects/1': () =>
        jsonResponse(project({ settings: siteSettings({ zwave: { mode: 'usb', host: null, port: 3333, adapter: 'zstack', usbDevice: '/dev/ttyACM0' } }) })),
    });
    renderInRouter(<DeployProgress deployId={7} links={links} canOperate />);
    await screen.findByRole('article', { name: 'smith-zwavejs' });
    EventSource.at('/api/deploys/7/events').emit('snapshot', [
      progress({ instanceId: 1, type: 'ctrlable-pro', state: 'active', percent: 100, message: 'Running', at: earlier }),
      progress({ instanceId: 2, type: 'zwavejs', state: 'waiting', percent: 75, message: "Started; waiting for the guest's first boot", at: earlier }),
    ]);

    const zwave = screen.getByRole('article', { name: 'smith-zwavejs' });
    expect(within(zwave).getByText('Waiting for first boot')).toBeInTheDocument();
    expect(steps(zwave, 'smith-zwavejs')[4]).toBe('current: First boot');
    // Z-Wave on a USB stick: flagged amber, with what to do.
    expect(within(zwave).getByRole('note')).toHaveTextContent('Needs a USB binding on the Proxmox host. Pass /dev/ttyACM0 through to CT 1002');
    expect(zwave).toHaveAttribute('data-tone', 'warning');
    expect(screen.getByRole('region', { name: 'Overall progress' })).toHaveTextContent(
      '1 of 2 active · 1 waiting for first boot',
    );
    expect(screen.getByRole('region', { name: 'Overall progress' })).toHaveTextContent('1 guest needs a USB binding');
  });

  it('links to the app at its IP and port once a guest is done', async () => {
    const EventSource = installFakeEventSource();
    mockApi({
      'GET /api/deploys/7': () =>
        jsonResponse(
          deploy([
            // The orchestrator found Home Assistant on port 80 (Core 2026.8+): its URL wins over the usual port.
            instance({ id: 1, type: 'ctrlable-pro', ip: '192.168.1.21', appUrl: 'http://192.168.1.21/' }),
            instance({ id: 3, type: 'docker-portainer', ip: '192.168.1.23' }),
          ]),
        ),
      'GET /api/projects/1': () => jsonResponse(project()),
    });
    renderInRouter(<DeployProgress deployId={7} links={links} canOperate />);
    await screen.findByRole('article', { name: 'smith-ctrlable-pro' });
    EventSource.at('/api/deploys/7/events').emit('snapshot', []);

    expect(within(screen.getByRole('article', { name: 'smith-ctrlable-pro' })).getByRole('link', { name: /Open Home Assistant/ })).toHaveAttribute(
      'href',
      'http://192.168.1.21/',
    );
    expect(within(screen.getByRole('article', { name: 'smith-docker-portainer' })).getByRole('link', { name: /Open Portainer/ })).toHaveAttribute(
      'href',
      'https://192.168.1.23:9443/',
    );
    const summary = screen.getByRole('region', { name: 'Overall progress' });
    expect(summary).toHaveTextContent('Done — all 2 guests are up.');
    expect(within(summary).getByRole('link', { name: 'Go to the project' })).toHaveAttribute('href', '/projects/1');
  });

  it('falls back to asking GET /api/deploys/{id} every 2 s when the event stream fails', async () => {
    vi.useFakeTimers({ shouldAdvanceTime: true });
    try {
      const EventSource = installFakeEventSource();
      let calls = 0;
      mockApi({
        'GET /api/deploys/7': () => {
          calls += 1;
          return jsonResponse(
            deploy([instance({ id: 2, type: 'zwavejs', state: calls === 1 ? 'cloning' : 'starting', percent: calls === 1 ? 20 : 60 })]),
          );
        },
        'GET /api/projects/1': () => jsonResponse(project()),
      });
      renderInRouter(<DeployProgress deployId={7} links={links} canOperate />);
      const card = await screen.findByRole('article', { name: 'smith-zwavejs' });
      expect(within(card).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '20');

      const stream = EventSource.at('/api/deploys/7/events');
      stream.fail();

      expect(stream.closed).toBe(true);
      expect(screen.getByText(/Live updates unavailable — checking every 2 s/)).toBeInTheDocument();
      await act(() => vi.advanceTimersByTimeAsync(DEPLOY_POLL_MS));
      await waitFor(() => expect(within(card).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '60'));
      expect(calls).toBeGreaterThanOrEqual(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('gives a viewer the progress but no buttons', async () => {
    const EventSource = installFakeEventSource();
    mockApi({
      'GET /api/deploys/7': () => jsonResponse(deploy([instance({ id: 2, type: 'zwavejs', state: 'failed', error: 'boom', message: 'Clone failed' })])),
      'GET /api/projects/1': () => jsonResponse(project()),
    });
    renderInRouter(<DeployProgress deployId={7} links={links} canOperate={false} />);
    const card = await screen.findByRole('article', { name: 'smith-zwavejs' });
    EventSource.at('/api/deploys/7/events').emit('snapshot', []);
    expect(within(card).getByText('Failed')).toBeInTheDocument();
    expect(within(card).getByText('Details')).toBeInTheDocument();
    expect(screen.queryByRole('button')).not.toBeInTheDocument();
  });
});

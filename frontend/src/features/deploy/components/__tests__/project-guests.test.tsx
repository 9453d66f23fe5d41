import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { GuestCard } from '@/shared/api';
import { guest, snapshot } from '@/testing/fixtures/dashboard';
import { installFakeEventSource } from '@/testing/fake-event-source';
import { deploy, instance, progress, project, releaseDetail, siteSettings } from '@/testing/fixtures/projects';
import { jsonResponse, mockApi, problemResponse, renderInRouter } from '@/testing/test-utils';
import { ProjectGuests } from '../project-guests';

const links = { deploy: (id: number) => `/deploys/${id}`, deployWizard: '/projects/1/deploy' };

const ha = instance({ id: 1, type: 'ctrlable-pro', hostname: 'smith-ctrlable-pro', vmid: 1001, ip: '192.168.1.21' });
const zwave = instance({ id: 2, type: 'zwavejs', hostname: 'smith-zwavejs', vmid: 1002, state: 'waiting', percent: 75, message: "Started; waiting for the guest's first boot" });

function hostWith(guests: GuestCard[]) {
  return snapshot({ projects: [{ projectId: 1, name: 'Smith residence', slug: 'smith', guests }], otherGuests: [] });
}

const running = (id: number, vmid: number, name: string) => guest({ vmid, name, instanceId: id, status: 'running' });
const stopped = (id: number, vmid: number, name: string) => guest({ vmid, name, instanceId: id, status: 'stopped' });

describe('project guests', () => {
  it('offers Stop and Reboot for a running guest and Start for a stopped one; Stop shuts it down cleanly', async () => {
    const user = userEvent.setup();
    const EventSource = installFakeEventSource();
    const posted: string[] = [];
    let haRunning = true;
    mockApi({
      'GET /api/projects/1': () => jsonResponse(project({ instances: [ha, zwave] })),
      'GET /api/dashboard': () =>
        jsonResponse(
          hostWith([
            haRunning ? running(1, 1001, 'smith-ctrlable-pro') : stopped(1, 1001, 'smith-ctrlable-pro'),
            stopped(2, 1002, 'smith-zwavejs'),
          ]),
        ),
      'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
      'POST /api/instances/1/shutdown': () => {
        posted.push('shutdown');
        haRunning = false;
        return jsonResponse(ha);
      },
    });
    renderInRouter(<ProjectGuests project={project({ instances: [ha, zwave] })} canOperate links={links} />);
    EventSource.at('/api/projects/1/events').emit('snapshot', []);

    const haCard = screen.getByRole('article', { name: 'smith-ctrlable-pro' });
    const actions = within(haCard).getByRole('group', { name: 'Actions for smith-ctrlable-pro' });
    // Until the host has said whether it runs, every power action is offered; then only those that apply.
    await waitFor(() => expect(within(actions).getAllByRole('button').map((b) => b.textContent)).toEqual(['Stop', 'Reboot', 'Delete']));
    expect(within(haCard).getByRole('link', { name: /Open Home Assistant/ })).toHaveAttribute('href', 'http://192.168.1.21:8123/');
    expect(within(haCard).getByText('192.168.1.21')).toBeInTheDocument();

    const zwaveCard = screen.getByRole('article', { name: 'smith-zwavejs' });
    await waitFor(() => expect(within(zwaveCard).getByText('Stopped')).toBeInTheDocument());
    expect(zwaveCard).toHaveAttribute('data-tone', 'neutral');
    expect(
      within(within(zwaveCard).getByRole('group', { name: 'Actions for smith-zwavejs' }))
        .getAllByRole('button')
        .map((b) => b.textContent),
    ).toEqual(['Start', 'Delete']);

    await user.click(within(haCard).getByRole('button', { name: 'Stop' }));

    expect(await within(haCard).findByText('Stopped')).toBeInTheDocument();
    expect(within(haCard).getByRole('button', { name: 'Start' })).toBeInTheDocument();
    expect(within(haCard).queryByRole('button', { name: 'Stop' })).not.toBeInTheDocument();
    expect(posted).toEqual(['shutdown']);
  });

  it('says on a running guest\'s card when its app does not answer, and since when', async () => {
    const EventSource = installFakeEventSource();
    const activeZwave = instance({ id: 2, type: 'zwavejs', hostname: 'smith-zwavejs', vmid: 1002, ip: '192.168.1.22' });
    const since = '2026-06-01T14:02:00Z';
    mockApi({
      'GET /api/projects/1': () => jsonResponse(project({ instances: [ha, activeZwave] })),
      'GET /api/dashboard': () =>
        jsonResponse(
          hostWith([
            { ...running(1, 1001, 'smith-ctrlable-pro'), app: { state: 'up', since, checkedAt: since, detail: 'HTTP 200', target: 'http://192.168.1.21:8123/' } },
            { ...running(2, 1002, 'smith-zwavejs'), app: { state: 'down', since, checkedAt: since, detail: 'connection refused', target: 'http://192.168.1.22:8091/' } },
          ]),
        ),
      'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
    });
    renderInRouter(<ProjectGuests project={project({ instances: [ha, activeZwave] })} canOperate links={links} />);
    EventSource.at('/api/projects/1/events').emit('snapshot', []);

    const zwaveCard = screen.getByRole('article', { name: 'smith-zwavejs' });
    const down = await within(zwaveCard).findByText(/^App down since/);
    expect(down.closest('[data-tone]')).toHaveAttribute('data-tone', 'danger');
    expect(within(zwaveCard).getByText('Active')).toBeInTheDocument();
    expect(zwaveCard).toHaveAttribute('data-tone', 'danger');
    expect(within(screen.getByRole('article', { name: 'smith-ctrlable-pro' })).getByText(/^App up since/)).toBeInTheDocument();
  });

  it('explains a refused power action and offers a forced stop when a clean one fails', async () => {
    const user = userEvent.setup();
    installFakeEventSource();
    const posted: string[] = [];
    mockApi({
      'GET /api/projects/1': () => jsonResponse(project({ instances: [ha] })),
      'GET /api/dashboard': () => jsonResponse(hostWith([running(1, 1001, 'smith-ctrlable-pro')])),
      'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
      'POST /api/instances/1/shutdown': () => problemResponse(502, 'Proxmox could not shutdown smith-ctrlable-pro', 'TASK ERROR: VM quit/powerdown failed'),
      'POST /api/instances/1/stop': () => {
        posted.push('stop');
        return jsonResponse(ha);
      },
    });
    renderInRouter(<ProjectGuests project={project({ instances: [ha] })} canOperate links={links} />);
    const card = screen.getByRole('article', { name: 'smith-ctrlable-pro' });
    await user.click(await within(card).findByRole('button', { name: 'Stop' }));

    const alert = await within(card).findByRole('alert');
    expect(alert).toHaveTextContent('Could not stop smith-ctrlable-pro: TASK ERROR: VM quit/powerdown failed');
    expect(alert).toHaveTextContent('POST /api/instances/1/shutdown → HTTP 502');
    await user.click(within(alert).getByRole('button', { name: /Force stop/ }));
    await waitFor(() => expect(posted).toEqual(['stop']));
  });

  it('flags a guest that needs a USB binding in amber', async () => {
    installFakeEventSource();
    const usb = project({
      instances: [instance({ id: 3, type: 'zigbee2mqtt', hostname: 'smith-zigbee2mqtt', vmid: 1003 })],
      settings: siteSettings({ zigbee: { mode: 'usb', host: null, port: 6638, adapter: 'ember', usbDevice: '/dev/serial/by-id/usb-sonoff' } }),
    });
    mockApi({
      'GET /api/projects/1': () => jsonResponse(usb),
      'GET /api/dashboard': () => jsonResponse(hostWith([running(3, 1003, 'smith-zigbee2mqtt')])),
      'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
    });
    renderInRouter(<ProjectGuests project={usb} canOperate links={links} />);

    const card = screen.getByRole('article', { name: 'smith-zigbee2mqtt' });
    expect(card).toHaveAttribute('data-tone', 'warning');
    expect(within(card).getByText('Needs USB binding')).toBeInTheDocument();
    expect(within(card).getByRole('note')).toHaveTextContent(
      'Needs a USB binding on the Proxmox host. Pass /dev/serial/by-id/usb-sonoff through to CT 1003',
    );
  });

  it('adds an instance of a component and shows it as it is deployed', async () => {
    const user = userEvent.setup();
    const EventSource = installFakeEventSource();
    const added: unknown[] = [];
    mockApi({
      'GET /api/projects/1': () => jsonResponse(project({ instances: [ha] })),
      'GET /api/dashboard': () => jsonResponse(hostWith([running(1, 1001, 'smith-ctrlable-pro')])),
      'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
      'POST /api/projects/1/instances': async (request) => {
        added.push(await request.json());
        return jsonResponse(deploy([instance({ id: 9, type: 'zigbee2mqtt', state: 'pending', percent: 0 })], { id: 8 }), { status: 202 });
      },
    });
    renderInRouter(<ProjectGuests project={project({ instances: [ha] })} canOperate links={links} />);
    const stream = EventSource.at('/api/projects/1/events');
    stream.emit('snapshot', []);

    const form = await screen.findByRole('form', { name: 'Add an instance' });
    const select = within(form).getByLabelText('Add an instance');
    // A site has one Home Assistant: not offered again.
    expect(within(select).getAllByRole('option').map((o) => o.getAttribute('value'))).toEqual(['zwavejs', 'zigbee2mqtt', 'frigate']);
    await user.selectOptions(select, 'zigbee2mqtt');
    await user.click(within(form).getByRole('button', { name: 'Add instance' }));

    await waitFor(() => expect(added).toEqual([{ type: 'zigbee2mqtt' }]));
    expect(await screen.findByRole('link', { name: 'Watch it live' })).toHaveAttribute('href', '/deploys/8');

    stream.emit('progress', progress({ instanceId: 9, deployId: 8, type: 'zigbee2mqtt', hostname: 'smith-zigbee2mqtt-2', state: 'cloning', percent: 20, message: 'Cloning (linked clone)' }));
    const card = screen.getByRole('article', { name: 'smith-zigbee2mqtt-2' });
    expect(within(card).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '20');
    expect(within(card).getByRole('link', { name: 'Watch live progress' })).toHaveAttribute('href', '/deploys/8');
    expect(screen.getByRole('link', { name: /Deploy in progress — watch live progress/ })).toHaveAttribute('href', '/deploys/8');
  });

  it('removes a deleted guest from the list as the stream reports it', async () => {
    const EventSource = installFakeEventSource();
    mockApi({
      'GET /api/projects/1': () => jsonResponse(project({ instances: [ha, zwave] })),
      'GET /api/dashboard': () => jsonResponse(hostWith([])),
      'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
    });
    renderInRouter(<ProjectGuests project={project({ instances: [ha, zwave] })} canOperate links={links} />);
    const stream = EventSource.at('/api/projects/1/events');
    stream.emit('progress', progress({ instanceId: 2, type: 'zwavejs', hostname: 'smith-zwavejs', state: 'deleting', percent: 50, message: 'Deleting' }));
    expect(screen.getByRole('article', { name: 'smith-zwavejs' })).toHaveTextContent('Stopping and destroying the guest and its disks');
    stream.emit('progress', progress({ instanceId: 2, type: 'zwavejs', hostname: 'smith-zwavejs', state: 'deleted', percent: 100, message: 'Deleted' }));
    expect(screen.queryByRole('article', { name: 'smith-zwavejs' })).not.toBeInTheDocument();
  });

  it('shows a viewer every guest but no action buttons', async () => {
    installFakeEventSource();
    const failed = instance({ id: 4, type: 'frigate', hostname: 'smith-frigate', state: 'failed', message: 'Clone failed', error: 'no space left' });
    mockApi({
      'GET /api/projects/1': () => jsonResponse(project({ instances: [ha, zwave, failed] })),
      'GET /api/dashboard': () => jsonResponse(hostWith([running(1, 1001, 'smith-ctrlable-pro')])),
    });
    renderInRouter(<ProjectGuests project={project({ instances: [ha, zwave, failed] })} canOperate={false} links={links} />);

    expect(screen.getAllByRole('article')).toHaveLength(3);
    expect(within(screen.getByRole('article', { name: 'smith-frigate' })).getByText('Details')).toBeInTheDocument();
    expect(screen.getByRole('link', { name: /Open Home Assistant/ })).toBeInTheDocument();
    expect(screen.queryByRole('button')).not.toBeInTheDocument();
    expect(screen.queryByRole('form', { name: 'Add an instance' })).not.toBeInTheDocument();
  });

  it('says what to do when nothing is deployed yet', async () => {
    installFakeEventSource();
    mockApi({
      'GET /api/projects/1': () => jsonResponse(project()),
      'GET /api/dashboard': () => jsonResponse(hostWith([])),
    });
    renderInRouter(<ProjectGuests project={project()} canOperate links={links} />);
    const empty = screen.getByRole('region', { name: 'Nothing deployed yet' });
    expect(within(empty).getByRole('link', { name: 'Deploy the stack' })).toHaveAttribute('href', '/projects/1/deploy');
  });
});

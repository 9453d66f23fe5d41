import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { snapshot } from '@/testing/fixtures/dashboard';
import { installFakeEventSource } from '@/testing/fake-event-source';
import { instance, progress, project, releaseDetail } from '@/testing/fixtures/projects';
import { jsonResponse, mockApi, problemWithCode, renderInRouter } from '@/testing/test-utils';
import { ProjectGuests } from '../project-guests';

const links = { deploy: (id: number) => `/deploys/${id}`, deployWizard: '/projects/1/deploy' };
const offer = { from: '2026.06', to: '2026.07', possible: true, code: null, reason: null };
const ha = instance({ id: 1, type: 'ctrlable-pro', hostname: 'smith-ctrlable-pro', vmid: 1001, upgrade: offer });
const zwave = instance({ id: 2, type: 'zwavejs', hostname: 'smith-zwavejs', vmid: 1002, upgrade: offer });
const frigate = instance({
  id: 3,
  type: 'frigate',
  hostname: 'smith-frigate',
  vmid: 1003,
  upgrade: { ...offer, possible: false, code: 'no-update-routine', reason: 'community-scripts has no in-place update for frigate' },
});

function apiWith(instances: ReturnType<typeof instance>[], extra: Parameters<typeof mockApi>[0] = {}) {
  mockApi({
    'GET /api/projects/1': () => jsonResponse(project({ instances })),
    'GET /api/dashboard': () => jsonResponse(snapshot({ projects: [], otherGuests: [] })),
    'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
    ...extra,
  });
}

describe('upgrades on the project page', () => {
  it('shows "upgrade available (from → to)" on each card, with why one cannot be upgraded', async () => {
    installFakeEventSource();
    apiWith([ha, zwave, frigate]);
    renderInRouter(<ProjectGuests project={project({ instances: [ha, zwave, frigate] })} canOperate links={links} />);

    const haCard = screen.getByRole('article', { name: 'smith-ctrlable-pro' });
    expect(within(haCard).getByRole('note')).toHaveTextContent('Upgrade available (2026.06 → 2026.07)');
    expect(within(haCard).getByRole('button', { name: 'Upgrade smith-ctrlable-pro' })).toBeInTheDocument();
    const frigateCard = screen.getByRole('article', { name: 'smith-frigate' });
    expect(within(frigateCard).getByRole('note')).toHaveTextContent(
      'Upgrade available (2026.06 → 2026.07) — community-scripts has no in-place update for frigate',
    );
    expect(within(frigateCard).queryByRole('button', { name: /Upgrade/ })).not.toBeInTheDocument();
  });

  it('upgrades all after a confirmation that lists what is upgraded and what is not, then shows the progress', async () => {
    const user = userEvent.setup();
    const EventSource = installFakeEventSource();
    const posted: string[] = [];
    apiWith([ha, zwave, frigate], {
      'POST /api/projects/1/upgrade': () => {
        posted.push('project');
        return jsonResponse({ projectId: 1, started: [ha, zwave], skipped: [] }, { status: 202 });
      },
    });
    renderInRouter(<ProjectGuests project={project({ instances: [ha, zwave, frigate] })} canOperate links={links} />);
    EventSource.at('/api/projects/1/events').emit('snapshot', []);

    await user.click(screen.getByRole('button', { name: 'Upgrade all to 2026.07' }));
    const dialog = screen.getByRole('dialog', { name: 'Upgrade all guests to 2026.07?' });
    expect(within(dialog).getByRole('list', { name: 'Guests to upgrade' })).toHaveTextContent('smith-ctrlable-pro: 2026.06 → 2026.07');
    expect(within(dialog).getByRole('list', { name: 'Guests not upgraded' })).toHaveTextContent('smith-frigate: community-scripts has no in-place update');
    expect(dialog).toHaveTextContent('rolled back to its snapshot');
    await user.click(within(dialog).getByRole('button', { name: 'Upgrade 2 guests' }));

    await waitFor(() => expect(screen.queryByRole('dialog')).not.toBeInTheDocument());
    expect(posted).toEqual(['project']);
    EventSource.at('/api/projects/1/events').emit('progress', progress({ instanceId: 2, type: 'zwavejs', state: 'upgrading', percent: 50, message: 'Upgrading to 2026.07: waiting for the guest to run its update', at: new Date(Date.now() + 1000).toISOString() }));
    const zwaveCard = screen.getByRole('article', { name: 'smith-zwavejs' });
    expect(await within(zwaveCard).findByText('Upgrading to 2026.07: waiting for the guest to run its update')).toBeInTheDocument();
    expect(within(zwaveCard).getByText('Upgrading')).toBeInTheDocument();
  });

  it('says why an upgrade was refused and keeps the dialog open', async () => {
    const user = userEvent.setup();
    installFakeEventSource();
    apiWith([zwave], {
      'POST /api/instances/2/upgrade': () => problemWithCode(409, 'Guest not running', 'not-running', 'smith-zwavejs is stopped; start it first.'),
    });
    renderInRouter(<ProjectGuests project={project({ instances: [zwave] })} canOperate links={links} />);

    await user.click(screen.getByRole('button', { name: 'Upgrade smith-zwavejs' }));
    const dialog = screen.getByRole('dialog', { name: 'Upgrade smith-zwavejs to 2026.07?' });
    await user.click(within(dialog).getByRole('button', { name: 'Upgrade' }));

    expect(await within(dialog).findByRole('alert')).toHaveTextContent('Not started: smith-zwavejs is stopped; start it first.');
  });

  it('offers no upgrade to a viewer', () => {
    installFakeEventSource();
    apiWith([zwave]);
    renderInRouter(<ProjectGuests project={project({ instances: [zwave] })} canOperate={false} links={links} />);
    expect(screen.getByRole('note')).toHaveTextContent('Upgrade available (2026.06 → 2026.07)');
    expect(screen.queryByRole('button', { name: /Upgrade/ })).not.toBeInTheDocument();
  });
});

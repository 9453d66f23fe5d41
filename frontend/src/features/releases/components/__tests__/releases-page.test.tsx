import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import type { Role } from '@/shared/api';
import { stubEventSource, FakeEventSource } from '@/testing/fake-event-source';
import { configuredTrigger, failedBuild, releaseDetail, runningBuild } from '@/testing/fixtures/builds';
import { invalidRelease, validRelease } from '@/testing/fixtures/releases';
import { jsonResponse, mockApi, problemWithCode, renderWithQueryClient } from '@/testing/test-utils';
import { formatDuration } from '../build-history';
import { templateFraction } from '../build-view';
import { ReleasesPage } from '../releases-page';

const notBuilt = { ...validRelease, name: '2026.08', file: '2026.08.yaml', active: false };

function Page({ role = 'operator', initial = null }: { role?: Role; initial?: number | null }) {
  const [selected, setSelected] = useState<number | null>(initial);
  return <ReleasesPage role={role} selectedBuild={selected} onSelectBuild={setSelected} />;
}

function api(overrides: Record<string, (request: Request) => Response | Promise<Response>> = {}) {
  return mockApi({
    'GET /api/releases': () => jsonResponse([validRelease, notBuilt, invalidRelease]),
    'GET /api/builds/trigger': () => jsonResponse(configuredTrigger),
    'GET /api/builds': () => jsonResponse([failedBuild]),
    ...overrides,
  });
}

describe('ReleasesPage', () => {
  it('lets an operator build a release after confirming, then follows the build live', async () => {
    stubEventSource();
    const posted: unknown[] = [];
    api({
      'POST /api/releases/2026.08/build': async (request) => {
        posted.push(await request.json());
        expect(request.headers.get('X-CSRF-TOKEN')).toBe('csrf-test-token');
        return jsonResponse({ ...runningBuild, release: '2026.08' }, { status: 202 });
      },
    });
    const user = userEvent.setup();
    renderWithQueryClient(<Page />);

    await user.click(await screen.findByRole('button', { name: 'Build release 2026.08' }));
    const dialog = screen.getByRole('dialog', { name: 'Build release 2026.08?' });
    expect(dialog).toHaveTextContent('The Proxmox host (root@pve.local:22) runs community-scripts 2026-05-30 to create 6 templates');
    expect(screen.queryByRole('button', { name: 'Build release 2026.06' })).toBeEnabled();

    await user.click(within(dialog).getByRole('checkbox', { name: 'Rebuild templates that are already built for this release' }));
    await user.click(within(dialog).getByRole('button', { name: 'Start build of 2026.08' }));

    await waitFor(() => expect(posted).toEqual([{ force: true }]));
    const source = await waitFor(() => FakeEventSource.for('/api/builds/12/events'));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();

    act(() => {
      source.emit('build', { build: { ...runningBuild, release: '2026.08' } });
      source.emit('log', { logFrom: 0, logLines: ['::ctrlable build-started release=2026.08', '[zwavejs] === Zwave-JS-UI ==='] });
    });

    const view = screen.getByRole('region', { name: 'Build 12 · release 2026.08' });
    expect(within(view).getByText('Running')).toBeInTheDocument();
    expect(within(view).getByRole('status')).toHaveTextContent('1 of 3 templates done. You can leave this page; the build goes on.');
    const zwave = within(view).getByRole('progressbar', { name: 'zwavejs progress' });
    expect(zwave).toHaveAttribute('value', '29');
    expect(zwave).toHaveAttribute('aria-valuetext', '29%, Step 2 of 7: Running ct/zwave-js-ui.sh (community-scripts 2026-05-30)');
    expect(within(view).getByRole('progressbar', { name: 'ctrlable-pro progress' })).toHaveAttribute('value', '100');
    expect(within(view).getByRole('log', { name: 'Build log' })).toHaveTextContent('[zwavejs] === Zwave-JS-UI ===');

    act(() => {
      source.emit('log', { logFrom: 2, logLines: ['[zwavejs]  + Installed Z-Wave JS UI'] });
      source.emit('end', {
        build: {
          ...runningBuild,
          release: '2026.08',
          state: 'succeeded',
          finishedAt: '2026-06-01T10:09:00Z',
          templates: runningBuild.templates.map((t) => ({ ...t, state: 'built', step: 7, steps: 7, appVersion: t.appVersion ?? '1.0' })),
        },
      });
    });

    expect(within(view).getByText('Succeeded')).toBeInTheDocument();
    expect(within(view).getByRole('status')).toHaveTextContent('All 3 templates are built. Release 2026.08 is the active release.');
    expect(within(view).getByRole('log')).toHaveTextContent('[zwavejs] + Installed Z-Wave JS UI');
    expect(source.readyState).toBe(FakeEventSource.CLOSED);
  });

  it('shows why a build cannot start: no host trigger, or one already running', async () => {
    stubEventSource();
    api({ 'GET /api/builds/trigger': () => jsonResponse({ configured: false, target: null, running: null }) });
    renderWithQueryClient(<Page />);

    expect(await screen.findByRole('note')).toHaveTextContent('the host trigger on the Proxmox host is not set up');
    await waitFor(() => expect(screen.getByRole('button', { name: 'Build release 2026.06' })).toBeDisabled());
    expect(screen.getByRole('button', { name: 'Build release 2026.06' })).toHaveAttribute(
      'title',
      'Builds are not set up on this provisioner (host trigger).',
    );
  });

  it('opens the running build by itself and blocks a second one', async () => {
    stubEventSource();
    api({ 'GET /api/builds/trigger': () => jsonResponse({ ...configuredTrigger, running: runningBuild }) });
    renderWithQueryClient(<Page />);

    const source = await waitFor(() => FakeEventSource.for('/api/builds/12/events'));
    act(() => source.emit('build', { build: runningBuild }));
    expect(await screen.findByRole('region', { name: 'Build 12 · release 2026.06' })).toBeInTheDocument();
    await waitFor(() => expect(screen.getByRole('button', { name: 'Build release 2026.08' })).toBeDisabled());
    expect(screen.getByRole('button', { name: 'Build release 2026.08' })).toHaveAttribute(
      'title',
      'Build 12 of 2026.06 is running; one build runs at a time.',
    );
  });

  it('shows the refusal of the server in the confirmation', async () => {
    stubEventSource();
    api({
      'POST /api/releases/2026.06/build': () =>
        problemWithCode(409, 'Cannot rebuild the active release', 'release-active', '2026.06 is the active release: a forced rebuild would replace the templates deploys use.'),
    });
    const user = userEvent.setup();
    renderWithQueryClient(<Page />);

    await user.click(await screen.findByRole('button', { name: 'Build release 2026.06' }));
    const dialog = screen.getByRole('dialog', { name: 'Build release 2026.06?' });
    expect(within(dialog).queryByRole('checkbox')).not.toBeInTheDocument();
    await user.click(within(dialog).getByRole('button', { name: 'Start build of 2026.06' }));

    expect(await within(dialog).findByRole('alert')).toHaveTextContent('2026.06 is the active release');
    await user.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(screen.queryByRole('dialog')).not.toBeInTheDocument();
  });

  it('offers no build to viewers but shows templates, versions and the history', async () => {
    stubEventSource();
    api({ 'GET /api/releases/2026.06': () => jsonResponse(releaseDetail) });
    const user = userEvent.setup();
    renderWithQueryClient(<Page role="viewer" />);

    await user.click(await screen.findByRole('button', { name: 'Templates of 2026.06' }));
    const templates = await screen.findByRole('table', { name: 'Templates of 2026.06' });
    const zwave = within(templates).getByRole('row', { name: /^zwavejs/ });
    expect(zwave).toHaveTextContent('ct/zwave-js-ui.sh');
    expect(zwave).toHaveTextContent('v9.27.2');
    expect(zwave).toHaveTextContent('Built');
    expect(within(templates).getByRole('row', { name: /^frigate/ })).toHaveTextContent('Not built');
    expect(screen.queryByRole('button', { name: /^Build release/ })).not.toBeInTheDocument();

    const history = screen.getByRole('region', { name: 'Build history' });
    const row = within(history).getByRole('row', { name: /^11/ });
    expect(row).toHaveTextContent('Failed');
    expect(row).toHaveTextContent('4 min 12 s');
    expect(row).toHaveTextContent('zigbee2mqtt: ct/zigbee2mqtt.sh failed with exit code 3');

    await user.click(within(row).getByRole('button', { name: 'View build 11' }));
    const source = await waitFor(() => FakeEventSource.for('/api/builds/11/events'));
    act(() => {
      source.emit('build', { build: failedBuild });
      source.emit('log', { logFrom: 0, logLines: ['[zigbee2mqtt]  x the download failed'] });
      source.emit('end', { build: failedBuild });
    });
    const view = screen.getByRole('region', { name: 'Build 11 · release 2026.06' });
    expect(within(view).getByRole('alert')).toHaveTextContent('1 of 3 template(s) failed');
    expect(within(view).getByRole('status')).toHaveTextContent('2 of 3 templates built. The active release did not change.');
    const failedTemplate = view.querySelector('[data-template="zigbee2mqtt"]');
    expect(failedTemplate).toHaveTextContent('Stopped at step 3 of 7');
    expect(failedTemplate).toHaveTextContent('ct/zigbee2mqtt.sh failed with exit code 3 (see the log)');
    expect(view.querySelector('[data-template="zwavejs"]')).toHaveTextContent('Already built');

    await user.click(within(view).getByRole('button', { name: 'Close build 11' }));
    expect(screen.queryByRole('region', { name: /^Build 11/ })).not.toBeInTheDocument();
  });
});

describe('build helpers', () => {
  it('measures progress and durations as people read them', () => {
    const [, zwave, pending] = runningBuild.templates;
    expect(templateFraction(zwave!)).toBeCloseTo(2 / 7);
    expect(templateFraction(pending!)).toBe(0);
    expect(templateFraction({ ...pending!, state: 'skipped' })).toBe(1);
    expect(formatDuration('2026-06-01T10:00:00Z', '2026-06-01T10:00:58Z')).toBe('58 s');
    expect(formatDuration('2026-06-01T10:00:00Z', '2026-06-01T11:03:00Z')).toBe('1 h 3 min');
    expect(formatDuration('2026-06-01T10:00:00Z', null, new Date('2026-06-01T10:02:05Z'))).toBe('2 min 5 s');
    vi.unstubAllGlobals();
  });
});

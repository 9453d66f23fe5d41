import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { describe, expect, it, vi } from 'vitest';
import type { Role } from '@/shared/api';
import { stubEventSource, FakeEventSource } from '@/testing/fake-event-source';
import { configuredTrigger, failedBuild, partlyBuiltDetail, rebuildOfFrigate, releaseDetail, runningBuild } from '@/testing/fixtures/builds';
import { invalidRelease, validRelease } from '@/testing/fixtures/releases';
import { jsonResponse, mockApi, problemWithCode, renderWithQueryClient } from '@/testing/test-utils';
import { hostReady } from '@/testing/fixtures/builds';
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
      'POST /api/releases/2026.08/check': () => jsonResponse(hostReady),
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
    expect(dialog).toHaveTextContent('2026.08 becomes the active release as soon as one of them is built');
    expect(screen.queryByRole('button', { name: 'Build release 2026.06' })).toBeEnabled();
    expect(await within(dialog).findByText(/The host is ready for this build \(2 checks passed\)/)).toBeInTheDocument();

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
      'POST /api/releases/2026.06/check': () => jsonResponse(hostReady),
      'POST /api/releases/2026.06/build': () =>
        problemWithCode(409, 'A build is running', 'build-running', 'Build 12 of 2026.06 is running on this host; one build runs at a time.'),
    });
    const user = userEvent.setup();
    renderWithQueryClient(<Page />);

    await user.click(await screen.findByRole('button', { name: 'Build release 2026.06' }));
    const dialog = screen.getByRole('dialog', { name: 'Build release 2026.06?' });
    expect(within(dialog).queryByRole('checkbox')).not.toBeInTheDocument();
    const start = within(dialog).getByRole('button', { name: 'Start build of 2026.06' });
    await waitFor(() => expect(start).toBeEnabled());
    await user.click(start);

    expect(await within(dialog).findByRole('alert')).toHaveTextContent('one build runs at a time');
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
    expect(within(view).getByRole('status')).toHaveTextContent(
      '2 of 3 templates built; they made release 2026.06 the active release. The failed ones cannot be deployed until they are rebuilt',
    );
    const failedTemplate = view.querySelector('[data-template="zigbee2mqtt"]');
    expect(failedTemplate).toHaveTextContent('Stopped at step 3 of 7');
    expect(failedTemplate).toHaveTextContent('ct/zigbee2mqtt.sh failed with exit code 3 (see the log)');
    expect(view.querySelector('[data-template="zwavejs"]')).toHaveTextContent('Already built');

    await user.click(within(view).getByRole('button', { name: 'Close build 11' }));
    expect(screen.queryByRole('region', { name: /^Build 11/ })).not.toBeInTheDocument();
  });
});

describe('ReleasesPage: checks, partial releases and rebuilding one template', () => {
  it('lists what the host check found and builds only when asked to build anyway', async () => {
    stubEventSource();
    const checks: unknown[] = [];
    const posted: unknown[] = [];
    let answer: () => void = () => {};
    const answered = new Promise<void>((resolve) => (answer = resolve));
    api({
      'POST /api/releases/2026.08/check': async (request) => {
        checks.push(await request.json());
        await answered;
        return jsonResponse({
          ok: false,
          problems: ['storage local-lvm has 3 GiB free; the templates need 44 GiB', 'VMID 9004 is in use by a guest this host did not build'],
          passed: ['upstream tag 2026-05-30 resolves to the recorded commit'],
        });
      },
      'POST /api/releases/2026.08/build': async (request) => {
        posted.push(await request.json());
        return jsonResponse({ ...runningBuild, release: '2026.08' }, { status: 202 });
      },
    });
    const user = userEvent.setup();
    renderWithQueryClient(<Page />);

    await user.click(await screen.findByRole('button', { name: 'Build release 2026.08' }));
    const dialog = screen.getByRole('dialog', { name: 'Build release 2026.08?' });
    expect(within(dialog).getByRole('status')).toHaveTextContent('Checking the host first');
    const start = within(dialog).getByRole('button', { name: 'Start build of 2026.08' });
    expect(start).toBeDisabled();
    answer();

    const alert = await within(dialog).findByRole('alert');
    expect(alert).toHaveTextContent('The host check found 2 problems:');
    expect(within(alert).getByRole('list', { name: 'Problems the host found' })).toHaveTextContent(
      'storage local-lvm has 3 GiB free; the templates need 44 GiB',
    );
    expect(within(dialog).getByText('Checks passed (1)')).toBeInTheDocument();
    expect(start).toBeDisabled();

    await user.click(within(dialog).getByRole('button', { name: 'Check again' }));
    await waitFor(() => expect(checks).toHaveLength(2));
    await within(dialog).findByRole('alert');
    await user.click(within(dialog).getByRole('checkbox', { name: 'Build anyway: I have read why it may fail' }));
    expect(start).toBeEnabled();
    await user.click(start);

    await waitFor(() => expect(posted).toEqual([{ force: false }]));
    expect(checks).toEqual([{}, {}]);
  });

  it('says why the host could not be checked and still lets an operator build anyway', async () => {
    stubEventSource();
    api({
      'POST /api/releases/2026.08/check': () =>
        problemWithCode(502, 'The host refused the check', 'check-refused', 'The host refused the check: usage: ctrlable-build <release>.'),
    });
    const user = userEvent.setup();
    renderWithQueryClient(<Page />);

    await user.click(await screen.findByRole('button', { name: 'Build release 2026.08' }));
    const dialog = screen.getByRole('dialog', { name: 'Build release 2026.08?' });

    expect(await within(dialog).findByRole('alert')).toHaveTextContent(
      'The host could not be checked: The host refused the check: usage: ctrlable-build <release>.',
    );
    expect(within(dialog).getByRole('button', { name: 'Start build of 2026.08' })).toBeDisabled();
    await user.click(within(dialog).getByRole('checkbox', { name: 'Build anyway: I have read why it may fail' }));
    expect(within(dialog).getByRole('button', { name: 'Start build of 2026.08' })).toBeEnabled();
  });

  it('shows a partly built active release, why a template is missing, and rebuilds that template alone', async () => {
    stubEventSource();
    const partial = { ...validRelease, templatesBuilt: 1, templateCount: 2 };
    const checks: unknown[] = [];
    const posted: unknown[] = [];
    api({
      'GET /api/releases': () => jsonResponse([partial, notBuilt]),
      'GET /api/releases/2026.06': () => jsonResponse(partlyBuiltDetail),
      'POST /api/releases/2026.06/check': async (request) => {
        checks.push(await request.json());
        return jsonResponse(hostReady);
      },
      'POST /api/releases/2026.06/build': async (request) => {
        posted.push(await request.json());
        return jsonResponse(rebuildOfFrigate, { status: 202 });
      },
    });
    const user = userEvent.setup();
    renderWithQueryClient(<Page />);

    const row = await screen.findByRole('row', { name: /^2026\.06/ });
    expect(row).toHaveTextContent('Active, partly built');
    expect(row).toHaveTextContent('1 of 2 templates built');
    await user.click(within(row).getByRole('button', { name: 'Templates of 2026.06' }));
    const templates = await screen.findByRole('table', { name: 'Templates of 2026.06' });
    const pro = within(templates).getByRole('row', { name: /^ctrlable-pro/ });
    expect(pro).toHaveTextContent('Built');
    expect(pro).toHaveTextContent('HAOS image digest from GitHub at build time, not pinned in the manifest');
    expect(within(pro).queryByRole('button')).not.toBeInTheDocument();
    const frigate = within(templates).getByRole('row', { name: /^frigate/ });
    expect(frigate).toHaveTextContent('Unavailable');
    expect(frigate).toHaveTextContent('Cannot be deployed: build 11 failed: ct/frigate.sh failed with exit code 1 (see the log)');

    await user.click(within(frigate).getByRole('button', { name: 'Rebuild frigate of 2026.06' }));
    const dialog = screen.getByRole('dialog', { name: 'Rebuild frigate of release 2026.06?' });
    expect(dialog).toHaveTextContent('to build frigate only. The other templates of 2026.06, and the first-boot secret they carry, stay as they are');
    const start = within(dialog).getByRole('button', { name: 'Start rebuild of frigate' });
    await waitFor(() => expect(start).toBeEnabled());
    await user.click(start);

    await waitFor(() => expect(posted).toEqual([{ force: false, templates: ['frigate'] }]));
    expect(checks).toEqual([{ templates: ['frigate'] }]);
    const source = await waitFor(() => FakeEventSource.for('/api/builds/13/events'));
    act(() => source.emit('end', { build: { ...rebuildOfFrigate, state: 'succeeded', finishedAt: '2026-06-02T10:20:00Z', templates: [{ ...rebuildOfFrigate.templates[0]!, state: 'built', step: 7, steps: 7 }] } }));
    const view = screen.getByRole('region', { name: 'Build 13 · release 2026.06' });
    expect(view).toHaveTextContent('only frigate');
    expect(within(view).getByRole('status')).toHaveTextContent('Built: frigate. Release 2026.06 is the active release.');
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

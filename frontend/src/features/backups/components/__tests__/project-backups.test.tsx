import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { ProjectBackups as Backups } from '@/shared/api';
import { jsonResponse, mockApi, renderWithQueryClient } from '@/testing/test-utils';
import { ProjectBackups } from '../project-backups';

const archive = { volid: 'local:backup/vzdump-lxc-1001-2031_03_04-03_00_00.tar.zst', createdAt: '2031-03-04T03:00:00Z', size: 52_428_800, notes: 'Ctrlable backup' };

const backups = (overrides: Partial<Backups> = {}): Backups => ({
  settings: { schedule: { frequency: 'daily', day: null, time: '03:00' }, storage: 'local', retention: { keepLast: 7 } },
  schedule: 'daily at 03:00',
  nextRunAt: '2031-03-05T03:00:00Z',
  timeZone: 'Europe/Berlin',
  guests: [
    { instanceId: 5, hostname: 'smith-zwavejs', type: 'zwavejs', vmid: 1001, lastBackup: archive, count: 1, missing: false, archives: [archive] },
    { instanceId: 6, hostname: 'smith-frigate', type: 'frigate', vmid: 1002, lastBackup: null, count: 0, missing: true, archives: [] },
  ],
  runs: [],
  restores: [],
  problem: null,
  ...overrides,
});

describe('Project backups', () => {
  it('shows the last backup per guest and a missing one, and backs up now', async () => {
    let posted = 0;
    mockApi({
      'GET /api/projects/1/backups': () => jsonResponse(backups()),
      'POST /api/projects/1/backups': () => {
        posted += 1;
        return jsonResponse({ id: 1, slot: null, state: 'running', storage: 'local', keepLast: 7, requestedBy: 'op', startedAt: '2031-03-04T10:00:00Z', finishedAt: null, message: null, error: null }, { status: 202 });
      },
    });
    renderWithQueryClient(<ProjectBackups projectId={1} canOperate />);

    const list = await screen.findByRole('list', { name: 'Last backup per guest' });
    expect(within(list).getByText(/smith-frigate/).closest('li')).toHaveTextContent('no backup yet — backup missing');
    expect(within(list).getByText(/smith-zwavejs/).closest('li')).toHaveTextContent('50 MiB');
    await userEvent.click(screen.getByRole('button', { name: 'Back up now' }));
    expect(posted).toBe(1);
  });

  it('says a slot that has come is starting now, not when it was', async () => {
    mockApi({ 'GET /api/projects/1/backups': () => jsonResponse(backups({ nextRunAt: new Date(Date.now() - 5_000).toISOString() })) });
    renderWithQueryClient(<ProjectBackups projectId={1} canOperate />);

    expect(await screen.findByText(/Backed up daily at 03:00/)).toHaveTextContent('Backed up daily at 03:00 (Europe/Berlin) onto local, keeping 7 per guest; next starting now.');
  });

  it('restores a backup as a new guest only after the dialog is confirmed', async () => {
    const bodies: unknown[] = [];
    mockApi({
      'GET /api/projects/1/backups': () => jsonResponse(backups()),
      'POST /api/projects/1/backups/restore': async (request) => {
        bodies.push(await request.json());
        return jsonResponse({ id: 2, sourceInstanceId: 5, volid: archive.volid, node: 'pve', vmid: null, state: 'restoring', error: null, requestedBy: 'op', createdAt: '2031-03-04T10:00:00Z', finishedAt: null }, { status: 202 });
      },
    });
    renderWithQueryClient(<ProjectBackups projectId={1} canOperate />);

    await userEvent.click(await screen.findByRole('button', { name: 'Restore as new guest' }));
    const dialog = screen.getByRole('dialog');
    expect(dialog).toHaveTextContent('new guest with a new VMID and MAC address');
    expect(dialog).toHaveTextContent('smith-zwavejs (VMID 1001) keeps running');
    expect(bodies).toEqual([]);
    await userEvent.click(within(dialog).getByRole('button', { name: 'Restore as new guest' }));
    await screen.findByRole('list', { name: 'Last backup per guest' });
    expect(bodies).toEqual([{ instanceId: 5, volid: archive.volid }]);
  });

  it("lists the recent runs: the schedule's with its slot, a button's with who asked", async () => {
    const run = { storage: 'local', keepLast: 7, finishedAt: null, message: null, error: null };
    mockApi({
      'GET /api/projects/1/backups': () =>
        jsonResponse(
          backups({
            runs: [
              { ...run, id: 3, slot: '2031-03-05T03:00:00Z', state: 'failed', requestedBy: 'schedule', startedAt: '2031-03-05T03:00:01Z', error: 'vzdump on pve failed: no space' },
              { ...run, id: 2, slot: null, state: 'succeeded', requestedBy: 'op', startedAt: '2031-03-04T10:00:00Z' },
            ],
          }),
        ),
    });
    renderWithQueryClient(<ProjectBackups projectId={1} canOperate={false} />);

    const runs = await screen.findByRole('list', { name: 'Recent backup runs' });
    const [scheduled, asked] = within(runs).getAllByRole('listitem');
    expect(scheduled).toHaveTextContent(/^Scheduled for .*: failed: vzdump on pve failed: no space$/);
    // The slot in the schedule's own terms: the site's zone (03:00 UTC is 04:00 in Berlin in March), a 24-hour clock.
    expect(scheduled).toHaveTextContent(/^Scheduled for Mar 5, 2031, 04:00, started/);
    expect(scheduled).toHaveAttribute('data-run-state', 'failed');
    expect(asked).toHaveTextContent(/^Asked for by op, started .*: backed up$/);
  });

  it('offers no actions to a viewer', async () => {
    mockApi({ 'GET /api/projects/1/backups': () => jsonResponse(backups()) });
    renderWithQueryClient(<ProjectBackups projectId={1} canOperate={false} />);
    await screen.findByRole('list', { name: 'Last backup per guest' });
    expect(screen.queryByRole('button')).toBeNull();
  });
});

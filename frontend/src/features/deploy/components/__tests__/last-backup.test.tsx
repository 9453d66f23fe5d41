import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { snapshot } from '@/testing/fixtures/dashboard';
import { installFakeEventSource } from '@/testing/fake-event-source';
import { instance, project, releaseDetail } from '@/testing/fixtures/projects';
import { jsonResponse, mockApi, renderInRouter } from '@/testing/test-utils';
import type { LastBackup } from '../instance-card';
import { ProjectGuests } from '../project-guests';

const links = { deploy: (id: number) => `/deploys/${id}`, deployWizard: '/projects/1/deploy' };
const ha = instance({ id: 1, type: 'ctrlable-pro', hostname: 'smith-ctrlable-pro', vmid: 1001 });
const zwave = instance({ id: 2, type: 'zwavejs', hostname: 'smith-zwavejs', vmid: 1002 });
const frigate = instance({ id: 3, type: 'frigate', hostname: 'smith-frigate', vmid: 1003 });
const mqtt = instance({ id: 4, type: 'mosquitto', hostname: 'smith-mosquitto', vmid: 1004 });
const all = [ha, zwave, frigate, mqtt];

function render(lastBackups?: Map<number, LastBackup>) {
  installFakeEventSource();
  mockApi({
    'GET /api/projects/1': () => jsonResponse(project({ instances: all })),
    'GET /api/dashboard': () => jsonResponse(snapshot({ projects: [], otherGuests: [] })),
    'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
  });
  renderInRouter(<ProjectGuests project={project({ instances: all })} canOperate links={links} lastBackups={lastBackups} />);
}

const lastBackupOf = (hostname: string) => within(screen.getByRole('article', { name: hostname })).queryByTestId('last-backup');

describe('the last backup on instance cards', () => {
  it('shows when each guest was last backed up, and a missing or failed one in the alert tone', () => {
    const hourAgo = new Date(Date.now() - 3_600_000).toISOString();
    const weekAgo = new Date(Date.now() - 7 * 86_400_000).toISOString();
    render(
      new Map<number, LastBackup>([
        [1, { at: hourAgo, problem: null }],
        [2, { at: weekAgo, problem: 'missing' }],
        [3, { at: null, problem: 'failed' }],
        [4, { at: null, problem: null }],
      ]),
    );

    const fine = lastBackupOf('smith-ctrlable-pro')!;
    expect(fine).toHaveTextContent('1 h ago');
    expect(fine.querySelector('[data-tone]')).toBeNull();

    const missing = lastBackupOf('smith-zwavejs')!;
    expect(missing).toHaveTextContent(/^Missing last 7 d(ays)? ago$/);
    expect(within(missing).getByText('Missing').closest('[data-tone]')).toHaveAttribute('data-tone', 'warning');

    const failed = lastBackupOf('smith-frigate')!;
    expect(failed).toHaveTextContent('Failed none yet');
    expect(within(failed).getByText('Failed').closest('[data-tone]')).toHaveAttribute('data-tone', 'danger');

    expect(lastBackupOf('smith-mosquitto')).toHaveTextContent('none yet');
  });

  it('says nothing of backups when the project has none set up', () => {
    render(undefined);
    expect(screen.getByRole('article', { name: 'smith-zwavejs' })).not.toHaveTextContent('Last backup');
  });
});

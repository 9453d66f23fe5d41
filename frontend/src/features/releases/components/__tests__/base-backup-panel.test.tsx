import { act, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { BaseBackupStatus, ReleaseDetail, Role } from '@/shared/api';
import { stubEventSource } from '@/testing/fake-event-source';
import { configuredTrigger, failedBuild, releaseDetail } from '@/testing/fixtures/builds';
import { validRelease } from '@/testing/fixtures/releases';
import { jsonResponse, mockApi, renderWithQueryClient } from '@/testing/test-utils';
import { ReleasesPage } from '../releases-page';

const none: BaseBackupStatus = {
  fileName: 'ctrlable-base-2026.06.tar',
  expectedSha256: null,
  stored: null,
  matchesManifest: false,
  maxBytes: 1024 * 1024 * 1024,
};

const stored: BaseBackupStatus = {
  ...none,
  stored: {
    fileName: 'ctrlable-base-2026.06.tar',
    sha256: 'ab'.repeat(32),
    sizeBytes: 42 * 1024 * 1024,
    storedAt: '2026-06-01T10:00:00Z',
    adminUsername: 'ctrlable',
    encrypted: false,
    homeAssistantVersion: '2026.5.4',
    storedBy: 'dealer',
  },
};

/** A stand-in for the browser's XMLHttpRequest: records the request, lets the test report upload progress and answer. */
class FakeXhr {
  static instances: FakeXhr[] = [];
  method = '';
  url = '';
  headers: Record<string, string> = {};
  body: FormData | null = null;
  status = 0;
  statusText = '';
  responseText = '';
  upload: { onprogress: ((event: ProgressEvent) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;

  constructor() {
    FakeXhr.instances.push(this);
  }

  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }

  setRequestHeader(name: string, value: string) {
    this.headers[name] = value;
  }

  send(body: FormData) {
    this.body = body;
  }

  progress(loaded: number, total: number) {
    this.upload.onprogress?.({ lengthComputable: true, loaded, total } as ProgressEvent);
  }

  respond(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    this.onload?.();
  }
}

function detail(baseBackup: BaseBackupStatus | null): ReleaseDetail {
  return { ...releaseDetail, baseBackup };
}

function api(release: () => ReleaseDetail) {
  return mockApi({
    'GET /api/releases': () => jsonResponse([validRelease]),
    'GET /api/builds/trigger': () => jsonResponse(configuredTrigger),
    'GET /api/builds': () => jsonResponse([failedBuild]),
    'GET /api/releases/2026.06': () => jsonResponse(release()),
  });
}

async function openDetails(role: Role) {
  const user = userEvent.setup();
  renderWithQueryClient(<ReleasesPage role={role} selectedBuild={null} onSelectBuild={() => {}} />);
  await user.click(await screen.findByRole('button', { name: 'Templates of 2026.06' }));
  const section = await screen.findByRole('region', { name: 'Home Assistant base backup' });
  return { user, section };
}

beforeEach(() => {
  FakeXhr.instances = [];
  vi.stubGlobal('XMLHttpRequest', FakeXhr);
  stubEventSource();
});

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('BaseBackupPanel on the Releases page', () => {
  it('lets an admin upload the base backup with its progress, then shows it stored', async () => {
    let current = detail(none);
    api(() => current);
    const { user, section } = await openDetails('admin');
    expect(within(section).getByTestId('base-backup-state')).toHaveTextContent('No base backup is stored');

    const file = new File(['backup bytes'], 'base.tar', { type: 'application/x-tar' });
    await user.upload(within(section).getByLabelText('Backup file'), file);
    await user.type(within(section).getByLabelText("Owner's password"), 'owner-secret-1');
    await user.click(within(section).getByRole('button', { name: 'Upload base backup' }));

    const xhr = await waitFor(() => {
      expect(FakeXhr.instances).toHaveLength(1);
      return FakeXhr.instances[0]!;
    });
    expect(xhr.method).toBe('PUT');
    expect(new URL(xhr.url).pathname).toBe('/api/releases/2026.06/base-backup');
    expect(xhr.headers['X-CSRF-TOKEN']).toBe('csrf-test-token');
    expect(xhr.body?.get('password')).toBe('owner-secret-1');
    expect(xhr.body?.get('backupPassword')).toBeNull();
    expect((xhr.body?.get('file') as File).name).toBe('base.tar');

    act(() => xhr.progress(40, 100));
    const bar = within(section).getByRole('progressbar', { name: 'Upload of the base backup of 2026.06' });
    expect(bar).toHaveAttribute('aria-valuenow', '40');
    expect(within(section).getByRole('button', { name: 'Uploading…' })).toBeDisabled();
    act(() => xhr.progress(100, 100));
    expect(bar).toHaveAttribute('aria-valuetext', '100%, checking the backup');

    current = detail(stored);
    act(() => xhr.respond(200, stored));

    expect(await within(section).findByText('Base backup stored.')).toBeInTheDocument();
    await waitFor(() => expect(within(section).getByTestId('base-backup-state')).toHaveTextContent('owner ctrlable'));
    expect(within(section).getByTestId('base-backup-state')).toHaveTextContent('42.0 MiB');
    expect(within(section).getByTestId('base-backup-state')).toHaveTextContent('by dealer');
    expect(within(section).queryByRole('progressbar')).not.toBeInTheDocument();
    expect(within(section).getByLabelText("Owner's password")).toHaveValue('');
    expect(within(section).getByRole('button', { name: 'Replace base backup' })).toBeDisabled();
  });

  it('lists every piece a refused backup lacks', async () => {
    api(() => detail(stored));
    const { user, section } = await openDetails('admin');

    await user.upload(within(section).getByLabelText('Backup file'), new File(['x'], 'base.tar'));
    await user.type(within(section).getByLabelText("Owner's password"), 'owner-secret-1');
    await user.type(within(section).getByLabelText('Encryption key (encrypted backups only)'), 'backup-key-1');
    await user.click(within(section).getByRole('button', { name: 'Replace base backup' }));
    const xhr = await waitFor(() => FakeXhr.instances[0]!);
    expect(xhr.body?.get('backupPassword')).toBe('backup-key-1');

    act(() =>
      xhr.respond(422, {
        title: 'The base backup lacks what the deploy needs',
        status: 422,
        code: 'base-backup-incomplete',
        errors: ['The backup does not include the Mosquitto broker add-on (core_mosquitto).', 'The release deploys Frigate, but the backup has no Frigate integration.'],
      }),
    );

    const alert = await within(section).findByRole('alert');
    expect(alert).toHaveTextContent('The base backup was not stored: The base backup lacks what the deploy needs.');
    expect(within(alert).getAllByRole('listitem').map((item) => item.textContent)).toEqual([
      'The backup does not include the Mosquitto broker add-on (core_mosquitto).',
      'The release deploys Frigate, but the backup has no Frigate integration.',
    ]);
    expect(within(section).getByTestId('base-backup-state')).toHaveTextContent('owner ctrlable');
  });

  it('refuses a file beyond the limit without sending it', async () => {
    api(() => detail({ ...none, maxBytes: 4 }));
    const { user, section } = await openDetails('admin');

    await user.upload(within(section).getByLabelText('Backup file'), new File(['12345'], 'big.tar'));
    await user.type(within(section).getByLabelText("Owner's password"), 'owner-secret-1');
    await user.click(within(section).getByRole('button', { name: 'Upload base backup' }));

    expect(await within(section).findByRole('alert')).toHaveTextContent('big.tar is 1 KiB; the provisioner takes base backups of at most 1 KiB.');
    expect(FakeXhr.instances).toHaveLength(0);
  });

  it.each<Role>(['viewer', 'operator'])('shows a %s the stored backup but no upload', async (role) => {
    api(() => detail(stored));
    const { section } = await openDetails(role);

    expect(within(section).getByTestId('base-backup-state')).toHaveTextContent('Stored');
    expect(within(section).queryByRole('form')).not.toBeInTheDocument();
    expect(within(section).queryByLabelText('Backup file')).not.toBeInTheDocument();
  });
});

import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { mockApi, problemResponse, renderWithQueryClient } from '@/testing/test-utils';
import { BackupDownload } from '../backup-download';

const fileName = 'ctrlable-backup-ctrlable-provisioner-2026-06-01.ctrlable-backup';

describe('Backup download', () => {
  const clicked: { download: string; href: string }[] = [];
  beforeEach(() => {
    clicked.length = 0;
    vi.stubGlobal('URL', Object.assign(URL, { createObjectURL: vi.fn(() => 'blob:backup'), revokeObjectURL: vi.fn() }));
    vi.spyOn(HTMLAnchorElement.prototype, 'click').mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push({ download: this.download, href: this.href });
    });
  });
  afterEach(() => vi.restoreAllMocks());

  it('sends nothing until both passphrases match and are long enough', async () => {
    const user = userEvent.setup();
    const fetchMock = mockApi({});
    renderWithQueryClient(<BackupDownload />);

    await user.type(screen.getByLabelText('Backup passphrase'), 'short');
    await user.type(screen.getByLabelText('Passphrase again'), 'short');
    await user.click(screen.getByRole('button', { name: 'Download backup' }));
    expect(screen.getByText('Use a passphrase of at least 12 characters.')).toBeInTheDocument();

    await user.clear(screen.getByLabelText('Backup passphrase'));
    await user.type(screen.getByLabelText('Backup passphrase'), 'a long passphrase 1');
    await user.clear(screen.getByLabelText('Passphrase again'));
    await user.type(screen.getByLabelText('Passphrase again'), 'a long passphrase 2');
    await user.click(screen.getByRole('button', { name: 'Download backup' }));
    expect(screen.getByText('The two passphrases differ.')).toBeInTheDocument();
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it('posts the passphrase in the body and saves the file under the name the server gives', async () => {
    const user = userEvent.setup();
    const sent: { url: string; body: unknown }[] = [];
    mockApi({
      'POST /api/settings/backup': async (request) => {
        sent.push({ url: request.url, body: await request.json() });
        return new Response(new Uint8Array([67, 84, 82, 76]), {
          status: 200,
          headers: { 'Content-Type': 'application/octet-stream', 'Content-Disposition': `attachment; filename=${fileName}; filename*=UTF-8''${fileName}` },
        });
      },
    });
    renderWithQueryClient(<BackupDownload />);

    await user.type(screen.getByLabelText('Backup passphrase'), 'correct horse battery');
    await user.type(screen.getByLabelText('Passphrase again'), 'correct horse battery');
    await user.click(screen.getByRole('button', { name: 'Download backup' }));

    expect(await screen.findByText(`Downloaded ${fileName}.`)).toBeInTheDocument();
    expect(sent).toEqual([{ url: expect.not.stringContaining('correct') as string, body: { passphrase: 'correct horse battery' } }]);
    expect(clicked).toEqual([{ download: fileName, href: 'blob:backup' }]);
    expect(screen.getByLabelText('Backup passphrase')).toHaveValue('');
    expect(screen.getByLabelText('Passphrase again')).toHaveValue('');
  });

  it("shows the server's refusal", async () => {
    const user = userEvent.setup();
    mockApi({ 'POST /api/settings/backup': () => problemResponse(422, 'Backup not made', 'no database at /data/provisioner.db') });
    renderWithQueryClient(<BackupDownload />);

    await user.type(screen.getByLabelText('Backup passphrase'), 'correct horse battery');
    await user.type(screen.getByLabelText('Passphrase again'), 'correct horse battery');
    await user.click(screen.getByRole('button', { name: 'Download backup' }));

    expect(await screen.findByText(/Backup not made|no database/)).toBeInTheDocument();
    expect(clicked).toEqual([]);
  });
});

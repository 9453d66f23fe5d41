import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { jsonResponse, mockApi, problemResponse, renderWithQueryClient } from '@/testing/test-utils';
import { BuildKeyPassphrase } from '../build-key-passphrase';

const key = { configured: true, target: 'root@pve:22', keyPath: '/var/lib/ctrlable/build_key', hostKeyFingerprint: 'SHA256:abc', passphraseStored: false };

describe('Build key passphrase', () => {
  it('reports a passphrase that does not open the key, and stores one that does', async () => {
    const user = userEvent.setup();
    const sent: unknown[] = [];
    mockApi({
      'GET /api/settings/build-key': () => jsonResponse(key),
      'PUT /api/settings/build-key/passphrase': async (request) => {
        const body = (await request.json()) as { passphrase: string };
        sent.push(body);
        return body.passphrase === 'right'
          ? jsonResponse({ ...key, passphraseStored: true })
          : problemResponse(422, 'Passphrase not stored', 'The passphrase does not open the build key /var/lib/ctrlable/build_key: bad passphrase');
      },
    });
    renderWithQueryClient(<BuildKeyPassphrase />);

    expect(await screen.findByTestId('build-key-state')).toHaveTextContent('no passphrase stored');
    await user.type(screen.getByLabelText('Key passphrase'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Store passphrase' }));
    expect(await screen.findByText(/does not open the build key/)).toBeInTheDocument();

    await user.clear(screen.getByLabelText('Key passphrase'));
    await user.type(screen.getByLabelText('Key passphrase'), 'right');
    await user.click(screen.getByRole('button', { name: 'Store passphrase' }));
    expect(await screen.findByText(/passphrase stored \(encrypted\)/)).toBeInTheDocument();
    expect(screen.getByLabelText('Key passphrase')).toHaveValue('');
    expect(sent).toEqual([{ passphrase: 'wrong' }, { passphrase: 'right' }]);
  });

  it('says when no build key is configured', async () => {
    mockApi({ 'GET /api/settings/build-key': () => jsonResponse({ ...key, configured: false, target: null, keyPath: '' }) });
    renderWithQueryClient(<BuildKeyPassphrase />);
    expect(await screen.findByText(/No build key is configured/)).toBeInTheDocument();
  });
});

import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { jsonResponse, mockApi, problemResponse, renderWithQueryClient } from '@/testing/test-utils';
import { ProxmoxConnection } from '../proxmox-connection';

const fingerprint = Array.from({ length: 32 }, () => 'AB').join(':');
const simulated = {
  source: 'simulated',
  url: 'https://127.0.0.1:40001',
  tokenId: 'ctrlable@pve!provisioner',
  certificateFingerprint: fingerprint,
  tokenSecretStored: false,
  updatedAt: null,
  updatedBy: null,
};

async function fillIn(user: ReturnType<typeof userEvent.setup>) {
  await user.type(await screen.findByLabelText('Host address'), 'https://pve.example:8006');
  await user.type(screen.getByLabelText('API token id'), 'ctrlable@pve!provisioner');
  await user.type(screen.getByLabelText('Token secret'), 'the-secret');
  await user.type(screen.getByLabelText('Node certificate fingerprint (SHA-256)'), fingerprint);
}

describe('Proxmox connection settings', () => {
  it('says demo mode uses the simulated host, then saves what the admin enters and forgets the secret', async () => {
    const user = userEvent.setup();
    let sent: unknown;
    mockApi({
      'GET /api/settings/proxmox': () => jsonResponse(simulated),
      'PUT /api/settings/proxmox': async (request) => {
        sent = await request.json();
        return jsonResponse({ ...simulated, source: 'settings', url: 'https://pve.example:8006', tokenSecretStored: true, updatedAt: '2026-11-25T22:00:00Z', updatedBy: 'admin' });
      },
    });
    renderWithQueryClient(<ProxmoxConnection />);

    expect(await screen.findByTestId('proxmox-source')).toHaveTextContent('simulated Proxmox host');
    await fillIn(user);
    await user.click(screen.getByRole('button', { name: 'Test and save' }));

    expect(await screen.findByTestId('proxmox-source')).toHaveTextContent('https://pve.example:8006');
    expect(screen.getByTestId('proxmox-source')).toHaveTextContent('saved here by admin');
    expect(sent).toEqual({ url: 'https://pve.example:8006', tokenId: 'ctrlable@pve!provisioner', tokenSecret: 'the-secret', certificateFingerprint: fingerprint });
    expect(screen.getByLabelText('Token secret')).toHaveValue('');
    expect(screen.getByText(/Leave empty to keep it for this same host/)).toBeInTheDocument();
  });

  it('asks for the secret again when the host changes without it', async () => {
    const user = userEvent.setup();
    const saved = { ...simulated, source: 'settings', url: 'https://pve.example:8006', tokenSecretStored: true, updatedAt: '2026-11-25T22:00:00Z', updatedBy: 'admin' };
    mockApi({
      'GET /api/settings/proxmox': () => jsonResponse(saved),
      'PUT /api/settings/proxmox': () =>
        jsonResponse(
          { title: 'Proxmox settings not saved', status: 400, errors: { tokenSecret: ['Enter the token secret: a changed host address needs it again.'] } },
          { status: 400, headers: { 'Content-Type': 'application/problem+json' } },
        ),
    });
    renderWithQueryClient(<ProxmoxConnection />);

    const host = await screen.findByLabelText('Host address');
    await user.clear(host);
    await user.type(host, 'https://elsewhere.example:8006');
    await user.click(screen.getByRole('button', { name: 'Test and save' }));

    expect(await screen.findByText('Enter the token secret: a changed host address needs it again.')).toBeInTheDocument();
    expect(screen.getByLabelText('Token secret')).toHaveAttribute('aria-invalid', 'true');
  });

  it('shows why the host refused the settings', async () => {
    const user = userEvent.setup();
    mockApi({
      'GET /api/settings/proxmox': () => jsonResponse(simulated),
      'PUT /api/settings/proxmox': () =>
        problemResponse(422, 'Proxmox settings not saved', 'Proxmox rejected token ctrlable@pve!provisioner: authentication failure.'),
    });
    renderWithQueryClient(<ProxmoxConnection />);

    await fillIn(user);
    await user.click(screen.getByRole('button', { name: 'Test and save' }));

    expect(await screen.findByText(/Proxmox rejected token/)).toBeInTheDocument();
    expect(screen.getByTestId('proxmox-source')).toHaveTextContent('simulated Proxmox host');
  });
});

import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { jsonResponse, mockApi, renderWithQueryClient } from '@/testing/test-utils';
import { TokensPage } from '../tokens-page';

const active = {
  id: 1,
  name: 'Platform sync',
  prefix: 'ctp_AbCdEfGh',
  role: 'viewer',
  state: 'active',
  createdBy: 'admin',
  createdAt: '2026-06-01T08:00:00Z',
  expiresAt: null,
  revokedAt: null,
  lastUsedAt: null,
};

describe('API tokens page', () => {
  it('shows a new token once, with a copy button, and lists it without the secret', async () => {
    const user = userEvent.setup();
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, 'clipboard', { value: { writeText }, configurable: true });
    const tokens: (typeof active)[] = [];
    let body: unknown;
    mockApi({
      'GET /api/tokens': () => jsonResponse(tokens),
      'POST /api/tokens': async (request) => {
        expect(request.headers.get('X-CSRF-TOKEN')).toBe('csrf-test-token');
        body = await request.json();
        const summary = { ...active, id: 2, name: 'Home Assistant', role: 'operator', prefix: 'ctp_SeCrEtTo' };
        tokens.push(summary);
        return jsonResponse({ token: 'ctp_SeCrEtToKeN-only-once', summary }, { status: 201 });
      },
    });
    renderWithQueryClient(<TokensPage />);

    expect(await screen.findByText('No API tokens yet')).toBeInTheDocument();
    await user.type(screen.getByLabelText('Name'), 'Home Assistant');
    await user.selectOptions(screen.getByLabelText('Role'), 'operator');
    await user.selectOptions(screen.getByLabelText('Expires'), 'Never');
    await user.click(screen.getByRole('button', { name: 'Create token' }));

    const shown = await screen.findByRole('region', { name: 'New API token' });
    expect(within(shown).getByTestId('new-token')).toHaveTextContent('ctp_SeCrEtToKeN-only-once');
    expect(body).toEqual({ name: 'Home Assistant', role: 'operator', expiresAt: null });
    await user.click(within(shown).getByRole('button', { name: 'Copy token' }));
    expect(writeText).toHaveBeenCalledWith('ctp_SeCrEtToKeN-only-once');
    expect(within(shown).getByRole('button', { name: 'Copied' })).toBeInTheDocument();

    const row = await screen.findByRole('row', { name: /Home Assistant/ });
    expect(row).toHaveTextContent('ctp_SeCrEtTo…');
    expect(row).not.toHaveTextContent('only-once');
    await user.click(within(shown).getByRole('button', { name: 'Done' }));
    expect(screen.queryByTestId('new-token')).not.toBeInTheDocument();
  });

  it('revokes a token', async () => {
    const user = userEvent.setup();
    let revoked = false;
    mockApi({
      'GET /api/tokens': () => jsonResponse([{ ...active, state: revoked ? 'revoked' : 'active' }]),
      'DELETE /api/tokens/1': () => {
        revoked = true;
        return new Response(null, { status: 204 });
      },
    });
    renderWithQueryClient(<TokensPage />);

    await user.click(await screen.findByRole('button', { name: 'Revoke Platform sync' }));

    expect(await screen.findByText('revoked')).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: 'Revoke Platform sync' })).not.toBeInTheDocument();
  });

  it('shows what is wrong with the form', async () => {
    const user = userEvent.setup();
    mockApi({
      'GET /api/tokens': () => jsonResponse([]),
      'POST /api/tokens': () =>
        jsonResponse(
          { title: 'The API token cannot be issued.', status: 400, errors: { name: ['Name the token (1–100 characters).'] } },
          { status: 400 },
        ),
    });
    renderWithQueryClient(<TokensPage />);

    await user.click(await screen.findByRole('button', { name: 'Create token' }));

    expect(await screen.findByText('Name the token (1–100 characters).')).toBeInTheDocument();
    expect(screen.getByLabelText('Name')).toHaveAttribute('aria-invalid', 'true');
  });
});

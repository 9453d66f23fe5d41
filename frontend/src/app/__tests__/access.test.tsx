import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { describe, expect, it } from 'vitest';
import { nodeSeries, snapshot } from '@/testing/fixtures/dashboard';
import {
  adminUser,
  createTestQueryClient,
  jsonResponse,
  mockApi,
  problemResponse,
  problemWithCode,
} from '@/testing/test-utils';
import { routes } from '../router';

function renderAt(url: string) {
  const router = createMemoryRouter(routes, { initialEntries: [url] });
  render(
    <QueryClientProvider client={createTestQueryClient()}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return router;
}

const setupRequired = () => problemWithCode(503, 'Setup required', 'setup-required');

describe('access control in the SPA', () => {
  it('takes a fresh install through setup and sign-in into the app', async () => {
    const user = userEvent.setup();
    let admin: typeof adminUser | null = null;
    let setUp = false;
    const csrfHeaders: (string | null)[] = [];
    mockApi({
      'GET /api/auth/me': () => (admin ? jsonResponse(admin) : setUp ? problemResponse(401, 'Unauthorized') : setupRequired()),
      'GET /api/setup': () => jsonResponse({ required: !setUp }),
      'POST /api/setup': async (request) => {
        csrfHeaders.push(request.headers.get('X-CSRF-TOKEN'));
        const body = (await request.json()) as { setupCode: string };
        if (body.setupCode !== 'ABCDE-FGHIJ-KLMNO-PQRST')
          return problemWithCode(403, 'Set-up code required', 'setup-code', 'Enter the set-up code.');
        expect(body).toEqual({ setupCode: 'ABCDE-FGHIJ-KLMNO-PQRST', username: 'dealer', password: 'a-long-Passphrase-42' });
        setUp = true;
        return jsonResponse({ name: 'dealer', role: 'admin', kind: 'user' }, { status: 201 });
      },
      'POST /api/auth/sign-in': async (request) => {
        csrfHeaders.push(request.headers.get('X-CSRF-TOKEN'));
        admin = { ...adminUser, name: 'dealer' } as unknown as typeof adminUser;
        return jsonResponse(admin);
      },
      'GET /api/dashboard': () => jsonResponse(snapshot()),
      'GET /api/nodes/pve/metrics': () => jsonResponse(nodeSeries()),
    });

    const router = renderAt('/');

    expect(await screen.findByRole('heading', { name: 'Set up Ctrlable Provisioner' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/setup');
    expect(screen.getByText(/Printed by install.sh, or in <data>\/setup-code/)).toBeInTheDocument();
    await user.type(screen.getByLabelText('Set-up code'), 'WRONG-WRONG-WRONG-WRONG');
    await user.type(screen.getByLabelText('User name'), 'dealer');
    await user.type(screen.getByLabelText('Password'), 'a-long-Passphrase-42');
    await user.type(screen.getByLabelText('Repeat the password'), 'a-long-Passphrase-41');
    await user.click(screen.getByRole('button', { name: 'Create admin account' }));
    expect(screen.getByText('The two passwords differ.')).toBeInTheDocument();
    await user.clear(screen.getByLabelText('Repeat the password'));
    await user.type(screen.getByLabelText('Repeat the password'), 'a-long-Passphrase-42');
    await user.click(screen.getByRole('button', { name: 'Create admin account' }));
    expect(await screen.findByText(/This is not the set-up code/)).toBeInTheDocument();
    expect(screen.getByLabelText('Set-up code')).toHaveAttribute('aria-invalid', 'true');
    await user.clear(screen.getByLabelText('Set-up code'));
    await user.type(screen.getByLabelText('Set-up code'), ' ABCDE-FGHIJ-KLMNO-PQRST ');
    await user.click(screen.getByRole('button', { name: 'Create admin account' }));

    expect(await screen.findByText('The admin account is ready. Sign in with it.')).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/sign-in');
    await user.type(screen.getByLabelText('User name'), 'dealer');
    await user.type(screen.getByLabelText('Password'), 'a-long-Passphrase-42');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('heading', { level: 1, name: 'Dashboard' })).toBeInTheDocument();
    expect(screen.getByRole('banner')).toHaveTextContent('dealer');
    expect(csrfHeaders).toEqual(['csrf-test-token', 'csrf-test-token', 'csrf-test-token']);
  });

  it('sends a signed-out user to sign-in and back to the page asked for', async () => {
    const user = userEvent.setup();
    let signedIn = false;
    mockApi({
      'GET /api/auth/me': () => (signedIn ? jsonResponse(adminUser) : problemResponse(401, 'Unauthorized')),
      'GET /api/setup': () => jsonResponse({ required: false }),
      'POST /api/auth/sign-in': () => {
        signedIn = true;
        return jsonResponse(adminUser);
      },
      'GET /api/tls': () =>
        jsonResponse({
          sha256Fingerprint: 'AB:CD',
          subject: 'CN=pve',
          names: ['pve'],
          notBefore: '2026-01-01T00:00:00Z',
          notAfter: '2036-01-01T00:00:00Z',
          source: 'generated',
          httpsUrls: [],
        }),
    });

    const router = renderAt('/settings');

    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(router.state.location.search).toBe('?next=%2Fsettings');
    await user.type(screen.getByLabelText('User name'), 'admin');
    await user.type(screen.getByLabelText('Password'), 'whatever-it-is');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));

    expect(await screen.findByRole('heading', { level: 1, name: 'Settings' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/settings');
  });

  it('says why a sign-in failed', async () => {
    const user = userEvent.setup();
    let attempts = 0;
    mockApi({
      'GET /api/auth/me': () => problemResponse(401, 'Unauthorized'),
      'GET /api/setup': () => jsonResponse({ required: false }),
      'POST /api/auth/sign-in': () =>
        ++attempts === 1
          ? problemWithCode(401, 'Sign-in failed', 'wrong-credentials', 'Wrong user name or password, or the account is locked.')
          : problemResponse(503, 'Service Unavailable', 'The database is not reachable.'),
    });
    renderAt('/sign-in');

    await user.type(await screen.findByLabelText('User name'), 'admin');
    await user.type(screen.getByLabelText('Password'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByRole('alert')).toHaveTextContent('Wrong user name or password, or the account is locked.');

    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect(await screen.findByText('Could not sign in: The database is not reachable.')).toBeInTheDocument();
  });

  it('signs out back to the sign-in page', async () => {
    const user = userEvent.setup();
    let signedIn = true;
    mockApi({
      'GET /api/auth/me': () => (signedIn ? jsonResponse(adminUser) : problemResponse(401, 'Unauthorized')),
      'GET /api/setup': () => jsonResponse({ required: false }),
      'GET /api/releases': () => jsonResponse([]),
      'POST /api/auth/sign-out': () => {
        signedIn = false;
        return new Response(null, { status: 204 });
      },
    });
    const router = renderAt('/releases');

    await user.click(await screen.findByRole('button', { name: 'Sign out' }));

    expect(await screen.findByRole('heading', { name: 'Sign in' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/sign-in');
  });

  it('shows the admin pages in the navigation to admins only', async () => {
    mockApi({
      'GET /api/auth/me': () => jsonResponse({ name: 'tech', role: 'operator', kind: 'user' }),
      'GET /api/releases': () => jsonResponse([]),
    });
    renderAt('/releases');

    const nav = await screen.findByRole('navigation', { name: 'Main' });
    expect(within(nav).getByRole('link', { name: 'Settings' })).toBeInTheDocument();
    expect(within(nav).queryByRole('link', { name: 'Users' })).not.toBeInTheDocument();
    expect(within(nav).queryByRole('link', { name: 'API tokens' })).not.toBeInTheDocument();
  });
});

import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { describe, expect, it } from 'vitest';
import { nodeSeries, snapshot } from '@/testing/fixtures/dashboard';
import { validRelease } from '@/testing/fixtures/releases';
import { adminUser, createTestQueryClient, jsonResponse, mockFetch, requestPath } from '@/testing/test-utils';
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

function mockApi() {
  return mockFetch((request) => {
    const path = requestPath(request);
    if (path === '/api/auth/me') return jsonResponse(adminUser);
    if (path === '/api/dashboard') return jsonResponse(snapshot({ simulated: true }));
    if (path.startsWith('/api/nodes/')) return jsonResponse(nodeSeries());
    if (path === '/api/releases') return jsonResponse([validRelease]);
    throw new Error(`unexpected request ${path}`);
  });
}

describe('app shell', () => {
  it('opens on the dashboard inside the shell, first in the navigation', async () => {
    mockApi();

    const router = renderAt('/');

    expect(await screen.findByRole('heading', { level: 1, name: 'Dashboard' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/');
    expect(screen.getByRole('banner')).toHaveTextContent('Ctrlable Provisioner');
    expect(await screen.findByRole('note', { name: 'Simulated host' })).toBeInTheDocument();

    const nav = screen.getByRole('navigation', { name: 'Main' });
    const links = within(nav).getAllByRole('link');
    expect(links.map((link) => link.textContent)).toEqual(['Dashboard', 'Projects', 'Releases', 'Settings', 'Users', 'API tokens', 'Audit log']);
    expect(links[0]).toHaveAttribute('href', '/');
    expect(links[0]).toHaveAttribute('aria-current', 'page');
    expect(links[1]).not.toHaveAttribute('aria-current');
    expect(screen.getByRole('link', { name: 'Skip to content' })).toHaveAttribute('href', '#main');
  });

  it('goes to the releases page from the navigation', async () => {
    mockApi();
    const user = userEvent.setup();

    const router = renderAt('/');
    const nav = await screen.findByRole('navigation', { name: 'Main' });
    await user.click(within(nav).getByRole('link', { name: 'Releases' }));

    expect(await screen.findByRole('heading', { level: 1, name: 'Releases' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/releases');
    expect(within(nav).getByRole('link', { name: 'Releases' })).toHaveAttribute('aria-current', 'page');
    expect(within(nav).getByRole('link', { name: 'Dashboard' })).not.toHaveAttribute('aria-current');
    expect(await screen.findByRole('row', { name: /^2026\.06\b/ })).toBeInTheDocument();
  });

  it('answers an unknown address with a way back', async () => {
    mockApi();

    renderAt('/no-such-page');

    expect(await screen.findByRole('heading', { name: 'This page does not exist' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'dashboard' })).toHaveAttribute('href', '/');
  });
});

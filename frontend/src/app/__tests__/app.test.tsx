import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen, within } from '@testing-library/react';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { describe, expect, it } from 'vitest';
import { validRelease } from '@/testing/fixtures/releases';
import { adminUser, createTestQueryClient, jsonResponse, mockApi } from '@/testing/test-utils';
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

describe('app shell', () => {
  it('opens on the releases page inside the shell', async () => {
    mockApi({ 'GET /api/auth/me': () => jsonResponse(adminUser), 'GET /api/releases': () => jsonResponse([validRelease]) });

    const router = renderAt('/');

    expect(await screen.findByRole('heading', { level: 1, name: 'Releases' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/releases');
    expect(screen.getByRole('banner')).toHaveTextContent('Ctrlable Provisioner');

    const nav = screen.getByRole('navigation', { name: 'Main' });
    const link = within(nav).getByRole('link', { name: 'Releases' });
    expect(link).toHaveAttribute('href', '/releases');
    expect(link).toHaveAttribute('aria-current', 'page');

    expect(await screen.findByRole('row', { name: /^2026\.06\b/ })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'Skip to content' })).toHaveAttribute('href', '#main');
  });

  it('answers an unknown address with a way back', async () => {
    mockApi({ 'GET /api/auth/me': () => jsonResponse(adminUser) });

    renderAt('/no-such-page');

    expect(await screen.findByRole('heading', { name: 'This page does not exist' })).toBeInTheDocument();
    expect(screen.getByRole('link', { name: 'releases' })).toHaveAttribute('href', '/releases');
  });
});

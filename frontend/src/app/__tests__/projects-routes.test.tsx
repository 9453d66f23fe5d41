import { QueryClientProvider } from '@tanstack/react-query';
import { render, screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { createMemoryRouter, RouterProvider } from 'react-router';
import { describe, expect, it } from 'vitest';
import { guest, snapshot } from '@/testing/fixtures/dashboard';
import { installFakeEventSource } from '@/testing/fake-event-source';
import { deploy, instance, progress, project, releaseDetail } from '@/testing/fixtures/projects';
import { adminUser, createTestQueryClient, jsonResponse, mockApi, operatorUser, viewerUser } from '@/testing/test-utils';
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

/** A second app on the page, as another browser tab would be. */
function renderAtFresh(url: string) {
  const router = createMemoryRouter(routes, { initialEntries: [url] });
  const { container } = render(
    <QueryClientProvider client={createTestQueryClient()}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return within(container);
}

const ha = instance({ id: 1, type: 'ctrlable-pro', hostname: 'smith-ctrlable-pro', vmid: 1001 });
const host = snapshot({
  projects: [{ projectId: 1, name: 'Smith residence', slug: 'smith', guests: [guest({ vmid: 1001, name: 'smith-ctrlable-pro', instanceId: 1 })] }],
});

describe('projects pages', () => {
  it('lists Projects in the navigation right after the Dashboard', async () => {
    mockApi({ 'GET /api/auth/me': () => jsonResponse(operatorUser), 'GET /api/projects': () => jsonResponse([]) });
    renderAt('/projects');
    const nav = await screen.findByRole('navigation', { name: 'Main' });
    const labels = within(nav).getAllByRole('link').map((link) => link.textContent);
    expect(labels.slice(0, 3)).toEqual(['Dashboard', 'Projects', 'Releases']);
    expect(within(nav).getByRole('link', { name: 'Projects' })).toHaveAttribute('aria-current', 'page');
    expect(await screen.findByRole('heading', { level: 1, name: 'Projects' })).toBeInTheDocument();
  });

  it('runs the wizard from the project page and lands on the live progress of the new deploy', async () => {
    const user = userEvent.setup();
    const EventSource = installFakeEventSource();
    const queued = deploy(
      [instance({ id: 5, deployId: 12, type: 'zwavejs', state: 'pending', percent: 0, vmid: null, message: 'Queued' })],
      { id: 12 },
    );
    let posted: unknown;
    mockApi({
      'GET /api/auth/me': () => jsonResponse(adminUser),
      'GET /api/projects/1': () => jsonResponse(project()),
      'GET /api/dashboard': () => jsonResponse(snapshot({ projects: [] })),
      'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
      'POST /api/projects/1/deploy': async (request) => {
        posted = await request.json();
        return jsonResponse(queued, { status: 202 });
      },
      'GET /api/deploys/12': () => jsonResponse(queued),
    });
    const router = renderAt('/projects/1');

    const empty = await screen.findByRole('region', { name: 'Nothing deployed yet' });
    await user.click(within(empty).getByRole('link', { name: 'Deploy the stack' }));
    expect(router.state.location.pathname).toBe('/projects/1/deploy');
    expect(await screen.findByRole('heading', { level: 1, name: 'Deploy to Smith residence' })).toBeInTheDocument();

    for (const name of [/Home Assistant/, /Zigbee2MQTT/, /Frigate NVR/]) await user.click(await screen.findByRole('checkbox', { name }));
    await user.click(screen.getByRole('button', { name: 'Next: review' }));
    await user.click(screen.getByRole('button', { name: 'Deploy 1 component' }));

    expect(await screen.findByRole('article', { name: 'smith-zwavejs' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/deploys/12');
    expect(posted).toEqual({ types: ['zwavejs'] });
    // The page opens the deploy's stream once it has rendered: wait for it rather than race it.
    const stream = await waitFor(() => EventSource.at('/api/deploys/12/events'));
    stream.emit('progress', progress({ instanceId: 5, deployId: 12, type: 'zwavejs', state: 'cloning', percent: 20 }));
    expect(within(screen.getByRole('article', { name: 'smith-zwavejs' })).getByRole('progressbar')).toHaveAttribute('aria-valuenow', '20');
  });

  it('offers an admin the project\'s Credentials and refuses them to an operator', async () => {
    const user = userEvent.setup();
    installFakeEventSource();
    let role: typeof adminUser | typeof operatorUser = adminUser;
    mockApi({
      'GET /api/auth/me': () => jsonResponse(role),
      'GET /api/projects/1': () => jsonResponse(project({ instances: [ha] })),
      'GET /api/dashboard': () => jsonResponse(host),
      'GET /api/releases/2026.06': () => jsonResponse(releaseDetail()),
      'GET /api/projects/1/credentials': () =>
        jsonResponse({ projectId: 1, projectName: 'Smith residence', slug: 'smith', instances: [], credentials: [] }),
    });
    const router = renderAt('/projects/1');

    await user.click(await screen.findByRole('link', { name: 'Credentials' }));
    expect(router.state.location.pathname).toBe('/projects/1/credentials');
    expect(await screen.findByRole('heading', { level: 1, name: 'Credentials of Smith residence' })).toBeInTheDocument();
    expect(await screen.findByRole('heading', { name: 'Hand-over sheet' })).toBeInTheDocument();

    role = operatorUser;
    const other = renderAtFresh('/projects/1/credentials');
    expect(await other.findByRole('heading', { name: 'Credentials are for admins' })).toBeInTheDocument();
  });

  it('shows a viewer the project and its guests, but no action anywhere', async () => {
    installFakeEventSource();
    mockApi({
      'GET /api/auth/me': () => jsonResponse(viewerUser),
      'GET /api/projects/1': () => jsonResponse(project({ instances: [ha] })),
      'GET /api/dashboard': () => jsonResponse(host),
    });
    renderAt('/projects/1');

    expect(await screen.findByRole('heading', { level: 1, name: 'Smith residence' })).toBeInTheDocument();
    expect(screen.getByRole('article', { name: 'smith-ctrlable-pro' })).toBeInTheDocument();
    expect(screen.getByRole('complementary', { name: 'Site settings' })).toHaveTextContent('Network coordinator 192.168.1.50:6638');
    const main = screen.getByRole('main');
    expect(within(main).queryByRole('button')).not.toBeInTheDocument();
    expect(within(main).queryByRole('link', { name: /Deploy components|Edit/ })).not.toBeInTheDocument();
  });

  it('tells a viewer who opens the wizard that the role cannot deploy', async () => {
    mockApi({
      'GET /api/auth/me': () => jsonResponse(viewerUser),
      'GET /api/projects/1': () => jsonResponse(project()),
    });
    renderAt('/projects/1/deploy');
    expect(await screen.findByRole('region', { name: 'Your role can look, not change' })).toBeInTheDocument();
    expect(screen.queryByRole('checkbox')).not.toBeInTheDocument();
  });

  it('creates a project and opens it', async () => {
    const user = userEvent.setup();
    installFakeEventSource();
    mockApi({
      'GET /api/auth/me': () => jsonResponse(operatorUser),
      'POST /api/projects': () => jsonResponse(project({ id: 3, name: 'Jones office', slug: 'jones' }), { status: 201 }),
      'GET /api/projects/3': () => jsonResponse(project({ id: 3, name: 'Jones office', slug: 'jones' })),
      'GET /api/dashboard': () => jsonResponse(snapshot({ projects: [] })),
    });
    const router = renderAt('/projects/new');
    await user.type(await screen.findByLabelText('Project name'), 'Jones office');
    await user.type(screen.getByLabelText('Coordinator host'), '10.1.1.5');
    await user.type(screen.getByLabelText('ser2net host'), '10.1.1.6');
    await user.click(screen.getByRole('button', { name: 'Create project' }));

    expect(await screen.findByRole('heading', { level: 1, name: 'Jones office' })).toBeInTheDocument();
    expect(router.state.location.pathname).toBe('/projects/3');
  });

  it('says when a project does not exist', async () => {
    mockApi({
      'GET /api/auth/me': () => jsonResponse(operatorUser),
      'GET /api/projects/99': () =>
        jsonResponse({ title: 'Project not found', status: 404, detail: 'There is no project 99.' }, { status: 404, headers: { 'Content-Type': 'application/problem+json' } }),
    });
    renderAt('/projects/99');
    const empty = await screen.findByRole('region', { name: 'This project does not exist' });
    expect(within(empty).getByRole('link', { name: 'projects' })).toHaveAttribute('href', '/projects');
  });
});

import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { instance, project, siteSettings } from '@/testing/fixtures/projects';
import { jsonResponse, mockApi, pendingForever, problemResponse, renderInRouter } from '@/testing/test-utils';
import { ProjectsList } from '../projects-list';

const links = {
  project: (id: number) => `/projects/${id}`,
  deploy: (id: number) => `/projects/${id}/deploy`,
  newProject: '/projects/new',
};

describe('projects list', () => {
  it('shows each project as a card with its guests counted by state, in the status colours', async () => {
    mockApi({
      'GET /api/projects': () =>
        jsonResponse([
          project({
            id: 1,
            name: 'Smith residence',
            slug: 'smith',
            settings: siteSettings({ zwave: { mode: 'usb', host: null, port: 3333, adapter: 'zstack', usbDevice: '/dev/ttyACM0' } }),
            instances: [
              instance({ id: 1, type: 'ctrlable-pro' }),
              instance({ id: 2, type: 'zigbee2mqtt', state: 'cloning', percent: 20 }),
              instance({ id: 3, type: 'zwavejs', state: 'active' }),
              instance({ id: 4, type: 'frigate', state: 'failed', error: 'clone task failed' }),
            ],
          }),
          project({ id: 2, name: 'Jones office', slug: 'jones' }),
        ]),
    });

    renderInRouter(<ProjectsList links={links} canOperate />);

    const smith = await screen.findByRole('article', { name: 'Smith residence' });
    expect(within(smith).getByText('smith')).toBeInTheDocument();
    expect(within(smith).getByText('4 guests')).toBeInTheDocument();
    const counts = within(smith).getByRole('list', { name: 'Guests of Smith residence by state' });
    const badges = within(counts).getAllByRole('listitem').map((item) => [item.textContent, item.firstElementChild?.getAttribute('data-tone')]);
    // Worst first: failed (red), needs a USB binding (amber), in progress (blue), active (green).
    expect(badges).toEqual([
      ['1 failed', 'danger'],
      ['1 needs a USB binding', 'warning'],
      ['1 in progress', 'info'],
      ['1 active', 'success'],
    ]);
    expect(smith).toHaveAttribute('data-tone', 'danger');
    expect(within(smith).getByRole('link', { name: 'Open Smith residence' })).toHaveAttribute('href', '/projects/1');
    expect(within(smith).getByRole('link', { name: 'Deploy to Smith residence' })).toHaveAttribute('href', '/projects/1/deploy');

    const jones = screen.getByRole('article', { name: 'Jones office' });
    expect(within(jones).getByText('Nothing deployed yet.')).toBeInTheDocument();
    expect(within(jones).getByText('0 guests')).toBeInTheDocument();
  });

  it('says what to do when there is no project yet', async () => {
    const user = userEvent.setup();
    mockApi({ 'GET /api/projects': () => jsonResponse([]) });

    const { router } = renderInRouter(<ProjectsList links={links} canOperate />, {
      routes: [{ path: '/projects/new', element: <h1>New project page</h1> }],
    });

    const empty = await screen.findByRole('region', { name: "No projects yet — create one for the customer's site" });
    await user.click(within(empty).getByRole('link', { name: 'New project' }));
    expect(router.state.location.pathname).toBe('/projects/new');
  });

  it('gives a viewer no deploy or create actions', async () => {
    mockApi({ 'GET /api/projects': () => jsonResponse([project({ instances: [instance({ id: 1, type: 'ctrlable-pro' })] })]) });

    renderInRouter(<ProjectsList links={links} canOperate={false} />);

    const card = await screen.findByRole('article', { name: 'Smith residence' });
    expect(within(card).getByRole('link', { name: 'Open Smith residence' })).toBeInTheDocument();
    expect(within(card).queryByRole('link', { name: /Deploy/ })).not.toBeInTheDocument();
  });

  it('tells a viewer with no projects who creates them', async () => {
    mockApi({ 'GET /api/projects': () => jsonResponse([]) });
    renderInRouter(<ProjectsList links={links} canOperate={false} />);
    const empty = await screen.findByRole('region', { name: /No projects yet/ });
    expect(empty).toHaveTextContent('Ask an operator or admin to create one');
    expect(within(empty).queryByRole('link')).not.toBeInTheDocument();
  });

  it('says it is loading, and explains a failure with the detail behind Details', async () => {
    let call = 0;
    mockApi({
      'GET /api/projects': () => (++call === 1 ? problemResponse(500, 'Internal Server Error') : pendingForever()),
    });
    renderInRouter(<ProjectsList links={links} canOperate />);
    const alert = await screen.findByRole('alert');
    expect(within(alert).getByRole('heading', { name: 'Could not load the projects' })).toBeInTheDocument();
    expect(alert).toHaveTextContent('GET /api/projects → HTTP 500 — Internal Server Error');
  });
});

import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { jsonResponse, mockApi, renderWithQueryClient } from '@/testing/test-utils';
import { UsersPage } from '../users-page';

const user = (over: Record<string, unknown>) => ({
  id: 1,
  username: 'admin',
  role: 'admin',
  disabled: false,
  locked: false,
  lastSignInAt: null,
  createdAt: '2026-06-01T08:00:00Z',
  ...over,
});

describe('users page', () => {
  it('lists accounts with their state and adds one', async () => {
    const actor = userEvent.setup();
    const users = [user({}), user({ id: 2, username: 'tech', role: 'operator', locked: true })];
    let created: unknown;
    mockApi({
      'GET /api/users': () => jsonResponse(users),
      'POST /api/users': async (request) => {
        created = await request.json();
        users.push(user({ id: 3, username: 'office', role: 'viewer' }));
        return jsonResponse(users[2], { status: 201 });
      },
    });
    renderWithQueryClient(<UsersPage />);

    const tech = await screen.findByRole('row', { name: /tech/ });
    expect(within(tech).getByText('Locked')).toBeInTheDocument();
    expect(within(tech).getByRole('button', { name: 'Unlock' })).toBeInTheDocument();

    const form = screen.getByRole('form', { name: 'Add a user' });
    await actor.type(within(form).getByLabelText('User name'), 'office');
    await actor.type(within(form).getByLabelText('Password'), 'office-Passw0rd-1');
    await actor.selectOptions(within(form).getByLabelText('Role'), 'viewer');
    await actor.click(within(form).getByRole('button', { name: 'Add user' }));

    expect(await screen.findByRole('row', { name: /office/ })).toBeInTheDocument();
    expect(created).toEqual({ username: 'office', password: 'office-Passw0rd-1', role: 'viewer' });
  });

  it('disables an account and explains a refused change', async () => {
    const actor = userEvent.setup();
    const puts: unknown[] = [];
    mockApi({
      'GET /api/users': () => jsonResponse([user({}), user({ id: 2, username: 'tech', role: 'operator' })]),
      'PUT /api/users/2': async (request) => {
        puts.push(await request.json());
        return jsonResponse(user({ id: 2, username: 'tech', role: 'operator', disabled: true }));
      },
      'PUT /api/users/1': () =>
        jsonResponse(
          { title: 'The last admin stays', status: 409, detail: 'This would leave no enabled admin account.' },
          { status: 409 },
        ),
    });
    renderWithQueryClient(<UsersPage />);

    const tech = await screen.findByRole('row', { name: /tech/ });
    await actor.click(within(tech).getByRole('button', { name: 'Disable' }));
    expect(puts).toEqual([{ role: 'operator', disabled: true }]);

    const admin = screen.getByRole('row', { name: /^admin/ });
    await actor.selectOptions(within(admin).getByLabelText('Role of admin'), 'viewer');
    expect(await within(admin).findByRole('alert')).toHaveTextContent('This would leave no enabled admin account.');
  });
});

import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { jsonResponse, mockApi, renderWithQueryClient } from '@/testing/test-utils';
import { ChangePasswordForm } from '../change-password-form';

describe('change password', () => {
  it('puts the server’s reasons beside the fields, then confirms', async () => {
    const user = userEvent.setup();
    let attempt = 0;
    mockApi({
      'POST /api/auth/password': () =>
        ++attempt === 1
          ? jsonResponse(
              { title: 'The password was not changed.', status: 400, errors: { currentPassword: ['This is not your current password.'] } },
              { status: 400 },
            )
          : new Response(null, { status: 204 }),
    });
    renderWithQueryClient(<ChangePasswordForm />);

    await user.type(screen.getByLabelText('Current password'), 'old-one');
    await user.type(screen.getByLabelText('New password'), 'a-brand-new-Passw0rd');
    await user.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByText('This is not your current password.')).toBeInTheDocument();

    await user.click(screen.getByRole('button', { name: 'Change password' }));
    expect(await screen.findByRole('status')).toHaveTextContent('Password changed.');
    expect(screen.getByLabelText('New password')).toHaveValue('');
  });
});

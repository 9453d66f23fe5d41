import { screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { AlertTargetView } from '@/shared/api';
import { jsonResponse, mockApi, renderWithQueryClient } from '@/testing/test-utils';
import { AlertTargets } from '../alert-targets';

const webhook: AlertTargetView = {
  id: 3,
  name: 'office',
  kind: 'webhook',
  enabled: true,
  webhook: { url: 'https://hooks.dealer.example/ctrlable', headerName: null },
  ntfy: null,
  smtp: null,
  secretsStored: { signingSecret: true, headerValue: false, token: false, password: false },
  createdAt: '2026-11-25T10:00:00Z',
  updatedAt: '2026-11-25T10:00:00Z',
};

describe('Alert targets', () => {
  it('adds an e-mail target with its settings and password, and shows it', async () => {
    const bodies: unknown[] = [];
    let targets: AlertTargetView[] = [];
    mockApi({
      'GET /api/alerts/targets': () => jsonResponse(targets),
      'POST /api/alerts/targets': async (request) => {
        bodies.push(await request.json());
        targets = [{ ...webhook, id: 4, name: 'mail', kind: 'smtp', webhook: null, smtp: { host: 'mail.dealer.example', port: 587, username: 'alerts', from: 'alerts@dealer.example', to: ['a@dealer.example', 'b@dealer.example'], caCertificatePem: null } }];
        return jsonResponse(targets[0], { status: 201 });
      },
    });
    renderWithQueryClient(<AlertTargets />);

    await userEvent.click(await screen.findByRole('button', { name: 'Add a target' }));
    await userEvent.type(screen.getByLabelText('Name'), 'mail');
    await userEvent.selectOptions(screen.getByLabelText('Kind'), 'smtp');
    await userEvent.type(screen.getByLabelText('SMTP server'), 'mail.dealer.example');
    await userEvent.type(screen.getByLabelText('User name'), 'alerts');
    await userEvent.type(screen.getByLabelText('Password'), 's3cret');
    await userEvent.type(screen.getByLabelText('From'), 'alerts@dealer.example');
    await userEvent.type(screen.getByLabelText('To'), 'a@dealer.example, b@dealer.example');
    await userEvent.click(screen.getByRole('button', { name: 'Add target' }));

    expect(await screen.findByText('a@dealer.example, b@dealer.example via mail.dealer.example:587')).toBeInTheDocument();
    expect(bodies).toEqual([
      {
        name: 'mail',
        kind: 'smtp',
        enabled: true,
        smtp: { host: 'mail.dealer.example', port: 587, username: 'alerts', from: 'alerts@dealer.example', to: ['a@dealer.example', 'b@dealer.example'], caCertificatePem: null },
        secrets: { password: 's3cret' },
      },
    ]);
  });

  it('shows each field error the API names next to its field', async () => {
    mockApi({
      'GET /api/alerts/targets': () => jsonResponse([]),
      'POST /api/alerts/targets': () =>
        jsonResponse(
          { title: 'One or more validation errors occurred.', status: 400, errors: { 'webhook.url': ['Enter the http:// or https:// URL the JSON is POSTed to.'], name: ["'Name' must not be empty."] } },
          { status: 400, headers: { 'Content-Type': 'application/problem+json' } },
        ),
    });
    renderWithQueryClient(<AlertTargets />);

    await userEvent.click(await screen.findByRole('button', { name: 'Add a target' }));
    await userEvent.type(screen.getByLabelText('URL'), 'ftp://nope');
    await userEvent.click(screen.getByRole('button', { name: 'Add target' }));

    expect(await screen.findByText('Enter the http:// or https:// URL the JSON is POSTed to.')).toBeInTheDocument();
    expect(screen.getByLabelText('URL')).toHaveAttribute('aria-invalid', 'true');
    expect(screen.getByLabelText('Name')).toHaveAttribute('aria-invalid', 'true');
  });

  it('keeps a stored secret when its field is left empty, and says it is stored without showing it', async () => {
    const bodies: unknown[] = [];
    mockApi({
      'GET /api/alerts/targets': () => jsonResponse([webhook]),
      'PUT /api/alerts/targets/3': async (request) => {
        bodies.push(await request.json());
        return jsonResponse(webhook);
      },
    });
    renderWithQueryClient(<AlertTargets />);

    await userEvent.click(await screen.findByRole('button', { name: 'Edit' }));
    expect(screen.getByLabelText('Signing secret')).toHaveValue('');
    expect(screen.getByText(/Stored \(never shown\)/)).toBeInTheDocument();
    await userEvent.click(screen.getByRole('button', { name: 'Save' }));

    await screen.findByRole('button', { name: 'Add a target' });
    expect(bodies).toEqual([
      {
        name: 'office',
        kind: 'webhook',
        enabled: true,
        webhook: { url: 'https://hooks.dealer.example/ctrlable', headerName: null },
        secrets: { signingSecret: null, headerValue: null },
      },
    ]);
  });

  it('sends a test and shows what the target answered', async () => {
    mockApi({
      'GET /api/alerts/targets': () => jsonResponse([webhook]),
      'POST /api/alerts/targets/3/test': () => jsonResponse({ delivered: false, answer: 'HTTP 401 Unauthorized' }),
    });
    renderWithQueryClient(<AlertTargets />);

    const row = await screen.findByTestId('alert-target-3');
    await userEvent.click(within(row).getByRole('button', { name: 'Send test' }));

    const result = await within(row).findByTestId('alert-test-result');
    expect(result).toHaveTextContent('Not delivered');
    expect(result).toHaveTextContent('HTTP 401 Unauthorized');
  });
});

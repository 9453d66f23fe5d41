import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { PlatformStatus } from '@/shared/api';
import { jsonResponse, mockApi, problemResponse, renderWithQueryClient } from '@/testing/test-utils';
import { PlatformConnection } from '../platform-connection';

const base: PlatformStatus = {
  connection: 'not-enrolled',
  platformUrl: 'https://platform.ctrlable.example/api',
  siteId: null,
  enrolledAt: null,
  lastReportAt: null,
  lastSequence: 0,
  pendingChanges: 0,
  lastAttemptAt: null,
  lastError: null,
  lastErrorAt: null,
  nextAttemptAt: null,
  consecutiveFailures: 0,
};

const connected: PlatformStatus = {
  ...base,
  connection: 'connected',
  siteId: 'site-0042',
  enrolledAt: '2026-11-25T10:00:00Z',
  lastReportAt: new Date(Date.now() - 60_000).toISOString(),
  lastSequence: 7,
};

describe('Platform connection', () => {
  it('shows a calm "not connected" state when no platform is configured, with no actions', async () => {
    mockApi({ 'GET /api/platform/status': () => jsonResponse({ ...base, connection: 'not-configured', platformUrl: null }) });
    renderWithQueryClient(<PlatformConnection canManage />);

    expect(await screen.findByText('Not connected to a platform')).toBeInTheDocument();
    expect(screen.getByText('CTRLABLE_PLATFORM__URL')).toBeInTheDocument();
    expect(screen.queryByRole('alert')).not.toBeInTheDocument();
    expect(screen.queryByRole('button')).not.toBeInTheDocument();
  });

  it('enrols with a one-time code (admin) and shows the connected status it returns', async () => {
    const bodies: unknown[] = [];
    mockApi({
      'GET /api/platform/status': () => jsonResponse(base),
      'POST /api/platform/enrolment': async (request) => {
        bodies.push(await request.json());
        return jsonResponse(connected);
      },
    });
    renderWithQueryClient(<PlatformConnection canManage />);

    await userEvent.type(await screen.findByLabelText('Enrolment code'), '  ENR-ABC123 ');
    await userEvent.click(screen.getByRole('button', { name: 'Enrol' }));

    expect(await screen.findByText('Connected')).toBeInTheDocument();
    expect(bodies).toEqual([{ code: 'ENR-ABC123' }]);
    expect(screen.getByText('site-0042')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Re-enrol' })).toBeInTheDocument();
  });

  it('says why the platform refused a code', async () => {
    mockApi({
      'GET /api/platform/status': () => jsonResponse(base),
      'POST /api/platform/enrolment': () => problemResponse(422, 'Enrolment code refused', 'The code is unknown, expired or used already.'),
    });
    renderWithQueryClient(<PlatformConnection canManage />);

    await userEvent.type(await screen.findByLabelText('Enrolment code'), 'ENR-OLD123');
    await userEvent.click(screen.getByRole('button', { name: 'Enrol' }));

    expect(await screen.findByRole('alert')).toHaveTextContent(/expired or used/);
  });

  it('makes a rejected token unmistakable and re-enrols with PUT', async () => {
    const methods: string[] = [];
    mockApi({
      'GET /api/platform/status': () =>
        jsonResponse({
          ...connected,
          connection: 'token-rejected',
          pendingChanges: 3,
          lastError: 'The platform rejected the site token — re-enrol this site with a new code. (The platform answered HTTP 401.)',
          lastErrorAt: new Date().toISOString(),
        }),
      'PUT /api/platform/enrolment': (request) => {
        methods.push(request.method);
        return jsonResponse(connected);
      },
    });
    renderWithQueryClient(<PlatformConnection canManage />);

    expect(await screen.findByText('Platform rejected the site token — re-enrol')).toBeInTheDocument();
    expect(screen.getByRole('alert')).toHaveTextContent(/nothing is reported/);
    expect(screen.getByTestId('platform-pending')).toHaveTextContent('3');
    await userEvent.type(screen.getByLabelText('New enrolment code'), 'ENR-NEW456');
    await userEvent.click(screen.getByRole('button', { name: 'Re-enrol' }));

    expect(await screen.findByText('Connected')).toBeInTheDocument();
    expect(methods).toEqual(['PUT']);
  });

  it('shows retrying with the last error and the next attempt', async () => {
    mockApi({
      'GET /api/platform/status': () =>
        jsonResponse({
          ...connected,
          connection: 'retrying',
          pendingChanges: 12,
          consecutiveFailures: 4,
          lastError: 'The platform could not be reached (ConnectionError).',
          lastErrorAt: new Date().toISOString(),
          nextAttemptAt: new Date(Date.now() + 120_000).toISOString(),
        }),
    });
    renderWithQueryClient(<PlatformConnection canManage={false} />);

    expect(await screen.findByText('Platform unreachable — retrying')).toBeInTheDocument();
    expect(screen.getByTestId('platform-last-error')).toHaveTextContent('could not be reached');
    expect(screen.getByText('Next attempt')).toBeInTheDocument();
  });

  it('is read-only for non-admins', async () => {
    mockApi({ 'GET /api/platform/status': () => jsonResponse(connected) });
    renderWithQueryClient(<PlatformConnection canManage={false} />);

    expect(await screen.findByText('Connected')).toBeInTheDocument();
    expect(screen.queryByRole('button')).not.toBeInTheDocument();
    expect(screen.queryByRole('textbox')).not.toBeInTheDocument();
    expect(screen.getByText(/Only an admin/)).toBeInTheDocument();
  });

  it('disconnects only after confirmation', async () => {
    let deletes = 0;
    mockApi({
      'GET /api/platform/status': () => jsonResponse(connected),
      'DELETE /api/platform/enrolment': () => {
        deletes++;
        return jsonResponse(base);
      },
    });
    renderWithQueryClient(<PlatformConnection canManage />);

    await userEvent.click(await screen.findByRole('button', { name: 'Disconnect' }));
    const dialog = screen.getByRole('dialog', { name: 'Disconnect from the platform?' });
    await userEvent.click(within(dialog).getByRole('button', { name: 'Cancel' }));
    expect(deletes).toBe(0);

    await userEvent.click(screen.getByRole('button', { name: 'Disconnect' }));
    await userEvent.click(within(screen.getByRole('dialog')).getByRole('button', { name: 'Disconnect' }));
    await waitFor(() => expect(deletes).toBe(1));
    expect(await screen.findByText('Not enrolled')).toBeInTheDocument();
  });
});

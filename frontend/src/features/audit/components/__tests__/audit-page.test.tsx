import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { jsonResponse, mockApi, renderWithQueryClient } from '@/testing/test-utils';
import { AuditLogPage } from '../audit-page';

function entry(id: number) {
  return {
    id,
    at: '2026-06-01T08:00:00Z',
    actorKind: 'user',
    actorName: 'admin',
    method: 'POST',
    route: '/api/tokens/',
    target: `token ${id}`,
    statusCode: id === 1 ? 403 : 201,
    remoteIp: '192.168.1.5',
  };
}

describe('audit log page', () => {
  it('shows who did what, newest first, a page at a time', async () => {
    const user = userEvent.setup();
    const asked: string[] = [];
    mockApi({
      'GET /api/audit': (request) => {
        const url = new URL(request.url);
        asked.push(url.search);
        const page = Number(url.searchParams.get('page'));
        return jsonResponse({ items: page === 1 ? [entry(60)] : [entry(1)], page, pageSize: 50, total: 60 });
      },
    });
    renderWithQueryClient(<AuditLogPage />);

    expect(await screen.findByRole('row', { name: /token 60/ })).toHaveTextContent('POST /api/tokens/');
    expect(screen.getByText('Page 1 of 2 (60 entries)')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Newer' })).toBeDisabled();

    await user.click(screen.getByRole('button', { name: 'Older' }));

    expect(await screen.findByRole('row', { name: /token 1/ })).toHaveTextContent('403 refused');
    expect(asked).toEqual(['?page=1&pageSize=50', '?page=2&pageSize=50']);
  });
});

import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { ApiError } from '@/shared/api';
import { QueryError } from '../query-error';

function httpError(status: number, detail?: string) {
  return new ApiError({
    reason: 'http',
    status,
    method: 'GET',
    url: '/api/things',
    message: `HTTP ${status}`,
    problem: { title: 'Server error', status, ...(detail ? { detail } : {}) },
  });
}

describe('QueryError', () => {
  it('is an alert with the title, a plain sentence, and the technical line behind Details', () => {
    render(<QueryError title="Could not load the things" query={{ error: httpError(500, 'boom'), refetch: vi.fn(), isFetching: false }} />);

    const alert = screen.getByRole('alert');
    expect(within(alert).getByRole('heading', { name: 'Could not load the things' })).toBeInTheDocument();
    expect(within(alert).getByText(/answered with an error \(HTTP 500\)/)).toBeInTheDocument();
    expect(within(alert).getByText('Details')).toBeInTheDocument();
    expect(alert.querySelector('pre')).toHaveTextContent('GET /api/things → HTTP 500 — Server error: boom');
  });

  it('says the provisioner did not answer when there was no response', () => {
    const error = new ApiError({ reason: 'network', status: 0, method: 'GET', url: '/api/things', message: 'offline' });
    render(<QueryError title="Could not load the things" query={{ error, refetch: vi.fn(), isFetching: false }} />);
    expect(screen.getByRole('alert')).toHaveTextContent('The provisioner did not answer.');
  });

  it('shows the caller’s own words instead of the generic sentence', () => {
    render(
      <QueryError title="Could not load the things" query={{ error: httpError(502), refetch: vi.fn(), isFetching: false }}>
        <p>Check the network.</p>
      </QueryError>,
    );
    const alert = screen.getByRole('alert');
    expect(alert).toHaveTextContent('Check the network.');
    expect(alert).not.toHaveTextContent('answered with an error');
  });

  it('retries the query with "Try again", and is disabled while it is fetching', async () => {
    const refetch = vi.fn();
    const { rerender } = render(
      <QueryError title="Could not load the things" query={{ error: new Error('odd'), refetch, isFetching: false }} />,
    );
    expect(screen.getByRole('alert')).toHaveTextContent('Something unexpected went wrong. Try again.');
    await userEvent.setup().click(screen.getByRole('button', { name: 'Try again' }));
    expect(refetch).toHaveBeenCalledOnce();

    rerender(<QueryError title="Could not load the things" query={{ error: new Error('odd'), refetch, isFetching: true }} />);
    expect(screen.getByRole('button', { name: 'Retrying…' })).toBeDisabled();
  });
});

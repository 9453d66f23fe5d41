import { describe, expect, it } from 'vitest';
import { mockFetch, problemResponse } from '@/testing/test-utils';
import { ApiError } from '../api-error';
import { apiClient, unwrap } from '../client';

async function caught(promise: Promise<unknown>): Promise<ApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error('expected the call to fail');
}

describe('unwrap', () => {
  it('turns problem details into an ApiError that says what came back', async () => {
    mockFetch(() => problemResponse(404, 'Not Found', 'No release named 2099.01.'));

    const error = await caught(
      unwrap(
        'GET',
        '/api/releases/2099.01',
        apiClient.GET('/api/releases/{release}', { params: { path: { release: '2099.01' } } }),
      ),
    );

    expect(error.reason).toBe('http');
    expect(error.status).toBe(404);
    expect(error.isClientError).toBe(true);
    expect(error.message).toBe('Not Found');
    expect(error.technicalSummary).toBe(
      'GET /api/releases/2099.01 → HTTP 404 — Not Found: No release named 2099.01.',
    );
  });

  it('reports a 200 answer that is not JSON (an HTML fallback page) as unreadable', async () => {
    mockFetch(
      () => new Response('<!doctype html><html></html>', { headers: { 'Content-Type': 'text/html' } }),
    );

    const error = await caught(unwrap('GET', '/api/releases', apiClient.GET('/api/releases')));

    expect(error.reason).toBe('unreadable');
    expect(error.status).toBe(0);
    expect(error.message).toMatch(/not the expected data/);
    expect(error.technicalSummary).toMatch(/^GET \/api\/releases → the response was not the expected JSON \(SyntaxError: /);
    expect(error.cause).toBeInstanceOf(SyntaxError);
  });
});

import { QueryClientProvider, type QueryClient } from '@tanstack/react-query';
import { render, type RenderOptions } from '@testing-library/react';
import type { ReactElement, ReactNode } from 'react';
import { createMemoryRouter, RouterProvider, type RouteObject } from 'react-router';
import { vi } from 'vitest';
import { createQueryClient } from '@/shared/lib/react-query';

/** A query client for tests: no retries, nothing shared between tests. */
export function createTestQueryClient(): QueryClient {
  return createQueryClient({ queries: { retry: false, staleTime: 0, gcTime: Infinity } });
}

export function renderWithQueryClient(
  ui: ReactElement,
  { queryClient = createTestQueryClient(), ...options }: RenderOptions & { queryClient?: QueryClient } = {},
) {
  const wrapper = ({ children }: { children: ReactNode }) => (
    <QueryClientProvider client={queryClient}>{children}</QueryClientProvider>
  );
  return { queryClient, ...render(ui, { wrapper, ...options }) };
}

type Handler = (request: Request) => Response | Promise<Response>;

/**
 * Replaces global fetch for one test (vitest unstubs globals after each test). The handler
 * sees every request; anything it does not expect should make the test fail loudly.
 */
export function mockFetch(handler: Handler) {
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = input instanceof Request ? input : new Request(input, init);
    return handler(request);
  });
  vi.stubGlobal('fetch', fetchMock);
  return fetchMock;
}

export function jsonResponse(body: unknown, init: ResponseInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status: 200,
    ...init,
    headers: { 'Content-Type': 'application/json', ...init.headers },
  });
}

export function problemResponse(status: number, title: string, detail?: string): Response {
  return new Response(JSON.stringify({ type: 'about:blank', title, status, detail }), {
    status,
    headers: { 'Content-Type': 'application/problem+json' },
  });
}

/** A response that never arrives (for loading states). */
export function pendingForever(): Promise<Response> {
  return new Promise<Response>(() => {});
}

/** The path (and query) a mocked request was made to. */
export function requestPath(request: Request): string {
  const url = new URL(request.url);
  return `${url.pathname}${url.search}`;
}

type RouteHandlers = Record<string, (request: Request) => Response | Promise<Response>>;

/**
 * Mocks the API by "METHOD /path" (query ignored). GET /api/auth/antiforgery answers a fixed token
 * unless a handler is given; any other unexpected request fails the test loudly.
 */
export function mockApi(handlers: RouteHandlers) {
  return mockFetch(async (request) => {
    const key = `${request.method} ${new URL(request.url).pathname}`;
    const handler = handlers[key];
    if (handler) return handler(request);
    if (key === 'GET /api/auth/antiforgery') return jsonResponse({ headerName: 'X-CSRF-TOKEN', token: 'csrf-test-token' });
    throw new Error(`unexpected request ${key}`);
  });
}

export function problemWithCode(status: number, title: string, code: string, detail?: string): Response {
  return new Response(JSON.stringify({ type: 'about:blank', title, status, detail, code }), {
    status,
    headers: { 'Content-Type': 'application/problem+json' },
  });
}

export const adminUser = { name: 'admin', role: 'admin', kind: 'user' } as const;

/**
 * Renders `ui` at "/" inside a memory router and a fresh query client; `routes` adds pages to
 * navigate to (anything else lands on a page that says "Elsewhere").
 */
export function renderInRouter(
  ui: ReactElement,
  { queryClient = createTestQueryClient(), routes = [] }: { queryClient?: QueryClient; routes?: RouteObject[] } = {},
) {
  const router = createMemoryRouter([{ path: '/', element: ui }, ...routes, { path: '*', element: <p>Elsewhere</p> }]);
  render(
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return { router, queryClient };
}

export const operatorUser = { name: 'tech', role: 'operator', kind: 'user' } as const;
export const viewerUser = { name: 'office', role: 'viewer', kind: 'user' } as const;

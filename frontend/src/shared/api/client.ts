import createClient from 'openapi-fetch';
import { ApiError, isProblemDetails } from './api-error';
import type { paths } from './schema';

/**
 * The one client for the provisioner's documented API, typed from openapi.json.
 * Same origin: in development Vite proxies /api to the backend; in production the backend
 * serves this SPA itself.
 */
export const apiClient = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? '',
  // Looked up on every call, so tests (and polyfills) can replace fetch after import.
  fetch: (request) => globalThis.fetch(request),
  headers: { Accept: 'application/json' },
});

/** The header the backend's antiforgery check reads on POST, PUT and DELETE of a browser session. */
export const ANTIFORGERY_HEADER = 'X-CSRF-TOKEN';

/**
 * Every state-changing call carries a fresh antiforgery token. The token is bound to who is signed
 * in, so fetching it per call (one small GET) never sends one from before a sign-in or sign-out.
 */
apiClient.use({
  async onRequest({ request }) {
    if (request.method === 'GET' || request.method === 'HEAD') return request;
    const response = await globalThis.fetch(
      new Request(new URL('/api/auth/antiforgery', request.url), { headers: { Accept: 'application/json' } }),
    );
    if (response.ok) {
      const body = (await response.json()) as { headerName?: string; token?: string };
      if (body.token) request.headers.set(body.headerName ?? ANTIFORGERY_HEADER, body.token);
    }
    return request;
  },
});

type Result<T> = { data?: T; error?: unknown; response: Response };

/**
 * Awaits an openapi-fetch call and returns its data, or throws an ApiError that says what
 * happened. Also covers a server that answers 200 with something that is not the expected JSON
 * (for example an HTML page from a proxy or an older backend).
 */
export async function unwrap<T>(
  method: string,
  url: string,
  call: Promise<Result<T>>,
): Promise<T> {
  let result: Result<T>;
  try {
    result = await call;
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause;
    const unreadable = cause instanceof SyntaxError;
    throw new ApiError({
      reason: unreadable ? 'unreadable' : 'network',
      status: 0,
      method,
      url,
      message: unreadable
        ? 'The server answered with something that is not the expected data.'
        : 'The provisioner could not be reached.',
      cause,
    });
  }

  const { data, error, response } = result;
  if (!response.ok || data === undefined) {
    const problem = isProblemDetails(error) ? error : undefined;
    throw new ApiError({
      reason: 'http',
      status: response.status,
      method,
      url,
      problem,
      message: problem?.title ?? `The provisioner answered ${response.status} ${response.statusText}`.trim(),
    });
  }
  return data;
}

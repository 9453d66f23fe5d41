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

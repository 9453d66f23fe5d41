import type { ProblemDetails } from './models';

/**
 * Why a call failed: no HTTP answer at all (network down, server stopped), an answer that could
 * not be read as the documented JSON, or an HTTP error status.
 */
export type ApiErrorReason = 'network' | 'unreadable' | 'http';

/**
 * A failed call to the provisioner's API. `status` is the HTTP status, or 0 when there is none
 * to report. `problem` carries the RFC 9457 problem details the backend sent, if any.
 */
export class ApiError extends Error {
  readonly reason: ApiErrorReason;
  readonly status: number;
  readonly problem: ProblemDetails | undefined;
  readonly method: string;
  readonly url: string;

  constructor(options: {
    reason: ApiErrorReason;
    status: number;
    method: string;
    url: string;
    message: string;
    problem?: ProblemDetails | undefined;
    cause?: unknown;
  }) {
    super(options.message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ApiError';
    this.reason = options.reason;
    this.status = options.status;
    this.problem = options.problem;
    this.method = options.method;
    this.url = options.url;
  }

  /** A client error (4xx): asking again will not help. */
  get isClientError(): boolean {
    return this.status >= 400 && this.status < 500;
  }

  /** One line for a "Details" disclosure: what was asked and what came back. */
  get technicalSummary(): string {
    const request = `${this.method} ${this.url}`;
    switch (this.reason) {
      case 'network':
        return `${request} → no response (${describeCause(this.cause)})`;
      case 'unreadable':
        return `${request} → the response was not the expected JSON (${describeCause(this.cause)})`;
      case 'http': {
        const title = this.problem?.title ? ` — ${this.problem.title}` : '';
        const detail = this.problem?.detail ? `: ${this.problem.detail}` : '';
        return `${request} → HTTP ${this.status}${title}${detail}`;
      }
    }
  }
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
}

export function isProblemDetails(value: unknown): value is ProblemDetails {
  return typeof value === 'object' && value !== null && ('title' in value || 'status' in value);
}

/** The backend's machine-readable reason in a problem ("setup-required", "locked", "antiforgery", …). */
export function problemCode(error: unknown): string | undefined {
  if (!(error instanceof ApiError)) return undefined;
  const code = error.problem?.['code'];
  return typeof code === 'string' ? code : undefined;
}

/** Per-field messages of a validation problem (400 with an `errors` map), keyed by field name. */
export function fieldErrors(error: unknown): Record<string, string[]> {
  if (!(error instanceof ApiError)) return {};
  const errors = error.problem?.['errors'];
  if (typeof errors !== 'object' || errors === null) return {};
  return Object.fromEntries(
    Object.entries(errors).filter((entry): entry is [string, string[]] => Array.isArray(entry[1])),
  );
}

/** What to show for a failed form submission: the problem's detail, else its title, else the message. */
export function problemMessage(error: unknown): string {
  if (error instanceof ApiError) return error.problem?.detail ?? error.problem?.title ?? error.message;
  return error instanceof Error ? error.message : String(error);
}

/**
 * A failed load in the user's words (`message`) and the technical line for "Details" (`details`):
 * what went wrong on the way (no answer, unreadable answer, HTTP status), not how to fix a form.
 */
export function explainFailure(error: unknown): { message: string; details: string } {
  if (error instanceof ApiError) {
    const message = {
      network:
        'The provisioner did not answer. Check that it is running and that this device can reach it, then try again.',
      unreadable:
        'The provisioner answered with something this page cannot read: it may be an older version, or another page is in the way. Try again; if it keeps happening, send the details below to whoever looks after this provisioner.',
      http: `The provisioner answered with an error (HTTP ${error.status}). Try again; if it keeps happening, send the details below to whoever looks after this provisioner.`,
    }[error.reason];
    return { message, details: error.technicalSummary };
  }
  return { message: 'Something unexpected went wrong. Try again.', details: error instanceof Error ? error.message : String(error) };
}

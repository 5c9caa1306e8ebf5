import type { HttpError } from './errors';

/** An HTTP request as the core sees it: headers lowercased, body as bytes. */
export interface HttpRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer;
  /** The client's IP as API Gateway saw the connection: never from a header the client can set. */
  readonly sourceIp?: string | undefined;
  /** API Gateway's request id (or one generated for it): never from a header the client can set. */
  readonly correlationId?: string | undefined;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** RFC 9457 problem details. `errors` lists per-field validation failures. */
export function problemResponse(error: HttpError, headers: Record<string, string> = {}): HttpResponse {
  const problem: Record<string, unknown> = {
    type: 'about:blank',
    title: error.title,
    status: error.status,
    detail: error.message,
  };
  if (error.errors) problem.errors = error.errors;
  return {
    status: error.status,
    headers: { ...headers, ...error.headers, 'content-type': 'application/problem+json' },
    body: JSON.stringify(problem),
  };
}

export function jsonResponse(
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): HttpResponse {
  return { status, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(value) };
}

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

const HTML_SPECIAL = /[&<>"']/;
const HTML_SPECIALS = /[&<>"']/g;

export function escapeHtml(value: string): string {
  // Most field values have nothing to escape: testing first spares the copy.
  return HTML_SPECIAL.test(value)
    ? value.replace(HTML_SPECIALS, (char) => HTML_ESCAPES[char] ?? char)
    : value;
}

/** Media type of a Content-Type header, lowercased, without parameters. */
export function mediaType(contentType: string | undefined): string | undefined {
  if (contentType === undefined) return undefined;
  const end = contentType.indexOf(';');
  const type = (end < 0 ? contentType : contentType.slice(0, end)).trim().toLowerCase();
  return type === '' ? undefined : type;
}

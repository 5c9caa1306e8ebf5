import type { FormConfig } from '../config/config';
import { ForbiddenOriginError, type HttpError } from '../errors';
import { escapeHtml, type HttpRequest, type HttpResponse, mediaType } from '../http';
import { rejectionReason } from '../metrics';

/**
 * A refused form post, answered to a visitor without JavaScript. A plain HTML form navigates the browser
 * to the response, so problem+json would leave the visitor on a page of raw JSON with no way back. A
 * browser that asks for HTML gets a short page that says what was wrong, field by field, and links back to
 * the form; or, where the form names an error page (`errorRedirectUrl`), a 303 to it with the reason.
 * JSON clients (and fetch(), which sends `Accept: * / *`) keep problem+json.
 */

/**
 * Content negotiation (RFC 9110 section 12.5.1), reduced to the one question: does the client rank
 * text/html, named explicitly, above JSON? A browser's form navigation sends
 * `text/html,application/xhtml+xml,...,* / *;q=0.8`; fetch() sends `* / *` unless told otherwise, so a
 * wildcard never selects HTML. A JSON body means a script posted it: it gets JSON whatever it accepts.
 */
export function wantsHtml(headers: HttpRequest['headers']): boolean {
  if (mediaType(headers['content-type']) === 'application/json') return false;
  const accept = headers.accept;
  if (accept === undefined) return false;
  let html = 0;
  let json = 0;
  for (const range of accept.split(',').slice(0, 32)) {
    const [type = '', ...params] = range.split(';');
    const name = type.trim().toLowerCase();
    const q = quality(params);
    if (name === 'text/html' || name === 'application/xhtml+xml') html = Math.max(html, q);
    else if (name === 'application/json' || name === 'application/problem+json') json = Math.max(json, q);
  }
  return html > 0 && html >= json;
}

function quality(params: ReadonlyArray<string>): number {
  for (const param of params) {
    const [key, value] = param.split('=');
    if (key?.trim().toLowerCase() !== 'q') continue;
    const q = Number(value?.trim());
    return Number.isFinite(q) && q >= 0 && q <= 1 ? q : 0;
  }
  return 1;
}

/** The answer to a browser that asked for HTML: a 303 to the form's error page, or the page itself. */
export function formErrorHtml(
  error: HttpError,
  request: HttpRequest,
  form: FormConfig | undefined,
  headers: Record<string, string> = {},
): HttpResponse {
  const code = errorCode(error);
  if (form?.errorRedirectUrl !== undefined) {
    const target = new URL(form.errorRedirectUrl);
    target.searchParams.append('error', code);
    // Field names come from the visitor: the owner's page receives them URL-encoded and must escape them.
    for (const field of fieldNames(error)) target.searchParams.append('field', field);
    return {
      status: 303,
      headers: { ...headers, location: target.href, 'cache-control': 'no-store' },
      body: '',
    };
  }
  return {
    status: error.status,
    headers: {
      ...headers,
      ...error.headers,
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      // Nothing on the page runs or loads: no scripts, no images, no frames; only its own inline style.
      'content-security-policy':
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    },
    body: errorPage(error, backLink(request, form)),
  };
}

/** The reason in the error page's query: the metrics' rejection reason, `unavailable` for a 5xx. */
export function errorCode(error: HttpError): string {
  return error.status >= 500 ? 'unavailable' : rejectionReason(error);
}

function fieldNames(error: HttpError): string[] {
  const names = (error.errors ?? []).map((entry) => entry.field.slice(0, 64));
  return [...new Set(names)].slice(0, 10);
}

/**
 * Where "Back to the form" goes: the page the visitor came from (Referer), when its origin is one the form
 * accepts posts from; else that allowed origin's home page; else nowhere. Never a URL from elsewhere:
 * the link must not send a visitor on to a site the form's owner did not list.
 */
export function backLink(request: HttpRequest, form: FormConfig | undefined): string | undefined {
  if (form === undefined) return undefined;
  const referer = request.headers.referer;
  if (referer !== undefined) {
    try {
      const url = new URL(referer);
      if (form.allowedOrigins.includes(url.origin)) return url.href;
    } catch {}
  }
  const origin = request.headers.origin;
  if (origin !== undefined && form.allowedOrigins.includes(origin)) return `${origin}/`;
  return undefined;
}

const LABELS: Readonly<Record<string, string>> = {
  email: 'Email',
  name: 'Name',
  message: 'Message',
  _next: 'The thank-you page',
  '(body)': 'The form',
};

/** "Email is required." from `{ field: 'email', detail: 'is required' }`. */
function sentence(field: string, detail: string): string {
  const label = LABELS[field] ?? `The field “${field}”`;
  const text = /^(is|are|must|has|have|contains)\b/.test(detail)
    ? `${label} ${detail}`
    : `${label}: ${detail}`;
  return text.endsWith('.') ? text : `${text}.`;
}

function retryText(error: HttpError): string {
  const seconds = Number(error.headers['retry-after']);
  if (!Number.isFinite(seconds) || seconds <= 0) return '';
  const minutes = Math.ceil(seconds / 60);
  return seconds < 90
    ? ` Please try again in ${seconds} second${seconds === 1 ? '' : 's'}.`
    : ` Please try again in ${minutes} minutes.`;
}

/** Which origin was refused: the site's owner, trying the form, learns what to add to allowedOrigins. */
function originText(error: HttpError): string {
  return error instanceof ForbiddenOriginError && error.origin !== ''
    ? ` (It was sent from ${error.origin}.)`
    : '';
}

const STYLE =
  'body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}' +
  'h1{font-size:1.5rem}li{margin:.3rem 0}a{color:#0645ad}';

function errorPage(error: HttpError, back: string | undefined): string {
  const fields = (error.errors ?? []).slice(0, 20);
  const list =
    fields.length === 0
      ? ''
      : `<ul>${fields.map((entry) => `<li>${escapeHtml(sentence(entry.field, entry.detail))}</li>`).join('')}</ul>`;
  const link =
    back === undefined
      ? '<p>Use your browser’s Back button to return to the form.</p>'
      : `<p><a href="${escapeHtml(back)}">Back to the form</a></p>`;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Message not sent: ${escapeHtml(error.title)}</title><style>${STYLE}</style></head>
<body><main>
<h1>Your message was not sent</h1>
<p>${escapeHtml(error.message)}${escapeHtml(retryText(error) + originText(error))}</p>
${list}${link}
</main></body></html>
`;
}

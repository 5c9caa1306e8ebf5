import type { FormConfig, PostroomConfig } from '../functions/core/config/config';
import { escapeHtml } from '../functions/core/http';

/** The form the demo page posts to, and what the local stack allows it on top of the configuration. */
export interface DemoForm {
  readonly formId: string;
  /** The API's own origins on the port it listens on: http://127.0.0.1:PORT and http://localhost:PORT. */
  readonly origins: ReadonlyArray<string>;
  /** The demo's thank-you page on each of those origins, which the page asks for with `_next`. */
  readonly thanksUrls: ReadonlyArray<string>;
}

/**
 * The demo page posts to the `contact` form (else the first form) from the API's own origin, on whatever
 * port it runs. That origin and its thank-you page are added to that form for this run only, in memory:
 * the configuration file (which a deployment reads too) is never written, and other forms are unchanged.
 */
export function demoForm(config: PostroomConfig, apiPort: number): DemoForm & { config: PostroomConfig } {
  const form = config.forms.find((candidate) => candidate.id === 'contact') ?? config.forms[0];
  if (form === undefined) throw new Error('the configuration has no form');
  const origins = [`http://127.0.0.1:${apiPort}`, `http://localhost:${apiPort}`];
  const thanksUrls = origins.map((origin) => `${origin}/thanks`);
  const demo: FormConfig = {
    ...form,
    allowedOrigins: unique([...form.allowedOrigins, ...origins]),
    allowedRedirects: unique([...form.allowedRedirects, ...thanksUrls]),
  };
  return {
    formId: form.id,
    origins,
    thanksUrls,
    config: { ...config, forms: config.forms.map((candidate) => (candidate === form ? demo : candidate)) },
  };
}

function unique(values: ReadonlyArray<string>): string[] {
  return [...new Set(values)];
}

const STYLE = `
  body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
  label { display: block; margin-top: 1rem; font-weight: 600; }
  input, textarea { width: 100%; padding: .5rem; font: inherit; box-sizing: border-box; }
  textarea { min-height: 8rem; }
  button { margin-top: 1rem; padding: .6rem 1.4rem; font: inherit; }
  .gotcha { position: absolute; left: -10000px; }
  footer { margin-top: 2rem; color: #666; font-size: .9rem; }
`;

/**
 * The demo contact form: a plain HTML form posting to the demo form, as a website would embed it. `_next`
 * names the thank-you page on the origin the page was opened on (`pageOrigin`).
 */
export function demoPage(inboxUrl: string, formId: string, pageOrigin: string): string {
  const action = `/v1/forms/${encodeURIComponent(formId)}`;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Postroom demo: contact us</title><style>${STYLE}</style></head>
<body>
<h1>Contact us</h1>
<p>This form posts to <code>POST ${escapeHtml(action)}</code>. The mail lands in the
<a href="${escapeHtml(inboxUrl)}">local SES inbox</a>.</p>
<form method="post" action="${escapeHtml(action)}">
  <input type="hidden" name="_next" value="${escapeHtml(`${pageOrigin}/thanks`)}">
  <label for="name">Name</label><input id="name" name="name" autocomplete="name">
  <label for="email">Email</label><input id="email" name="email" type="email" required autocomplete="email">
  <label for="message">Message</label><textarea id="message" name="message" required></textarea>
  <div class="gotcha" aria-hidden="true"><label for="_gotcha">Leave this empty</label>
    <input id="_gotcha" name="_gotcha" tabindex="-1" autocomplete="off"></div>
  <button type="submit">Send</button>
</form>
<footer>Postroom, running locally.</footer>
</body></html>
`;
}

export function thanksPage(inboxUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Thank you</title><style>${STYLE}</style></head>
<body>
<h1>Thank you</h1>
<p>Your message is on its way. See it in the <a href="${escapeHtml(inboxUrl)}">local SES inbox</a>,
or <a href="/">send another</a>.</p>
</body></html>
`;
}

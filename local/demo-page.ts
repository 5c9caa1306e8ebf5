import { escapeHtml } from '../functions/core/http';

const STYLE = `
  body { font-family: system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
  label { display: block; margin-top: 1rem; font-weight: 600; }
  input, textarea { width: 100%; padding: .5rem; font: inherit; box-sizing: border-box; }
  textarea { min-height: 8rem; }
  button { margin-top: 1rem; padding: .6rem 1.4rem; font: inherit; }
  .gotcha { position: absolute; left: -10000px; }
  footer { margin-top: 2rem; color: #666; font-size: .9rem; }
`;

/** The demo contact form: a plain HTML form posting to the `contact` form, as a website would embed it. */
export function demoPage(inboxUrl: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Postroom demo: contact us</title><style>${STYLE}</style></head>
<body>
<h1>Contact us</h1>
<p>This form posts to <code>POST /v1/forms/contact</code>. The mail lands in the
<a href="${escapeHtml(inboxUrl)}">local SES inbox</a>.</p>
<form method="post" action="/v1/forms/contact">
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

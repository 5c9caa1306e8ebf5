import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  type ReleaseDeps,
  releaseSubmission,
  SubmissionNotFoundError,
} from '../functions/core/archive/operator';
import { FOLDERS, type Folder } from '../functions/core/archive/submission-archive';
import { escapeHtml } from '../functions/core/http';

/**
 * The local stack's submissions page (`/submissions`): each archived form's inbox and spam folder, a
 * submission's fields and files, and "Not spam", which releases it as `postroom submissions release` does.
 * On AWS the same view comes from the CLI and the API. Local only: the page is served on loopback, and the
 * one action it has carries a token of this process, so another site open in the browser cannot post it
 * (CSRF); every value shown is escaped, as visitors wrote it.
 */
export class LocalSubmissionsPage {
  private readonly token = randomBytes(18).toString('base64url');

  constructor(private readonly deps: () => ReleaseDeps) {}

  async list(query: URLSearchParams): Promise<string> {
    const { config, archive, nowMs } = this.deps();
    const forms = config.forms.filter((form) => form.archive !== undefined);
    if (forms.length === 0) {
      return page(
        'Submissions',
        '<p>No form keeps submissions. Give a form <code>archive</code> settings in cdk.json (docs/privacy.md).</p>',
      );
    }
    const formId = forms.some((form) => form.id === query.get('form'))
      ? (query.get('form') as string)
      : (forms[0]?.id ?? '');
    const folder: Folder = query.get('status') === 'spam' ? 'spam' : 'inbox';
    const { items } = await archive.listFolder({ formId, folder, limit: 100 }, Math.floor(nowMs / 1000));
    const tabs = forms
      .flatMap((form) =>
        FOLDERS.map((f) => {
          const current = form.id === formId && f === folder;
          const href = `/submissions?form=${encodeURIComponent(form.id)}&status=${f}`;
          return `<a href="${escapeHtml(href)}"${current ? ' aria-current="page"' : ''}>${escapeHtml(form.id)} · ${f}</a>`;
        }),
      )
      .join(' ');
    const rows = items
      .map((item) => {
        const email = item.fields.find(([name]) => name === 'email')?.[1] ?? '';
        const message = item.fields.find(([name]) => name === 'message')?.[1] ?? '';
        return `<tr><td><a href="/submissions/${encodeURIComponent(item.id)}">${escapeHtml(item.receivedAt.replace('T', ' ').slice(0, 19))}</a></td><td>${escapeHtml(email)}</td><td>${escapeHtml(message.slice(0, 80))}</td><td>${escapeHtml(item.spamReason ?? '')}</td><td>${item.files.length}</td></tr>`;
      })
      .join('');
    const table =
      items.length === 0
        ? `<p class="empty">No submissions in ${escapeHtml(formId)} · ${folder}.</p>`
        : `<table><thead><tr><th>Received (UTC)</th><th>Email</th><th>Message</th><th>Spam reason</th><th>Files</th></tr></thead><tbody>${rows}</tbody></table>`;
    return page(`Submissions · ${formId} · ${folder}`, `<nav>${tabs}</nav>${table}`);
  }

  async detail(id: string, notice?: string): Promise<string | undefined> {
    const { archive, nowMs } = this.deps();
    const found = await archive.get(id, Math.floor(nowMs / 1000));
    if (found === undefined) return undefined;
    const fields = found.fields
      .map(([name, value]) => `<dt>${escapeHtml(name)}</dt><dd>${escapeHtml(value)}</dd>`)
      .join('');
    const files = found.files
      .map((file, index) =>
        file.key === undefined
          ? `<li>${escapeHtml(file.name)} (${file.size} bytes, not kept)</li>`
          : `<li><a href="/submissions/${encodeURIComponent(found.id)}/files/${index}">${escapeHtml(file.name)}</a> (${escapeHtml(file.contentType)}, ${file.size} bytes)</li>`,
      )
      .join('');
    const release =
      found.folder === 'spam'
        ? `<form method="post" action="/submissions/${encodeURIComponent(found.id)}/not-spam"><input type="hidden" name="token" value="${this.token}"><button type="submit">Not spam: move to the inbox and send the notification</button></form>`
        : '';
    const back = `/submissions?form=${encodeURIComponent(found.formId)}&status=${found.folder}`;
    return page(
      `Submission ${found.id}`,
      `${notice ? `<p class="notice" role="status">${escapeHtml(notice)}</p>` : ''}<p><a href="${escapeHtml(back)}">← ${escapeHtml(found.formId)} · ${found.folder}</a></p>
<p>Received ${escapeHtml(found.receivedAt)} · ${found.folder}${found.spamReason ? (found.folder === 'spam' ? ` (${escapeHtml(found.spamReason)})` : ` (caught as ${escapeHtml(found.spamReason)}, marked not spam)`) : ''} · kept until ${new Date(found.expiresAt * 1000).toISOString().slice(0, 10)}</p>
<dl>${fields}</dl>${files ? `<h2>Files</h2><ul>${files}</ul>` : ''}${release}`,
    );
  }

  async file(
    id: string,
    index: number,
  ): Promise<{ bytes: Buffer; name: string; contentType: string } | undefined> {
    const { archive, files, nowMs } = this.deps();
    const found = await archive.get(id, Math.floor(nowMs / 1000));
    const file = found?.files[index];
    if (file?.key === undefined) return undefined;
    return { bytes: await files.fetchArchived(file.key), name: file.name, contentType: file.contentType };
  }

  /** The not-spam action; false for a request without this process's token. */
  async release(id: string, body: string): Promise<{ ok: boolean; notice?: string }> {
    const token = Buffer.from(new URLSearchParams(body).get('token') ?? '');
    const expected = Buffer.from(this.token);
    if (token.length !== expected.length || !timingSafeEqual(token, expected)) return { ok: false };
    try {
      const outcome = await releaseSubmission(id, this.deps());
      return {
        ok: true,
        notice:
          outcome === 'released'
            ? 'Moved to the inbox; the notification was sent.'
            : 'Moved to the inbox; its notification had been sent before.',
      };
    } catch (error) {
      if (error instanceof SubmissionNotFoundError) return { ok: true, notice: error.message };
      throw error;
    }
  }
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1f2933}
nav a{display:inline-block;margin:0 .5rem .5rem 0;padding:.25rem .6rem;border:1px solid #cbd2d9;border-radius:4px;text-decoration:none;color:#1f2933}
nav a[aria-current]{background:#1f2933;color:#fff}
table{border-collapse:collapse;width:100%}th,td{border-bottom:1px solid #e4e7eb;padding:.4rem;text-align:left;vertical-align:top}
dt{font-weight:600;margin-top:.5rem}dd{margin:0;white-space:pre-wrap}
.notice{background:#e3f9e5;padding:.5rem;border-radius:4px}
button{font:inherit;padding:.4rem .8rem;margin-top:1rem}
</style>
<h1>${escapeHtml(title)}</h1>
${body}
</html>`;
}

import type { ArchivedSubmission } from './submission-archive';

/**
 * Exports of archived submissions: CSV for spreadsheets, NDJSON for programs.
 * CSV follows RFC 4180 (CRLF line ends; a cell with a comma, quote, CR or LF is quoted, quotes doubled),
 * starts with a UTF-8 byte order mark so that Excel reads it as UTF-8, and neutralizes cells a spreadsheet
 * would run as a formula (CSV injection): a cell that starts with =, +, -, @, tab or CR gets a leading
 * apostrophe, as OWASP recommends. https://www.rfc-editor.org/rfc/rfc4180
 * https://owasp.org/www-community/attacks/CSV_Injection
 */

export const CSV_BOM = '\uFEFF';

/** A file column's text: its name, and a short-lived link where there is one. */
export type FileLink = (key: string) => Promise<string | undefined>;

export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

/** The CSV of these submissions: fixed columns, then every field name in the order first seen. */
export async function toCsv(
  submissions: ReadonlyArray<ArchivedSubmission>,
  link?: FileLink,
): Promise<string> {
  const names: string[] = [];
  for (const submission of submissions)
    for (const [name] of submission.fields) if (!names.includes(name)) names.push(name);
  const header = ['id', 'form', 'folder', 'receivedAt', 'spamReason', ...names, 'files'];
  const rows = [header.map(csvCell).join(',')];
  for (const submission of submissions) {
    const fields = new Map(submission.fields);
    const files = await fileColumn(submission, link);
    rows.push(
      [
        submission.id,
        submission.formId,
        submission.folder,
        submission.receivedAt,
        submission.spamReason ?? '',
        ...names.map((name) => fields.get(name) ?? ''),
        files,
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${CSV_BOM}${rows.join('\r\n')}\r\n`;
}

/** One JSON object per line (https://github.com/ndjson/ndjson-spec). */
export async function toNdjson(
  submissions: ReadonlyArray<ArchivedSubmission>,
  link?: FileLink,
): Promise<string> {
  const lines: string[] = [];
  for (const submission of submissions) {
    const files = [];
    for (const file of submission.files) {
      const url = file.key !== undefined && link ? await link(file.key) : undefined;
      files.push({
        name: file.name,
        contentType: file.contentType,
        size: file.size,
        ...(url ? { url } : {}),
      });
    }
    lines.push(
      JSON.stringify({
        id: submission.id,
        form: submission.formId,
        folder: submission.folder,
        receivedAt: submission.receivedAt,
        ...(submission.spamReason ? { spamReason: submission.spamReason } : {}),
        fields: Object.fromEntries(submission.fields),
        files,
      }),
    );
  }
  return lines.map((line) => `${line}\n`).join('');
}

async function fileColumn(submission: ArchivedSubmission, link?: FileLink): Promise<string> {
  const parts: string[] = [];
  for (const file of submission.files) {
    const url = file.key !== undefined && link ? await link(file.key) : undefined;
    parts.push(url ? `${file.name} <${url}>` : file.name);
  }
  return parts.join('; ');
}

/** `30d`, `12h`, `90m` or an ISO 8601 time: the start of a `--since` window. */
export function parseSince(value: string, nowMs: number): string | undefined {
  const relative = /^(\d{1,5})([dhm])$/.exec(value);
  if (relative) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[relative[2] as 'd' | 'h' | 'm'];
    return new Date(nowMs - Number(relative[1]) * unit).toISOString();
  }
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

import { parse as parseCsv } from 'csv-parse/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CSV_BOM, csvCell, parseSince, toCsv } from '../../functions/core/archive/export';
import type { ArchivedSubmission } from '../../functions/core/archive/submission-archive';

const submission = (fields: Array<[string, string]>, id = 'id-1'): ArchivedSubmission => ({
  id,
  formId: 'contact',
  folder: 'inbox',
  receivedAt: '2026-01-01T00:00:00.000Z',
  expiresAt: 0,
  fields,
  files: [{ name: 'a.pdf', contentType: 'application/pdf', size: 3, key: 'archive/contact/inbox/id-1/0' }],
  notified: true,
  messageIds: [],
  emailKey: 'k',
});

describe('Archive export: CSV (RFC 4180, BOM, CSV injection)', () => {
  it('neutralizes cells that start with =, +, -, @, tab or carriage return', () => {
    expect(['=1+1', '+1', '-1', '@A1', '\t=1', '\r=1', 'plain'].map(csvCell)).toEqual([
      "'=1+1",
      "'+1",
      "'-1",
      "'@A1",
      "'\t=1",
      `"'\r=1"`,
      'plain',
    ]);
  });

  it('quotes commas, quotes and line breaks, ends rows with CRLF and starts with a BOM', async () => {
    const csv = await toCsv([submission([['message', 'a, "b"\nc']])]);
    expect(csv.startsWith(CSV_BOM)).toBe(true);
    expect(csv).toContain('"a, ""b""\nc"');
    expect(csv.endsWith('\r\n')).toBe(true);
  });

  it('names files with their short-lived link when there is one', async () => {
    const csv = await toCsv(
      [submission([['email', 'a@example.org']])],
      async (key) => `https://links/${key}`,
    );
    const [row] = parseCsv(csv, { bom: true, columns: true }) as Array<Record<string, string>>;
    expect(row?.files).toBe('a.pdf <https://links/archive/contact/inbox/id-1/0>');
  });

  it('round-trips any text through a CSV parser, formula starts aside', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 5 }),
        async (values) => {
          const fields = values.map((value, index) => [`f${index}`, value] as [string, string]);
          const [row] = parseCsv(await toCsv([submission(fields)]), { bom: true, columns: true }) as Array<
            Record<string, string>
          >;
          values.forEach((value, index) => {
            const expected = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
            expect(row?.[`f${index}`]).toBe(expected);
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('reads --since as a duration back from now or as a time', () => {
    const now = Date.parse('2026-02-01T00:00:00Z');
    expect(parseSince('30d', now)).toBe('2026-01-02T00:00:00.000Z');
    expect(parseSince('2h', now)).toBe('2026-01-31T22:00:00.000Z');
    expect(parseSince('2026-01-15', now)).toBe('2026-01-15T00:00:00.000Z');
    expect(parseSince('soon', now)).toBeUndefined();
  });
});

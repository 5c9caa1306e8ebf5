import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { parse as parseCsv } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main';
import { DynamoApiKeyStore } from '../../functions/adapters/dynamodb-api-keys';
import { DynamoSuppressionList } from '../../functions/adapters/dynamodb-suppression';
import { generateApiKey } from '../../functions/core/api/api-keys';
import { parseConfig } from '../../functions/core/config/config';
import { HONEYPOT_FIELD } from '../../functions/core/forms/form-submission';
import { contextWithoutRateLimits } from '../../local/config-file';
import { LOCAL_NAMES } from '../../local/emulators';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';
import { AkismetPeer } from '../support/akismet-peer';
import { eventually, startTestStack, TEST_RELAY, type TestStack } from '../support/local-stack';
import { MULTIPART_BOUNDARY, multipartBody } from '../support/multipart';

const AKISMET_KEY = `akismet-${randomUUID()}`;
const DAY_MS = 86_400_000;

const form = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  recipients: ['owner@example.com'],
  subject: `Form ${id}`,
  ...extra,
});
const archive = { retentionDays: 30, spamRetentionDays: 7, storeFiles: true };

describe('Archive: kept submissions, spam folder, Akismet, scoped reads, export and erasure on the local stack', () => {
  const peer = new AkismetPeer(AKISMET_KEY);
  // Expiry is tested by moving this clock forward; everything else runs at real time.
  const clock = { offsetMs: 0, now: () => Date.now() + clock.offsetMs };
  let stack: TestStack;
  let dynamodb: DynamoDBClient;
  let s3: S3Client;
  let dir: string;
  let configFile: string;
  let readKey: string;

  beforeAll(async () => {
    await peer.start();
    const raw = {
      ...contextWithoutRateLimits(FIXTURE_CONFIG_FILE),
      relay: TEST_RELAY,
      akismet: { secret: 'postroom/akismet' },
      // Low, so that a 6 KB file takes the bucket path (the claim check) within the fixture's 64 KB body.
      attachments: { inlineMaxBytes: 4_096 },
      forms: [
        form('archived', {
          archive,
          content: { blockedWords: ['casino'], duplicateWindowSeconds: 600 },
          files: { allowedTypes: ['text/plain'] },
          autoresponse: { subject: 'Thanks', text: 'We got your message.' },
        }),
        form('paged', { archive }),
        form('names-only', {
          archive: { ...archive, storeFiles: false },
          content: { blockedWords: ['casino'] },
          files: { allowedTypes: ['text/plain'] },
        }),
        form('plain', { content: { blockedWords: ['casino'] } }),
        form('akismet-open', {
          archive,
          akismet: { blog: 'https://www.example.com', onError: 'open', timeoutMs: 500 },
        }),
        form('akismet-closed', {
          akismet: { blog: 'https://www.example.com', onError: 'closed', timeoutMs: 500 },
        }),
      ],
    };
    dir = mkdtempSync(path.join(tmpdir(), 'postroom-archive-'));
    configFile = path.join(dir, 'archive.config.json');
    writeFileSync(configFile, JSON.stringify(raw));
    stack = await startTestStack(parseConfig(raw), {
      clock,
      akismetKey: AKISMET_KEY,
      akismetUrl: peer.url,
      apiKey: `pr_${randomUUID()}`,
    });
    const aws = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
    dynamodb = new DynamoDBClient({ ...aws, endpoint: stack.endpoints.dynamodb });
    s3 = new S3Client({ ...aws, endpoint: stack.endpoints.s3, forcePathStyle: true });
    readKey = await createKey([
      'submissions:read:archived',
      'submissions:read:paged',
      'submissions:read:akismet-open',
    ]);
  });

  afterAll(async () => {
    dynamodb?.destroy();
    s3?.destroy();
    await stack?.stop();
    await peer.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function createKey(scopes: string[]): Promise<string> {
    const { key, record } = generateApiKey(new Date(), 'test', undefined, scopes);
    await new DynamoApiKeyStore(dynamodb, stack.resources.tableName).create(record);
    return key;
  }

  async function submit(
    formId: string,
    fields: Record<string, string>,
    headers: Record<string, string> = {},
  ) {
    const response = await fetch(`${stack.apiUrl}/v1/forms/${formId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'ArchiveTest/1.0', ...headers },
      body: JSON.stringify(fields),
    });
    const text = await response.text();
    return {
      status: response.status,
      id: response.status === 202 ? (JSON.parse(text) as { id: string }).id : '',
    };
  }

  async function list(formId: string, query: string, key = readKey) {
    const response = await fetch(`${stack.apiUrl}/v1/forms/${formId}/submissions?${query}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    return {
      status: response.status,
      body: (await response.json()) as {
        submissions: Array<{
          id: string;
          status: string;
          spamReason?: string;
          fields: Record<string, string>;
          files: unknown[];
        }>;
        cursor?: string;
      },
    };
  }

  async function cli(argv: string[]) {
    let out = '';
    let err = '';
    const code = await runCli([...argv, '--config', configFile], {
      out: (text) => {
        out += text;
      },
      err: (text) => {
        err += text;
      },
      env: {
        POSTROOM_DYNAMODB_PORT: new URL(stack.endpoints.dynamodb).port,
        POSTROOM_SQS_PORT: new URL(stack.endpoints.sqs).port,
      },
      now: clock.now,
    });
    return { code, out, err };
  }

  const mailsWith = async (marker: string) =>
    (await stack.sesEmails()).filter((mail) => mail.body.text?.includes(marker));

  async function everyItem(table: string) {
    const result = await dynamodb.send(new ScanCommand({ TableName: table }));
    return result.Items ?? [];
  }

  async function objectKeys(prefix: string) {
    const result = await s3.send(
      new ListObjectsV2Command({ Bucket: stack.resources.attachmentsBucket, Prefix: prefix }),
    );
    return (result.Contents ?? []).map((object) => object.Key ?? '');
  }

  it('keeps an accepted submission in the inbox with its file, and sends its mail', async () => {
    const marker = randomUUID();
    const body = multipartBody([
      { name: 'email', value: 'vera@example.org' },
      { name: 'message', value: `Kept ${marker}` },
      {
        name: 'upload',
        filename: 'notes.txt',
        contentType: 'text/plain',
        content: Buffer.from(`notes ${marker}`),
      },
    ]);
    const response = await fetch(`${stack.apiUrl}/v1/forms/archived`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${MULTIPART_BOUNDARY}`,
        accept: 'application/json',
      },
      body,
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };

    await eventually(async () => (await mailsWith(marker)).length === 1 || undefined, 5_000, marker);
    const { status, body: page } = await list('archived', 'status=inbox');
    expect(status).toBe(200);
    const kept = page.submissions.find((item) => item.id === id);
    expect(kept?.fields).toEqual({ email: 'vera@example.org', message: `Kept ${marker}` });
    expect(kept?.files).toEqual([
      { name: 'notes.txt', contentType: 'text/plain', size: `notes ${marker}`.length },
    ]);
    const stored = await s3.send(
      new GetObjectCommand({
        Bucket: stack.resources.attachmentsBucket,
        Key: `archive/archived/inbox/${id}/0`,
      }),
    );
    expect(await stored.Body?.transformToString()).toBe(`notes ${marker}`);
  });

  it('keeps honeypot, blocked-word and duplicate catches in the spam folder, sending nothing for them', async () => {
    const marker = randomUUID();
    const honeypot = await submit('archived', {
      email: 'bot@example.net',
      message: `Bot ${marker}`,
      [HONEYPOT_FIELD]: 'x',
    });
    const blocked = await submit('archived', {
      email: 'bot@example.net',
      message: `Win at the casino ${marker}`,
    });
    const first = await submit('archived', { email: 'twice@example.org', message: `Twice ${marker}` });
    const again = await submit('archived', { email: 'twice@example.org', message: `Twice ${marker}` });
    expect([honeypot.status, blocked.status, first.status, again.status]).toEqual([202, 202, 202, 202]);
    // The duplicate answers with the first one's id, as before; its copy is kept under an id of its own.
    expect(again.id).toBe(first.id);

    const { body } = await list('archived', 'status=spam&limit=100');
    const reasons = body.submissions
      .filter((item) => Object.values(item.fields).some((value) => value.includes(marker)))
      .map((item) => item.spamReason)
      .sort();
    expect(reasons).toEqual(['blocked-word', 'duplicate', 'honeypot']);
    await stack.drained(stack.resources.queueUrl);
    expect((await mailsWith(marker)).map((mail) => mail.subject)).toEqual(['Form archived']);
  });

  it('keeps nothing for a form without archive: its spam is still dropped as a success', async () => {
    const marker = randomUUID();
    expect((await submit('plain', { email: 'bot@example.net', message: `casino ${marker}` })).status).toBe(
      202,
    );
    expect((await submit('plain', { email: 'ok@example.net', message: `fine ${marker}` })).status).toBe(202);
    await eventually(async () => (await mailsWith(marker)).length === 1 || undefined, 5_000, marker);
    const items = await everyItem(LOCAL_NAMES.archiveTable);
    expect(JSON.stringify(items)).not.toContain(marker);
    expect((await list('plain', 'status=spam', await createKey(['submissions:read']))).status).toBe(404);
  });

  it('marks a spam submission not spam: the notification goes once and it moves to the inbox', async () => {
    const marker = randomUUID();
    await submit('archived', { email: 'real@example.org', message: `casino night booking ${marker}` });
    const spam = (await list('archived', 'status=spam&limit=100')).body.submissions.find((item) =>
      item.fields.message?.includes(marker),
    );
    expect(spam?.spamReason).toBe('blocked-word');

    // Two operators at once (or a double click): the conditional claim lets one of them queue the mail.
    const both = await Promise.all([
      cli(['submissions', 'release', spam?.id ?? '']),
      cli(['submissions', 'release', spam?.id ?? '']),
    ]);
    expect(both.map((run) => run.code)).toEqual([0, 0]);
    expect(both.filter((run) => run.out.includes('queued its notification'))).toHaveLength(1);
    const again = await cli(['submissions', 'release', spam?.id ?? '']);
    expect(again).toMatchObject({ code: 0, out: expect.stringContaining('in the inbox already') });

    await eventually(async () => (await mailsWith(marker)).length > 0 || undefined, 5_000, marker);
    await stack.drained(stack.resources.queueUrl);
    expect(await mailsWith(marker)).toHaveLength(1);
    const inbox = (await list('archived', 'status=inbox&limit=100')).body.submissions;
    expect(inbox.some((item) => item.id === spam?.id)).toBe(true);
    const stillSpam = (await list('archived', 'status=spam&limit=100')).body.submissions;
    expect(stillSpam.some((item) => item.id === spam?.id)).toBe(false);
  });

  /** Posts fields and text files as multipart, as a browser's form does. */
  async function submitFiles(
    formId: string,
    fields: Record<string, string>,
    files: ReadonlyArray<{ name: string; content: Buffer }>,
  ): Promise<string> {
    const response = await fetch(`${stack.apiUrl}/v1/forms/${formId}`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${MULTIPART_BOUNDARY}`,
        accept: 'application/json',
      },
      body: multipartBody([
        ...Object.entries(fields).map(([name, value]) => ({ name, value })),
        ...files.map((file) => ({
          name: 'upload',
          filename: file.name,
          contentType: 'text/plain',
          content: file.content,
        })),
      ]),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { id: string }).id;
  }

  /** The one delivered mail whose text has `marker`, with the attachments the SES emulator parsed from its MIME. */
  async function deliveredWith(marker: string) {
    const mail = await eventually(async () => (await mailsWith(marker))[0], 10_000, marker);
    return mail as typeof mail & {
      attachments: Array<{ filename?: string; contentType: string; size: number; content: string }>;
    };
  }

  const attachedFiles = (mail: Awaited<ReturnType<typeof deliveredWith>>) =>
    mail.attachments.map((file) => [file.filename, file.contentType, Buffer.from(file.content, 'base64')]);

  it("attaches a released spam submission's files to its notification, as a directly accepted one's", async () => {
    // Prepare: two files together over the inline limit (both go through the bucket), sent once as good mail
    // and once with a blocked word; and the small one alone (it rides in the job), held too
    const small = Buffer.from(`small ${randomUUID()}`);
    const large = Buffer.from(`${randomUUID()}\n`.repeat(170));
    const files = [
      { name: 'small.txt', content: small },
      { name: 'large.txt', content: large },
    ];
    const [direct, held, heldSmall] = [randomUUID(), randomUUID(), randomUUID()];
    await submitFiles('archived', { email: 'files@example.org', message: `Direct ${direct}` }, files);
    const id = await submitFiles(
      'archived',
      { email: 'files@example.org', message: `casino night ${held}` },
      files,
    );
    const smallId = await submitFiles(
      'archived',
      { email: 'files@example.org', message: `casino again ${heldSmall}` },
      [files[0] as { name: string; content: Buffer }],
    );
    const accepted = await deliveredWith(direct);

    // Act
    const released = [
      await cli(['submissions', 'release', id]),
      await cli(['submissions', 'release', smallId]),
    ];

    // Assess: the same files, byte for byte; the large pair through attachments/<id>/ as the form path puts
    // them, the small one inside the job
    for (const run of released) {
      expect(run).toMatchObject({ code: 0, out: expect.stringContaining('queued its notification') });
    }
    const notification = await deliveredWith(held);
    expect(attachedFiles(accepted)).toEqual([
      ['small.txt', 'text/plain', small],
      ['large.txt', 'text/plain', large],
    ]);
    expect(attachedFiles(notification)).toEqual(attachedFiles(accepted));
    expect(notification.body.text).toContain('Attached files:');
    expect(notification.body.text).not.toContain('Files not attached');
    expect(await objectKeys(`attachments/${id}/`)).toEqual([`attachments/${id}/0`, `attachments/${id}/1`]);
    expect(attachedFiles(await deliveredWith(heldSmall))).toEqual([['small.txt', 'text/plain', small]]);
    expect(await objectKeys(`attachments/${smallId}/`)).toEqual([]);
    // The archive still has the files, now in the inbox.
    expect(await objectKeys(`archive/archived/inbox/${id}/`)).toHaveLength(2);
  });

  it('lists the files of a released submission of a form that keeps no files as not attached, in the notification', async () => {
    // Prepare
    const marker = randomUUID();
    const id = await submitFiles('names-only', { email: 'names@example.org', message: `casino ${marker}` }, [
      { name: 'quote-request.txt', content: Buffer.from('please quote 40 cards') },
    ]);

    // Act
    const released = await cli(['submissions', 'release', id]);

    // Assess: nothing attached, and the mail says which file and why, in both parts
    expect(released.code).toBe(0);
    const mail = await deliveredWith(marker);
    expect(mail.attachments ?? []).toEqual([]);
    expect(mail.body.text).toContain('Files not attached');
    expect(mail.body.text).toContain('- quote-request.txt (text/plain, 21 bytes)');
    expect(mail.body.html).toContain('Files not attached');
    expect(mail.body.html).toContain('quote-request.txt');
  });

  it('pages newest first with a cursor, and refuses a cursor it did not give', async () => {
    const ids: string[] = [];
    for (let n = 0; n < 5; n++) {
      ids.push((await submit('paged', { email: `p${n}@example.org`, message: `Page ${n}` })).id);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const { status, body } = await list(
        'paged',
        `status=inbox&limit=2${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(status).toBe(200);
      expect(body.submissions.length).toBeLessThanOrEqual(2);
      seen.push(...body.submissions.map((item) => item.id));
      cursor = body.cursor;
      pages += 1;
    } while (cursor !== undefined && pages < 10);
    expect(seen).toEqual([...ids].reverse());
    expect(pages).toBeGreaterThanOrEqual(3);
    expect((await list('paged', 'cursor=bm90LWEtY3Vyc29y')).status).toBe(422);
    expect((await list('paged', 'status=archive')).status).toBe(422);
  });

  it('reads only with a submissions:read scope for that form; send keys keep sending, read keys cannot send', async () => {
    const sendOnly = await createKey(['send']);
    const otherForm = await createKey(['submissions:read:paged']);
    const allForms = await createKey(['submissions:read']);
    expect((await list('archived', 'status=inbox', sendOnly)).status).toBe(403);
    expect((await list('archived', 'status=inbox', otherForm)).status).toBe(403);
    expect((await list('paged', 'status=inbox', otherForm)).status).toBe(200);
    expect((await list('archived', 'status=inbox', allForms)).status).toBe(200);
    expect((await list('archived', 'status=inbox', 'pr_not-a-key')).status).toBe(401);

    const send = (key: string) =>
      fetch(`${stack.apiUrl}/v1/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({
          from: 'Shop <orders@example.com>',
          to: 'someone@example.org',
          subject: 'Scoped',
          text: 'Hello',
        }),
      });
    expect((await send(allForms)).status).toBe(403);
    expect((await send(sendOnly)).status).toBe(202);
  });

  it('keeps the send scope of a key stored before scopes existed', async () => {
    const { key, record } = generateApiKey(new Date(), 'old');
    const { scopes: _scopes, ...unscoped } = record;
    await new DynamoApiKeyStore(dynamodb, stack.resources.tableName).create(unscoped);
    const response = await fetch(`${stack.apiUrl}/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({
        from: 'Shop <orders@example.com>',
        to: 'someone@example.org',
        subject: 'Old key',
        text: 'Hello',
      }),
    });
    expect(response.status).toBe(202);
    expect((await list('archived', 'status=inbox', key)).status).toBe(403);
  });

  it('exports CSV that a CSV parser reads back exactly, with formula cells neutralized, and NDJSON', async () => {
    const marker = randomUUID();
    const hostile = {
      email: 'csv@example.org',
      name: '=HYPERLINK("http://evil.example","click")',
      message: `Line one, "quoted"\nline two ${marker}`,
      plus: '+1+1',
      minus: '-2+3',
      at: '@SUM(A1:A2)',
      unicode: 'Zoë 東京 🚀',
    };
    const { id } = await submit('archived', hostile);
    const exported = await cli([
      'submissions',
      'export',
      '--form',
      'archived',
      '--format',
      'csv',
      '--since',
      '1h',
    ]);
    expect(exported.code).toBe(0);
    expect(exported.out.startsWith('\uFEFF')).toBe(true);
    const rows = parseCsv(exported.out, { bom: true, columns: true, relax_column_count: false }) as Array<
      Record<string, string>
    >;
    const row = rows.find((candidate) => candidate.id === id);
    expect(row).toMatchObject({
      email: 'csv@example.org',
      name: `'${hostile.name}`,
      message: hostile.message,
      plus: `'+1+1`,
      minus: `'-2+3`,
      at: `'@SUM(A1:A2)`,
      unicode: hostile.unicode,
      folder: 'inbox',
    });
    for (const cell of rows.flatMap((candidate) => Object.values(candidate)))
      expect(cell).not.toMatch(/^[=+\-@\t\r]/);

    const ndjson = await cli(['submissions', 'export', '--form', 'archived', '--format', 'ndjson']);
    const lines = ndjson.out
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; fields: object });
    expect(lines.find((line) => line.id === id)?.fields).toEqual(hostile);
  });

  it('answers the CLI with exit 2 for a missing --form and 1 for an unknown submission', async () => {
    expect((await cli(['submissions', 'export', '--format', 'csv'])).code).toBe(2);
    expect((await cli(['submissions', 'export', '--form', 'archived', '--format', 'xlsx'])).code).toBe(2);
    expect((await cli(['submissions', 'show', randomUUID()])).code).toBe(1);
    expect((await cli(['submissions', 'erase'])).code).toBe(2);
  });

  it('erases every submission, file and message record of an address, lifts its suppression, and leaves a tombstone', async () => {
    const address = `erase-${randomUUID().slice(0, 8)}@example.org`;
    const other = await submit('archived', { email: 'keep@example.org', message: 'Not erased' });
    const inbox = await submit('archived', { email: address, message: 'First' });
    await submit('archived', { email: address, message: 'casino', [HONEYPOT_FIELD]: '' });
    const body = multipartBody([
      { name: 'email', value: address.toUpperCase() },
      { name: 'message', value: 'With a file' },
      { name: 'upload', filename: 'cv.txt', contentType: 'text/plain', content: Buffer.from('my cv') },
    ]);
    const withFile = await fetch(`${stack.apiUrl}/v1/forms/archived`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/form-data; boundary=${MULTIPART_BOUNDARY}`,
        accept: 'application/json',
      },
      body,
    });
    const fileId = ((await withFile.json()) as { id: string }).id;
    await new DynamoSuppressionList(dynamodb, stack.resources.tableName).add({
      address,
      reason: 'bounce',
      at: new Date().toISOString(),
    });
    await stack.drained(stack.resources.queueUrl);
    expect(await objectKeys(`archive/archived/inbox/${fileId}/`)).toHaveLength(1);
    const before = JSON.stringify(await everyItem(stack.resources.tableName));
    expect(before).toContain(`msg#${inbox.id}`);

    // An access request first: everything kept about the address, in any case, in every form and folder.
    const access = await cli([
      'submissions',
      'export',
      '--email',
      address.toUpperCase(),
      '--format',
      'ndjson',
    ]);
    expect(
      access.out
        .trimEnd()
        .split('\n')
        .map((line) => (JSON.parse(line) as { id: string }).id)
        .sort(),
    ).toHaveLength(3);
    expect(access.out).toContain(fileId);
    expect(access.out).not.toContain(other.id);

    const erased = await cli(['submissions', 'erase', '--email', address, '--lift-suppression']);
    expect(erased).toMatchObject({ code: 0 });
    expect(erased.out).toContain('Erased 3 submission(s), 1 file(s)');

    const archiveItems = JSON.stringify(await everyItem(LOCAL_NAMES.archiveTable));
    const recordItems = JSON.stringify(await everyItem(stack.resources.tableName));
    for (const text of [archiveItems, recordItems])
      expect(text.toLowerCase()).not.toContain(address.toLowerCase());
    expect(archiveItems).not.toContain(inbox.id);
    expect(archiveItems).not.toContain(fileId);
    // Message status records go; the relay's exactly-once claims (job#, ids only, no address) stay until TTL.
    expect(recordItems).not.toContain(`msg#${inbox.id}`);
    expect(recordItems).not.toContain(`msg#${fileId}`);
    expect(await objectKeys(`archive/archived/inbox/${fileId}/`)).toEqual([]);
    expect(await new DynamoSuppressionList(dynamodb, stack.resources.tableName).has(address)).toBe(false);
    expect(archiveItems).toContain(other.id);
    // The tombstone: when and how many, no address and no hash of it.
    expect(archiveItems).toMatch(/"submissions\\":3,\\"files\\":1/);
    expect((await cli(['submissions', 'erase', '--email', address])).out).toContain('Erased 0 submission(s)');
  });

  it('erases one submission by id', async () => {
    const { id } = await submit('paged', { email: 'one@example.org', message: 'Erase me' });
    expect((await cli(['submissions', 'erase', '--id', id])).code).toBe(0);
    expect((await cli(['submissions', 'show', id])).code).toBe(1);
    expect((await cli(['submissions', 'erase', '--id', id])).code).toBe(1);
  });

  describe('Akismet', () => {
    it('asks comment-check with the contact-form type, IP, user agent and fields; good mail is sent and kept', async () => {
      const marker = randomUUID();
      const { id, status } = await submit('akismet-open', {
        email: 'ham@example.org',
        name: 'Harriet',
        message: `Ham ${marker}`,
        company: 'Acme',
      });
      expect(status).toBe(202);
      const call = peer.calls.find((params) => params.comment_content === `Ham ${marker}`);
      expect(call).toMatchObject({
        api_key: AKISMET_KEY,
        blog: 'https://www.example.com',
        comment_type: 'contact-form',
        user_ip: '127.0.0.1',
        user_agent: 'ArchiveTest/1.0',
        comment_author: 'Harriet',
        comment_author_email: 'ham@example.org',
        contact_form_field_company: 'Acme',
      });
      await eventually(async () => (await mailsWith(marker)).length === 1 || undefined, 5_000, marker);
      expect((await list('akismet-open', 'status=inbox')).body.submissions.map((item) => item.id)).toContain(
        id,
      );
    });

    it('puts what Akismet calls spam in the spam folder and sends nothing; a pro-tip discard is not kept', async () => {
      const marker = randomUUID();
      const spam = await submit('akismet-open', {
        email: 'spam@example.net',
        name: 'akismet-guaranteed-spam',
        message: `Spam ${marker}`,
      });
      const discard = await submit('akismet-open', {
        email: 'spam@example.net',
        message: `[discard] ${marker}`,
      });
      expect([spam.status, discard.status]).toEqual([202, 202]);
      const folder = (await list('akismet-open', 'status=spam')).body.submissions;
      expect(folder.find((item) => item.id === spam.id)?.spamReason).toBe('akismet');
      expect(folder.some((item) => item.id === discard.id)).toBe(false);
      await stack.drained(stack.resources.queueUrl);
      expect(await mailsWith(marker)).toEqual([]);
    });

    it('fails open (sends) or closed (503) when Akismet errs or is slow', async () => {
      const marker = randomUUID();
      const open = await submit('akismet-open', { email: 'a@example.org', message: `[error] ${marker}` });
      const slow = await submit('akismet-open', { email: 'a@example.org', message: `[slow] ${marker}` });
      expect([open.status, slow.status]).toEqual([202, 202]);
      await eventually(async () => (await mailsWith(marker)).length === 2 || undefined, 5_000, marker);

      const closed = await submit('akismet-closed', {
        email: 'a@example.org',
        message: `[error] ${randomUUID()}`,
      });
      const closedSlow = await submit('akismet-closed', {
        email: 'a@example.org',
        message: `[slow] ${randomUUID()}`,
      });
      expect([closed.status, closedSlow.status]).toEqual([503, 503]);
      expect(stack.log.entries.some((entry) => entry.message === 'akismet unavailable')).toBe(true);
    });
  });

  it('hides a submission once its retention has run out, before TTL deletes it', async () => {
    const { id } = await submit('paged', { email: 'old@example.org', message: 'Soon gone' });
    const spam = await submit('paged', { email: 'old@example.org', message: 'x', [HONEYPOT_FIELD]: 'bot' });
    expect((await list('paged', 'status=inbox')).body.submissions.map((item) => item.id)).toContain(id);
    try {
      clock.offsetMs = 8 * DAY_MS;
      // Past the spam folder's 7 days, within the inbox's 30.
      expect(
        (await list('paged', 'status=spam&limit=100')).body.submissions.map((item) => item.id),
      ).not.toContain(spam.id);
      expect(
        (await list('paged', 'status=inbox&limit=100')).body.submissions.map((item) => item.id),
      ).toContain(id);
      clock.offsetMs = 31 * DAY_MS;
      expect((await list('paged', 'status=inbox&limit=100')).body.submissions).toEqual([]);
      expect((await cli(['submissions', 'show', id])).code).toBe(1);
      const exported = await cli(['submissions', 'export', '--form', 'paged', '--format', 'ndjson']);
      expect(exported.out).toBe('');
    } finally {
      clock.offsetMs = 0;
    }
  });
});

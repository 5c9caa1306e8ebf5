import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../support/cli';
import { startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { SmtpPeer, smtpTransportFor } from '../support/smtp-peer';
import { unusedPort } from '../support/unused-port';

describe('CLI: postroom send-test against a running local stack', () => {
  const credentials = { user: 'postroom', password: randomUUID() };
  const peer = new SmtpPeer(credentials);
  let stack: TestStack;

  beforeAll(async () => {
    await peer.start();
    const config = testConfig({
      transport: smtpTransportFor(peer, credentials.user),
    });
    stack = await startTestStack(config, { smtpPassword: credentials.password });
  });

  afterAll(async () => {
    await stack?.stop();
    await peer.stop();
  });

  /** Runs the CLI with the stack's ports in the environment, as `npm start` users set them. */
  async function cli(...argv: string[]) {
    return runCliCaptured(argv, {
      POSTROOM_API_PORT: new URL(stack.apiUrl).port,
      POSTROOM_DYNAMODB_PORT: new URL(stack.endpoints.dynamodb).port,
    });
  }

  it('submits a marked test message, prints each status change and exits 0 once it is sent', async () => {
    peer.reset();

    const { code, out, err } = await cli('send-test', '--form', 'contact');

    expect(err).toBe('');
    expect(code).toBe(0);
    const marker = /marker (postroom-send-test-[0-9a-f-]{36})/.exec(out)?.[1];
    expect(marker).toBeDefined();
    expect(out).toMatch(/^ {2}queued /m);
    expect(out).toMatch(/^ {2}sent /m);
    expect(out).toContain('Test message sent.');
    expect(peer.received.some((mail) => mail.raw.includes(marker ?? '-'))).toBe(true);
  });

  it('prints one JSON object with --json', async () => {
    peer.reset();

    const { code, out } = await cli('send-test', '--form', 'contact', '--json');

    expect(code).toBe(0);
    const result = JSON.parse(out) as {
      form: string;
      id: string;
      outcome: string;
      changes: { status: string }[];
    };
    expect(result).toMatchObject({ form: 'contact', outcome: 'sent' });
    expect(result.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.changes.map((c) => c.status)).toContain('sent');
  });

  it('exits 1 when the mail fails for good', async () => {
    peer.answer([], 550);

    const { code, err } = await cli('send-test', '--form', 'contact');

    expect(code).toBe(1);
    expect(err).toContain('Test message failed');
  });

  it('exits 1 when no outcome arrives before --timeout', async () => {
    peer.answer([], 451);

    const { code, err } = await cli('send-test', '--form', 'contact', '--timeout', '1');

    expect(code).toBe(1);
    expect(err).toContain('No outcome after 1s');
  });

  it('exits 1 when the form refuses the submission', async () => {
    const { code, err } = await cli('send-test', '--form', 'no-such-form');

    expect(code).toBe(1);
    expect(err).toContain('The form answered 404');
  });

  it('exits 3 when the stack cannot be reached, and 2 without --form', async () => {
    const port = await unusedPort();
    const unreachable = await cli('send-test', '--form', 'contact', '--api', `http://127.0.0.1:${port}`);
    expect(unreachable.code).toBe(3);
    expect(unreachable.err).toMatch(
      /^Could not reach the API at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)\. Is the local stack running \(npm start\)\? .*POSTROOM_API_PORT .*--api URL/,
    );

    expect((await cli('send-test')).code).toBe(2);
  });
});

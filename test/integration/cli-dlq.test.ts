import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../support/cli';
import { eventually, sleep, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { SmtpPeer, smtpTransportFor } from '../support/smtp-peer';

const run = promisify(execFile);

describe('CLI: postroom status and dlq list|redrive|purge against a running local stack', () => {
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

  async function cli(...argv: string[]) {
    return runCliCaptured([...argv, '--sqs-endpoint', stack.endpoints.sqs]);
  }

  async function submit(message: string) {
    const response = await fetch(`${stack.apiUrl}/v1/forms/contact`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Visitor', email: 'visitor@example.org', message }),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { id: string }).id;
  }

  async function dlqDepth(expected: number) {
    await eventually(
      async () => ((await stack.depth(stack.resources.deadLetterQueueUrl)) === expected ? true : undefined),
      8_000,
      `${expected} dead letters`,
    );
  }

  it('shows a rejected job in status and dlq list, redrives it once, and a second redrive sends nothing', async () => {
    expect(await cli('status')).toMatchObject({ code: 0 });
    peer.answer([], 550);
    const marker = `secret body ${randomUUID()}`;
    const id = await submit(marker);
    await dlqDepth(1);
    await stack.drained(stack.resources.queueUrl);

    const status = await cli('status');
    expect(status.code).toBe(1);
    expect(status.out).toMatch(/^dead-letter +1 +0 +0 +\d+s$/m);
    expect(status.out).toMatch(/^1 +smtp 550: /m);
    const json = JSON.parse((await cli('status', '--json')).out) as {
      healthy: boolean;
      deadLetterQueue: { depth: number };
      recentFailures: Array<{ reason: string; count: number }>;
    };
    expect(json.healthy).toBe(false);
    expect(json.deadLetterQueue.depth).toBe(1);
    expect(json.recentFailures[0]?.reason).toMatch(/^smtp 550: /);

    const listed = await cli('dlq', 'list');
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(
      new RegExp(`^${id} +\\d+s +form:contact +o\\*\\*\\*@example\\.com +smtp 550: `, 'm'),
    );
    expect(listed.out).not.toContain('owner@example.com');
    expect(listed.out).not.toContain('visitor@example.org');
    expect(listed.out).not.toContain(marker);
    const listedJson = await cli('dlq', 'list', '--json');
    expect(JSON.parse(listedJson.out)).toMatchObject([
      { jobId: id, source: 'form:contact', recipients: ['o***@example.com'] },
    ]);
    expect(listedJson.out).not.toContain(marker);
    // Peeking left the letter where it was.
    expect(await stack.depth(stack.resources.deadLetterQueueUrl)).toBe(1);

    peer.answer([], 'accept');
    const redriven = await cli('dlq', 'redrive', '--all');
    expect(redriven).toMatchObject({ code: 0 });
    expect(redriven.out).toBe(`Moved 1 dead letter back to the mail queue.\n  ${id}\n`);
    await eventually(async () => peer.received[0], 8_000, 'the redriven delivery');
    await stack.drained(stack.resources.queueUrl);
    expect(peer.received).toHaveLength(1);
    expect(peer.received[0]?.parsed.text).toContain(marker);

    const again = await cli('dlq', 'redrive', '--all');
    expect(again.out).toBe('Moved 0 dead letters back to the mail queue.\n');
    await sleep(1_000);
    expect(peer.received).toHaveLength(1);
    expect(await cli('status')).toMatchObject({ code: 0 });
  });

  it('redrives only the letters a selector names and leaves the others on the queue', async () => {
    peer.answer([], 550);
    const first = await submit(`one ${randomUUID()}`);
    const second = await submit(`two ${randomUUID()}`);
    await dlqDepth(2);
    expect((await cli('dlq', 'redrive', '--reason', 'no such reason')).out).toMatch(/^Moved 0 /);
    peer.answer([], 'accept');
    const byId = await cli('dlq', 'redrive', '--id', second);
    expect(byId.out).toBe(`Moved 1 dead letter back to the mail queue.\n  ${second}\n`);
    await eventually(async () => peer.received.find((m) => m.parsed.messageId?.includes(second)), 8_000);
    await dlqDepth(1);
    expect((await cli('dlq', 'list')).out).toContain(first);
    expect((await cli('dlq', 'purge', '--yes')).code).toBe(0);
    await dlqDepth(0);
  });

  it('refuses redrive without a selector and purge without --yes or a terminal (exit 2); purge --yes empties the DLQ', async () => {
    const bare = await cli('dlq', 'redrive');
    expect(bare.code).toBe(2);
    expect(bare.err).toMatch(/needs a selector/);

    peer.answer([], 550);
    await submit(`purge me ${randomUUID()}`);
    await dlqDepth(1);
    const refused = await cli('dlq', 'purge');
    expect(refused.code).toBe(2);
    expect(await stack.depth(stack.resources.deadLetterQueueUrl)).toBe(1);
    const purged = await cli('dlq', 'purge', '--yes');
    expect(purged).toMatchObject({ code: 0, out: 'Purged 1 dead letter.\n' });
    await dlqDepth(0);
    peer.answer([], 'accept');
  });

  it('exits 3 when the queues cannot be reached', async () => {
    const { code, err } = await runCliCaptured(['status', '--sqs-endpoint', 'http://127.0.0.1:9']);
    expect(code).toBe(3);
    expect(err).toMatch(/Could not reach the queues/);
  });

  it('runs as bin/postroom.mjs against the port in POSTROOM_SQS_PORT', async () => {
    const port = new URL(stack.endpoints.sqs).port;
    const env = { ...process.env, POSTROOM_SQS_PORT: port };
    const status = await run(process.execPath, ['bin/postroom.mjs', 'status', '--json'], { env });
    expect(JSON.parse(status.stdout)).toMatchObject({ healthy: true, deadLetterQueue: { depth: 0 } });
    const purge = await run(process.execPath, ['bin/postroom.mjs', 'dlq', 'purge'], { env }).catch(
      (error: { code: number; stderr: string }) => error,
    );
    expect(purge).toMatchObject({ code: 2 });
  });
});

import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';
import { eventually } from '../support/local-stack';
import { SmtpPeer } from '../support/smtp-peer';

// Each run keeps its state in a folder of its own, never the project's .postroom.
const stateDirs: string[] = [];

function newStateDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'postroom-npm-start-'));
  stateDirs.push(dir);
  return dir;
}

/**
 * Runs the `npm start` entry point as a user would, on free ports, and collects its output. The config is the
 * fixture (POSTROOM_CONFIG_FILE), not the user's cdk.json, unless the test names another.
 */
function start(env: Record<string, string>): {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
} {
  // package.json's start script: Node with tsx's loader.
  const child = spawn(process.execPath, ['--import', 'tsx', 'local/main.ts'], {
    env: {
      ...process.env,
      POSTROOM_API_PORT: '0',
      POSTROOM_SES_PORT: '0',
      POSTROOM_SQS_PORT: '0',
      POSTROOM_DYNAMODB_PORT: '0',
      POSTROOM_STATE_DIR: newStateDir(),
      POWERTOOLS_LOG_LEVEL: 'WARN',
      POSTROOM_CONFIG_FILE: FIXTURE_CONFIG_FILE,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

describe('npm start: the local stack as a user runs it', () => {
  const children: ChildProcess[] = [];

  afterAll(() => {
    for (const child of children) child.kill('SIGKILL');
    for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('prints its URLs, delivers a form post to the SES inbox, and stops cleanly on Ctrl-C', async () => {
    const run = start({});
    children.push(run.child);
    const ready = await eventually(
      async () => (run.output().includes('Press Ctrl-C to stop.') ? run.output() : undefined),
      60_000,
      'the ready message',
    );
    const apiUrl = /Demo contact form\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(ready)?.[1];
    const inboxUrl = /SES inbox\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(ready)?.[1];
    expect(apiUrl).toBeDefined();
    expect(inboxUrl).toBeDefined();

    const marker = randomUUID();
    const response = await fetch(`${apiUrl}/v1/forms/contact`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        name: 'Curl User',
        email: 'curl@example.com',
        message: `From npm start ${marker}`,
      }),
      redirect: 'manual',
    });
    expect(response.status).toBe(303);
    const email = await eventually(
      async () => {
        const store = (await (await fetch(`${inboxUrl}/store`)).json()) as {
          emails: Array<{ subject: string; body: { text?: string } }>;
        };
        return store.emails.find((e) => e.body.text?.includes(marker));
      },
      5_000,
      'the mail in the SES inbox',
    );
    expect(email.subject).toBe('New message from Curl User');

    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    expect(run.output()).toContain('stopping Postroom');
  }, 90_000);

  it('relays through any SMTP server when POSTROOM_TRANSPORT=smtp', async () => {
    const credentials = { user: 'relay-user', password: randomUUID() };
    const peer = new SmtpPeer(credentials);
    await peer.start();
    try {
      const run = start({
        POSTROOM_TRANSPORT: 'smtp',
        POSTROOM_SMTP_HOST: '127.0.0.1',
        POSTROOM_SMTP_PORT: String(peer.port),
        POSTROOM_SMTP_USER: credentials.user,
        POSTROOM_SMTP_PASSWORD: credentials.password,
        POSTROOM_SMTP_TLS_REJECT_UNAUTHORIZED: 'false',
      });
      children.push(run.child);
      const ready = await eventually(
        async () => (run.output().includes('Press Ctrl-C to stop.') ? run.output() : undefined),
        60_000,
        'the ready message',
      );
      expect(ready).toContain(`SMTP relay 127.0.0.1:${peer.port}`);
      const apiUrl = /Demo contact form\s+(http:\/\/127\.0\.0\.1:\d+)\//.exec(ready)?.[1];
      const marker = randomUUID();

      const response = await fetch(`${apiUrl}/v1/forms/contact`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'smtp@example.com', message: `Via SMTP ${marker}` }),
      });

      expect(response.status).toBe(202);
      const mail = await eventually(async () => peer.received[0], 5_000, 'SMTP delivery');
      expect(mail.parsed.text).toContain(marker);
      expect(mail.user).toBe('relay-user');
      expect(run.output()).not.toContain(credentials.password);
      run.child.kill('SIGINT');
      expect(await run.exited).toBe(0);
    } finally {
      await peer.stop();
    }
  }, 90_000);

  it('refuses to start with a bad config and names the field', async () => {
    const run = start({ POSTROOM_CONFIG_FILE: 'test/fixtures/bad-recipient.cdk.json' });
    children.push(run.child);

    expect(await run.exited).toBe(1);
    expect(run.output()).toContain(
      'postroom.forms["contact"].recipients[0]: must be a single address, not a list',
    );
  }, 60_000);

  it('refuses an unknown POSTROOM_TRANSPORT and names the variable', async () => {
    const run = start({ POSTROOM_TRANSPORT: 'carrier-pigeon' });
    children.push(run.child);

    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('env.POSTROOM_TRANSPORT');
  }, 60_000);
});

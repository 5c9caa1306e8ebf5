import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FaultSmtpPeer, startFaultSmtp } from '../../chaos/fault-smtp';
import { DynamoBreakerStore } from '../../functions/adapters/dynamodb-breakers';
import { shippedConfigInput } from '../fakes/config';
import { runCliCaptured } from '../support/cli';
import { startTestStack, type TestStack, testConfig } from '../support/local-stack';

const credentials = { user: 'relay', password: randomBytes(12).toString('hex') };

describe('CLI: postroom status shows the breakers, doctor checks every SMTP relay (failover)', () => {
  let smtp: FaultSmtpPeer;
  let stack: TestStack;
  let configFile: string;

  beforeAll(async () => {
    smtp = await startFaultSmtp({ credentials, faultRate: 0.01, random: () => 0.99 });
    const raw = {
      ...shippedConfigInput(),
      transport: undefined,
      transports: [
        { kind: 'ses' },
        {
          kind: 'smtp',
          id: 'backup',
          host: '127.0.0.1',
          port: smtp.port,
          tlsRejectUnauthorized: false,
          user: credentials.user,
          timeoutSeconds: 2,
        },
      ],
    };
    configFile = join(mkdtempSync(join(tmpdir(), 'postroom-failover-')), 'postroom.json');
    writeFileSync(configFile, JSON.stringify(raw));
    stack = await startTestStack(testConfig({ transport: undefined, transports: raw.transports }));
  });

  afterAll(async () => {
    await stack?.stop();
    await smtp?.stop();
  });

  const target = () => ['--sqs-endpoint', stack.endpoints.sqs, '--endpoint', stack.endpoints.dynamodb];

  it('lists each provider with its breaker, and an open one with the time its probe may run', async () => {
    // Prepare: another relay opened the SMTP relay's breaker
    const dynamodb = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: stack.endpoints.dynamodb,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    const until = Date.UTC(2030, 0, 1);
    await new DynamoBreakerStore(dynamodb, stack.resources.tableName).open(
      'backup',
      { state: 'closed', generation: 0 },
      until - 60_000,
      until,
    );
    dynamodb.destroy();

    // Act
    const text = await runCliCaptured(['status', '--config', configFile, ...target()]);
    const json = await runCliCaptured(['status', '--json', '--config', configFile, ...target()]);

    // Assess
    expect(text.code).toBe(0);
    expect(text.out).toMatch(/PROVIDER\s+KIND\s+BREAKER\s+UNTIL/);
    expect(text.out).toMatch(/ses\s+ses\s+closed\s+-/);
    expect(text.out).toMatch(/backup\s+smtp\s+open\s+2030-01-01T00:00:00\.000Z/);
    expect(JSON.parse(json.out).breakers).toEqual([
      { provider: 'ses', kind: 'ses', state: 'closed' },
      { provider: 'backup', kind: 'smtp', state: 'open', until: '2030-01-01T00:00:00.000Z' },
    ]);
  });

  it('shows no breakers for a configuration with one transport', async () => {
    const single = join(mkdtempSync(join(tmpdir(), 'postroom-single-')), 'postroom.json');
    writeFileSync(single, JSON.stringify(shippedConfigInput()));
    const { out } = await runCliCaptured(['status', '--config', single, ...target()]);
    expect(out).not.toContain('BREAKER');
  });

  /** The doctor's two findings for the relay: its session, and MAIL FROM with the sender. */
  const doctorSmtp = async (env: NodeJS.ProcessEnv) => {
    const { out } = await runCliCaptured(
      ['doctor', '--json', '--config', configFile, '--ses-endpoint', stack.endpoints.ses, ...target()],
      env,
    );
    const { findings } = JSON.parse(out) as {
      findings: Array<{ check: string; status: string; detail: string; fix?: string }>;
    };
    return {
      session: findings.find((f) => f.check === 'smtp backup'),
      sender: findings.find((f) => f.check === 'smtp backup sender'),
    };
  };

  it('doctor: the relay answers EHLO, STARTTLS, AUTH with its own variable, and MAIL FROM; nothing is sent', async () => {
    const delivered = smtp.delivered.length;
    const { session, sender } = await doctorSmtp({ POSTROOM_SMTP_PASSWORD_BACKUP: credentials.password });
    expect(session).toEqual({
      check: 'smtp backup',
      status: 'ok',
      detail: `127.0.0.1:${smtp.port} answers EHLO, STARTTLS, AUTH as relay`,
    });
    expect(sender).toEqual({
      check: 'smtp backup sender',
      status: 'ok',
      detail: 'the relay accepts MAIL FROM:<no-reply@example.com> (250 Accepted); nothing was sent',
    });
    expect(smtp.delivered.length).toBe(delivered);
  });

  it('doctor: warns that AUTH and MAIL FROM were not checked without the password, fails on a refused one', async () => {
    const missing = await doctorSmtp({});
    expect(missing.session?.status).toBe('warn');
    expect(missing.sender?.status).toBe('warn');
    expect(missing.sender?.detail).toContain('POSTROOM_SMTP_PASSWORD_BACKUP is not set here');
    const refused = await doctorSmtp({ POSTROOM_SMTP_PASSWORD_BACKUP: 'wrong' });
    expect(refused.session?.status).toBe('fail');
    expect(refused.session?.detail).toBe(
      `127.0.0.1:${smtp.port}: AUTH refused: 535 Invalid username or password`,
    );
    expect(refused.session?.fix).toContain('POSTROOM_SMTP_PASSWORD_BACKUP');
    expect(refused.sender?.status).toBe('skip');
  });

  it('doctor: fails a relay that cannot be reached', async () => {
    await smtp.kill();
    try {
      const { session, sender } = await doctorSmtp({ POSTROOM_SMTP_PASSWORD_BACKUP: credentials.password });
      expect(session?.status).toBe('fail');
      expect(session?.detail).toContain('ECONNREFUSED');
      expect(sender?.status).toBe('skip');
    } finally {
      await smtp.revive();
    }
  });
});

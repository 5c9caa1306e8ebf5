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

  const doctorSmtp = async (env: NodeJS.ProcessEnv) => {
    const { out } = await runCliCaptured(
      ['doctor', '--json', '--config', configFile, '--ses-endpoint', stack.endpoints.ses, ...target()],
      env,
    );
    return (
      JSON.parse(out) as { findings: Array<{ check: string; status: string; detail: string }> }
    ).findings.find((f) => f.check === 'smtp backup');
  };

  it('doctor: the relay answers EHLO, STARTTLS and AUTH with the password of its own variable', async () => {
    const finding = await doctorSmtp({ POSTROOM_SMTP_PASSWORD_BACKUP: credentials.password });
    expect(finding).toEqual({
      check: 'smtp backup',
      status: 'ok',
      detail: `127.0.0.1:${smtp.port} answers EHLO, STARTTLS, AUTH as relay`,
    });
  });

  it('doctor: warns that AUTH was not checked without the password, fails on a refused one', async () => {
    expect((await doctorSmtp({}))?.status).toBe('warn');
    const refused = await doctorSmtp({ POSTROOM_SMTP_PASSWORD_BACKUP: 'wrong' });
    expect(refused?.status).toBe('fail');
    expect(refused?.detail).toContain('EAUTH');
  });

  it('doctor: fails a relay that cannot be reached', async () => {
    await smtp.kill();
    try {
      const finding = await doctorSmtp({ POSTROOM_SMTP_PASSWORD_BACKUP: credentials.password });
      expect(finding?.status).toBe('fail');
      expect(finding?.detail).toContain('ECONNREFUSED');
    } finally {
      await smtp.revive();
    }
  });
});

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { purge } from '../../cli/queues';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';
import { runCliCaptured } from '../support/cli';
import { startTestStack, type TestStack, testConfig } from '../support/local-stack';

/** A GetAccount answer as aws-ses-v2-local returns it from AWS_SES_ACCOUNT (it checks this exact shape). */
function sesAccount(options: { production: boolean; maxSendRate: number }) {
  return JSON.stringify({
    DedicatedIpAutoWarmupEnabled: false,
    Details: {
      AdditionalContactEmailAddresses: [],
      ContactLanguage: 'EN',
      MailType: 'TRANSACTIONAL',
      ReviewDetails: { CaseId: 'case-1', Status: options.production ? 'GRANTED' : 'PENDING' },
      UseCaseDescription: 'contact forms',
      WebsiteURL: 'https://example.com',
    },
    EnforcementStatus: 'HEALTHY',
    ProductionAccessEnabled: options.production,
    SendingEnabled: true,
    SendQuota: { Max24HourSend: 50_000, MaxSendRate: options.maxSendRate, SentLast24Hours: 0 },
    SuppressionAttributes: { SuppressedReasons: ['BOUNCE', 'COMPLAINT'] },
  });
}

interface Report {
  healthy: boolean;
  findings: Array<{ check: string; status: string; detail: string; fix?: string }>;
}

describe('CLI: postroom doctor against a running local stack', () => {
  let stack: TestStack;
  const previousAccount = process.env.AWS_SES_ACCOUNT;

  beforeAll(async () => {
    stack = await startTestStack(testConfig());
  });

  afterEach(async () => {
    // The SES emulator reads its account from this process's environment on each request.
    if (previousAccount === undefined) delete process.env.AWS_SES_ACCOUNT;
    else process.env.AWS_SES_ACCOUNT = previousAccount;
    await purge(stack.sqs, stack.resources.deadLetterQueueUrl);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  // The configuration the stack runs with, not the user's cdk.json (a --config in argv comes later and wins).
  async function doctor(...argv: string[]) {
    return runCliCaptured([
      'doctor',
      '--sqs-endpoint',
      stack.endpoints.sqs,
      '--ses-endpoint',
      stack.endpoints.ses,
      '--config',
      FIXTURE_CONFIG_FILE,
      ...argv,
    ]);
  }

  const status = (report: Report, check: string) => report.findings.find((f) => f.check === check)?.status;

  it('passes a healthy stack with production access and a send rate above the relay concurrency', async () => {
    // Prepare
    process.env.AWS_SES_ACCOUNT = sesAccount({ production: true, maxSendRate: 200 });

    // Act
    const { code, out } = await doctor();

    // Assess
    expect(code).toBe(0);
    for (const check of ['config', 'ses sandbox', 'ses quota', 'queues', 'redrive policy', 'dead letters']) {
      expect(out).toMatch(new RegExp(`OK\\s+${check}`));
    }
    expect(out).toContain('No check failed.');
  });

  it('warns of the sandbox and a send rate the configured concurrency can exceed, with the fixes', async () => {
    // Prepare: the shipped queue settings allow 10 x 2 = 20 sends at once
    process.env.AWS_SES_ACCOUNT = sesAccount({ production: false, maxSendRate: 1 });

    // Act
    const { code, out } = await doctor('--json');

    // Assess: warnings do not fail the run
    expect(code).toBe(0);
    const report = JSON.parse(out) as Report;
    expect(report.healthy).toBe(true);
    expect(status(report, 'ses sandbox')).toBe('warn');
    const quota = report.findings.find((f) => f.check === 'ses quota');
    expect(quota).toMatchObject({ status: 'warn' });
    expect(quota?.detail).toContain('max send rate 1/s');
    expect(quota?.fix).toContain('relay.maxSendRate to at most 1');
    expect(quota?.fix).toContain('queue.maxConcurrency');
  });

  it('holds a paced relay to relay.maxSendRate instead of the concurrency, and warns when it exceeds the quota', async () => {
    // Prepare: 20 sends may be in flight, but the relay paces at the configured rate
    process.env.AWS_SES_ACCOUNT = sesAccount({ production: true, maxSendRate: 14 });
    const dir = mkdtempSync(join(tmpdir(), 'postroom-doctor-'));
    const write = (name: string, maxSendRate: number) => {
      const cdk = JSON.parse(readFileSync(FIXTURE_CONFIG_FILE, 'utf8'));
      cdk.context.postroom.relay = { ...cdk.context.postroom.relay, maxSendRate };
      writeFileSync(join(dir, name), JSON.stringify(cdk));
      return join(dir, name);
    };

    // Act
    const within = await doctor('--json', '--config', write('within.json', 12));
    const above = await doctor('--json', '--config', write('above.json', 50));

    // Assess
    const quota = (out: string) => (JSON.parse(out) as Report).findings.find((f) => f.check === 'ses quota');
    expect(quota(within.out)).toMatchObject({
      status: 'ok',
      detail: 'the relay paces its sends at 12/s, within the max send rate 14/s',
    });
    expect(quota(above.out)).toMatchObject({ status: 'warn', detail: expect.stringContaining('50/s') });
    expect(quota(above.out)?.fix).toContain('relay.maxSendRate to at most 14');
  });

  it('warns that the sandbox and quota are unchecked when the SES emulator has no account', async () => {
    // Prepare
    delete process.env.AWS_SES_ACCOUNT;

    // Act
    const { code, out } = await doctor('--json');

    // Assess
    expect(code).toBe(0);
    const report = JSON.parse(out) as Report;
    expect(status(report, 'ses account')).toBe('warn');
    expect(status(report, 'ses quota')).toBeUndefined();
  });

  it('fails, with the fix, when dead letters are waiting', async () => {
    // Prepare
    await stack.sqs.send(
      new SendMessageCommand({ QueueUrl: stack.resources.deadLetterQueueUrl, MessageBody: 'not a job' }),
    );

    // Act
    const { code, out } = await doctor();

    // Assess
    expect(code).toBe(1);
    expect(out).toMatch(/FAIL\s+dead letters\s+1 dead letter waiting/);
    expect(out).toContain('postroom dlq list');
    expect(out).toContain('1 check failed.');
  });

  it('fails when the redrive policy does not match the configured maxReceiveCount, and when the config is invalid', async () => {
    // Prepare
    const dir = mkdtempSync(join(tmpdir(), 'postroom-doctor-'));
    const cdk = JSON.parse(readFileSync(FIXTURE_CONFIG_FILE, 'utf8'));
    cdk.context.postroom.queue = { ...cdk.context.postroom.queue, maxReceiveCount: 9 };
    writeFileSync(join(dir, 'other.json'), JSON.stringify(cdk));
    writeFileSync(join(dir, 'broken.json'), '{ not json');

    // Act
    const other = await doctor('--json', '--config', join(dir, 'other.json'));
    const broken = await doctor('--json', '--config', join(dir, 'broken.json'));

    // Assess
    expect(other.code).toBe(1);
    const report = JSON.parse(other.out) as Report;
    expect(report.findings.find((f) => f.check === 'redrive policy')).toMatchObject({
      status: 'fail',
      detail: expect.stringContaining('the configuration says 9'),
    });
    expect(broken.code).toBe(1);
    expect(status(JSON.parse(broken.out) as Report, 'config')).toBe('fail');
  });

  it('exits 3 when the stack cannot be reached', async () => {
    // Act: a port nothing listens on
    const { code, err } = await doctor(
      '--sqs-endpoint',
      'http://127.0.0.1:9',
      '--ses-endpoint',
      'http://127.0.0.1:9',
    );

    // Assess
    expect(code).toBe(3);
    expect(err).toContain('npm start');
  });
});

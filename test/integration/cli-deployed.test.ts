import { randomUUID } from 'node:crypto';
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main';
import { purge, queueDepth } from '../../cli/queues';
import { ATTRIBUTE } from '../../functions/adapters/queue-attributes';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';
import {
  type Peer,
  startCloudFormationPeer,
  startCloudWatchPeer,
  startSesIdentityPeer,
} from '../support/aws-control-peers';
import { runCliCaptured } from '../support/cli';
import { startTestStack, type TestStack, testConfig } from '../support/local-stack';

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:Postroom-MonitoringAlarmTopic-ABC';
const DEAD_LETTERS_DESCRIPTION =
  'Postroom: mail jobs are in the dead-letter queue. Read the relay logs for the job ids, fix the cause, then redrive.';

/**
 * `--stack NAME` end to end: a loopback CloudFormation answers DescribeStacks with outputs that point at
 * queues in fauxqs and the table in dynalite, so the deployed code path (resources from outputs, the SDK's
 * credential chain, queue URLs as endpoints) runs against real emulators.
 */
describe('CLI: postroom commands against a deployed stack (--stack)', () => {
  let stack: TestStack;
  let cloudformation: Peer;
  let cloudwatch: Peer;
  let ses: Peer;
  let queueUrl: string;
  let deadLetterQueueUrl: string;
  const saved = { ...process.env };

  beforeAll(async () => {
    // The deployed path takes credentials from the SDK's default chain; the emulators accept any.
    process.env.AWS_ACCESS_KEY_ID = 'peer';
    process.env.AWS_SECRET_ACCESS_KEY = 'peer';
    const config = testConfig();
    stack = await startTestStack(config);
    // Queues of their own, which the local relay does not consume: what the CLI does to them stays put.
    const dlq = await stack.sqs.send(new CreateQueueCommand({ QueueName: 'deployed-mail-dlq' }));
    deadLetterQueueUrl = dlq.QueueUrl ?? '';
    const arn = await stack.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['QueueArn'] }),
    );
    const mail = await stack.sqs.send(
      new CreateQueueCommand({
        QueueName: 'deployed-mail',
        Attributes: {
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: arn.Attributes?.QueueArn,
            maxReceiveCount: config.queue.maxReceiveCount,
          }),
        },
      }),
    );
    queueUrl = mail.QueueUrl ?? '';
    const outputs = {
      ApiUrl: `${stack.apiUrl}/`,
      QueueUrl: queueUrl,
      DeadLetterQueueUrl: deadLetterQueueUrl,
      TableName: stack.resources.tableName,
      AlarmTopicArn: TOPIC,
      DashboardUrl: 'https://console.aws.amazon.com/cloudwatch/home#dashboards:name=Postroom',
    };
    const { DeadLetterQueueUrl: _, ...withoutDlq } = outputs;
    cloudformation = await startCloudFormationPeer({ Postroom: outputs, PostroomOld: withoutDlq });
    cloudwatch = await startCloudWatchPeer([
      {
        name: 'Postroom-MonitoringOldestMessageAlarm-1',
        state: 'OK',
        description: 'oldest',
        actions: [TOPIC],
      },
      {
        name: 'Postroom-MonitoringDeadLettersAlarm-2',
        state: 'ALARM',
        description: DEAD_LETTERS_DESCRIPTION,
        actions: [TOPIC],
      },
      {
        name: 'Postroom-MonitoringRelayErrorRateAlarm-3',
        state: 'OK',
        description: 'relay',
        actions: [TOPIC],
      },
      {
        name: 'Other-Alarm',
        state: 'ALARM',
        description: 'another stack',
        actions: ['arn:aws:sns:us-east-1:1:x'],
      },
    ]);
    ses = await startSesIdentityPeer({ 'example.com': { type: 'DOMAIN', verified: true, dkim: 'PENDING' } });
  });

  afterAll(async () => {
    await cloudformation?.stop();
    await cloudwatch?.stop();
    await ses?.stop();
    await stack?.stop();
    process.env = saved;
  });

  /** doctor checks the fixture configuration the stack runs with, not the user's cdk.json. */
  const FIXTURE_CONFIG = ['--config', FIXTURE_CONFIG_FILE];

  const deployed = (...argv: string[]) => [
    ...argv,
    '--stack',
    'Postroom',
    '--region',
    'us-east-1',
    '--cloudformation-endpoint',
    cloudformation.url,
    // fauxqs names its queues sqs.<region>.localhost, which has no DNS here: the SDK would use the queue URL's
    // host as the endpoint, so the test names the emulator's address instead.
    '--sqs-endpoint',
    stack.endpoints.sqs,
  ];

  const depth = (url: string) => queueDepth(stack.sqs, url);

  async function deadLetter(jobId: string) {
    await stack.sqs.send(
      new SendMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MessageBody: JSON.stringify({
          id: jobId,
          to: ['owner@example.com'],
          source: { kind: 'form', formId: 'contact' },
        }),
        MessageAttributes: {
          [ATTRIBUTE.jobId]: { DataType: 'String', StringValue: jobId },
          [ATTRIBUTE.reason]: {
            DataType: 'String',
            StringValue: 'ses MessageRejected: Email address is not verified',
          },
          [ATTRIBUTE.failedAt]: { DataType: 'String', StringValue: new Date().toISOString() },
        },
      }),
    );
  }

  it('reads status from the queues the stack outputs name', async () => {
    // Act
    const { code, out, err } = await runCliCaptured(deployed('status', '--json'));

    // Assess
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({
      healthy: true,
      mailQueue: { url: queueUrl },
      deadLetterQueue: { url: deadLetterQueueUrl, depth: 0 },
    });
    expect(cloudformation.requests).toContain('DescribeStacks StackName=Postroom');
  });

  it('lists, then redrives every dead letter with progress on a terminal only', async () => {
    // Prepare
    const ids = Array.from({ length: 25 }, () => `job_${randomUUID()}`);
    for (const id of ids) await deadLetter(id);

    // Act
    const status = await runCliCaptured(deployed('status'));
    const listed = await runCliCaptured(deployed('dlq', 'list'));
    const progress: string[] = [];
    let out = '';
    let err = '';
    const code = await runCli(deployed('dlq', 'redrive', '--all'), {
      out: (text) => {
        out += text;
      },
      err: (text) => {
        err += text;
      },
      env: {},
      progress: (line) => progress.push(line),
    });

    // Assess
    expect(status.code).toBe(1);
    expect(status.out).toMatch(/^dead-letter +25 +0 +0 +\d+s$/m);
    expect(listed.code).toBe(0);
    for (const id of ids)
      expect(listed.out).toMatch(
        new RegExp(`^${id} +\\d+s +form:contact +o\\*\\*\\*@example\\.com +ses `, 'm'),
      );
    expect(code).toBe(0);
    expect(err).toBe('');
    expect(out.split('\n')[0]).toBe('Moved 25 dead letters back to the mail queue.');
    expect([...ids].sort()).toEqual(
      out
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.trim())
        .sort(),
    );
    expect(progress).toEqual(['redriving 10/25', 'redriving 20/25', '']);
    expect(await depth(deadLetterQueueUrl)).toBe(0);
    expect(await depth(queueUrl)).toBe(25);
    await purge(stack.sqs, queueUrl);
  });

  it('keeps stderr empty on a redrive without a terminal', async () => {
    // Prepare
    for (let i = 0; i < 12; i++) await deadLetter(`job_${randomUUID()}`);

    // Act
    const { code, out, err } = await runCliCaptured(deployed('dlq', 'redrive', '--all'));

    // Assess
    expect(code).toBe(0);
    expect(out).toMatch(/^Moved 12 dead letters/);
    expect(err).toBe('');
    await purge(stack.sqs, queueUrl);
  });

  it('exits 3 naming a stack that does not exist, and a stack without an output the command needs', async () => {
    // Act
    const missing = await runCliCaptured(deployed('status').map((a) => (a === 'Postroom' ? 'Nope' : a)));
    const old = await runCliCaptured(
      deployed('dlq', 'list').map((a) => (a === 'Postroom' ? 'PostroomOld' : a)),
    );

    // Assess
    expect(missing).toMatchObject({ code: 3, out: '' });
    expect(missing.err).toContain('There is no stack Nope in us-east-1');
    expect(old.code).toBe(3);
    expect(old.err).toContain('Stack PostroomOld (us-east-1) has no output DeadLetterQueueUrl');
  });

  it('exits 3 naming the stack when CloudFormation cannot be reached', async () => {
    // Act: a port nothing listens on
    const { code, err } = await runCliCaptured(
      deployed('doctor', ...FIXTURE_CONFIG).map((a) => (a === cloudformation.url ? 'http://127.0.0.1:9' : a)),
    );

    // Assess
    expect(code).toBe(3);
    expect(err).toMatch(/^Could not read stack Postroom in us-east-1 \(.*\)\. Check your AWS credentials/);
  });

  it('lists the API keys of the table the stack outputs name', async () => {
    // Prepare
    const created = await runCliCaptured(
      deployed('keys', 'create', '--name', 'deployed', '--endpoint', stack.endpoints.dynamodb),
    );

    // Act
    const listed = await runCliCaptured(deployed('keys', 'list', '--endpoint', stack.endpoints.dynamodb));

    // Assess
    expect(created.code).toBe(0);
    expect(listed.out).toMatch(/^key_\S+ +deployed +\S+ +active$/m);
  });

  it('send-test posts to the ApiUrl output and follows the status in the TableName output', async () => {
    // Act
    const { code, out, err } = await runCliCaptured(
      deployed('send-test', '--form', 'contact', '--endpoint', stack.endpoints.dynamodb),
    );

    // Assess
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/^Test message (sent|delivered)\.$/m);
    const marker = /marker (postroom-send-test-[0-9a-f-]{36})/.exec(out)?.[1] ?? '-';
    expect((await stack.sesEmails()).some((mail) => (mail.body.text ?? '').includes(marker))).toBe(true);
  });

  it('doctor fails on an alarm in ALARM and on DKIM still pending, with the fixes', async () => {
    // Act
    const { code, out } = await runCliCaptured(
      deployed(
        'doctor',
        ...FIXTURE_CONFIG,
        '--cloudwatch-endpoint',
        cloudwatch.url,
        '--ses-endpoint',
        ses.url,
      ),
    );
    const json = await runCliCaptured(
      deployed(
        'doctor',
        ...FIXTURE_CONFIG,
        '--json',
        '--cloudwatch-endpoint',
        cloudwatch.url,
        '--ses-endpoint',
        ses.url,
      ),
    );

    // Assess
    expect(code).toBe(1);
    expect(out).toContain('Checking stack Postroom (us-east-1).');
    expect(out).toMatch(/OK +ses identity +example\.com is verified for sending/);
    expect(out).toMatch(/FAIL +ses dkim +DKIM for example\.com: PENDING/);
    expect(out).toMatch(/ses dkim: publish the three DKIM CNAME records/);
    expect(out).toMatch(/FAIL +alarm +Postroom-MonitoringDeadLettersAlarm-2 is in ALARM since /);
    expect(out).toContain(`alarm: ${DEAD_LETTERS_DESCRIPTION}`);
    expect(out).not.toContain('Other-Alarm');
    expect(out).toMatch(/OK +redrive policy +to deployed-mail-dlq after 5 receives/);
    expect(out).toMatch(
      /FAIL +placeholders +\d+ example or loopback values: postroom\.sender = no-reply@example\.com; /,
    );
    expect(out).toContain('placeholders: replace them with your own addresses');
    expect(out).toContain('3 checks failed.');
    const report = JSON.parse(json.out) as {
      healthy: boolean;
      findings: Array<{ check: string; status: string }>;
    };
    expect(report.healthy).toBe(false);
    expect(report.findings.filter((f) => f.status === 'fail').map((f) => f.check)).toEqual([
      'placeholders',
      'ses dkim',
      'alarm',
    ]);
    // Three alarms notify the topic; the peer pages them two at a time.
    expect(cloudwatch.requests.filter((r) => r.includes('NextToken')).length).toBeGreaterThan(0);
    expect(ses.requests).toContain('GET /v2/email/identities/example.com');
  });

  it('doctor fails when no SES identity covers the sender', async () => {
    // Prepare
    const empty = await startSesIdentityPeer({});

    // Act
    const { code, out } = await runCliCaptured(
      deployed(
        'doctor',
        ...FIXTURE_CONFIG,
        '--cloudwatch-endpoint',
        cloudwatch.url,
        '--ses-endpoint',
        empty.url,
      ),
    );
    await empty.stop();

    // Assess
    expect(code).toBe(1);
    expect(out).toMatch(/FAIL +ses identity +no SES identity for example\.com or no-reply@example\.com/);
    expect(empty.requests).toEqual([
      'GET /v2/email/account',
      'GET /v2/email/identities/example.com',
      'GET /v2/email/identities/no-reply@example.com',
    ]);
  });

  it('doctor on the local stack skips identities and alarms, saying why', async () => {
    // Act
    const { code, out } = await runCliCaptured([
      'doctor',
      ...FIXTURE_CONFIG,
      '--sqs-endpoint',
      stack.endpoints.sqs,
      '--ses-endpoint',
      stack.endpoints.ses,
    ]);

    // Assess
    expect(code).toBe(0);
    expect(out).toContain('Checking the local stack.');
    expect(out).toMatch(/SKIP +ses identity +not checked locally \(the emulator has no identities\)/);
    expect(out).toMatch(/SKIP +alarms +no alarms locally/);
    expect(out).toMatch(
      /SKIP +placeholders +\d+ example or loopback values?, fine locally \(cdk synth refuses them\)/,
    );
  });
});

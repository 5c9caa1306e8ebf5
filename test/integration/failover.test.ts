import { randomBytes, randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REJECTED_DOMAIN } from '../../chaos/delivered';
import { type FaultSesPeer, startFaultSes } from '../../chaos/fault-ses';
import { type FaultSmtpPeer, startFaultSmtp } from '../../chaos/fault-smtp';
import { DynamoBreakerStore } from '../../functions/adapters/dynamodb-breakers';
import { DynamoClaimStore } from '../../functions/adapters/dynamodb-claims';
import { DynamoMessageStore } from '../../functions/adapters/dynamodb-messages';
import { SesTransport } from '../../functions/adapters/ses-transport';
import { SmtpTransport } from '../../functions/adapters/smtp-transport';
import type { PostroomConfig, TransportConfig } from '../../functions/core/config/config';
import { ProviderBreakers } from '../../functions/core/failover/breaker';
import type { Provider } from '../../functions/core/failover/failover';
import { buildFormMailJob } from '../../functions/core/forms/form-mail';
import { validateSubmission } from '../../functions/core/forms/form-submission';
import { serializeMailJob } from '../../functions/core/mail/mail-job';
import { systemClock, type Transport } from '../../functions/core/ports';
import { type RelayDeps, relayBatch } from '../../functions/core/relay/relay';
import { createResources, type RunningEmulators, startEmulators } from '../../local/emulators';
import { MemoryRelayQueue, RecordingLog, RecordingMetrics } from '../fakes/ports';
import { testConfig } from '../support/local-stack';
import { PostfixPeer, postfixSupport } from '../support/postfix';
import { shippedTemplatesNow } from '../support/templates';

const LOCAL = { accessKeyId: 'local', secretAccessKey: 'local' };
const SMTP_USER = 'relay';
const SMTP_PASSWORD = randomBytes(12).toString('hex');
const BREAKER = { minRequests: 3, failureRate: 0.5, windowSeconds: 60, openSeconds: 1 };

/** The emulators and the record table (claims, statuses, breakers) a group of tests shares. */
async function startRecordTable() {
  const emulators = await startEmulators({ sqs: 0, ses: 0, dynamodb: 0 });
  const dynamodb = new DynamoDBClient({
    region: 'us-east-1',
    endpoint: emulators.endpoints.dynamodb,
    credentials: LOCAL,
  });
  const sqs = new SQSClient({ region: 'us-east-1', endpoint: emulators.endpoints.sqs, credentials: LOCAL });
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: emulators.endpoints.s3,
    credentials: LOCAL,
    forcePathStyle: true,
  });
  const { tableName } = await createResources(sqs, dynamodb, testConfig(), s3);
  sqs.destroy();
  s3.destroy();
  return { emulators, dynamodb, tableName };
}

/** A contact form submission's job under `id`. */
function contactFormJob(config: PostroomConfig, id: string, message: string) {
  const form = config.forms[0];
  if (!form) throw new Error('no form');
  const fields: Array<[string, string]> = [
    ['email', 'visitor@example.org'],
    ['name', 'Vera'],
    ['message', message],
  ];
  const submission = validateSubmission(fields, form);
  return buildFormMailJob(config, form, submission, { id, createdAt: new Date() }, [], shippedTemplatesNow());
}

/** The relay's ports but its providers: claims and statuses in the emulated table, the rest in memory. */
function relayPorts(dynamodb: DynamoDBClient, tableName: string, metrics = new RecordingMetrics()) {
  return {
    claims: new DynamoClaimStore(dynamodb, tableName, 1),
    messages: new DynamoMessageStore(dynamodb, tableName, 1),
    queue: new MemoryRelayQueue(),
    clock: systemClock,
    log: new RecordingLog(),
    metrics,
    random: () => 0.5,
  };
}

/**
 * The relay core with the real adapters, each row of the rules table (docs/failover.md) against the
 * fault-injecting SES and SMTP peers, claims and breakers in the emulated DynamoDB table.
 */
describe('Relay failover against fault-injecting SES and SMTP peers (dynalite claims and breakers)', () => {
  let emulators: RunningEmulators;
  let dynamodb: DynamoDBClient;
  let tableName: string;
  let ses: FaultSesPeer;
  let smtp: FaultSmtpPeer;
  const transports: Transport[] = [];

  beforeAll(async () => {
    ({ emulators, dynamodb, tableName } = await startRecordTable());
  }, 60_000);

  beforeEach(async () => {
    ses = await startFaultSes({ maxSendRate: 1000, serverErrorRate: 0, random: () => 0.99 });
    smtp = await startFaultSmtp({
      credentials: { user: SMTP_USER, password: SMTP_PASSWORD },
      faultRate: 0.01,
      random: () => 0.99,
    });
  });

  afterEach(async () => {
    await Promise.all(transports.splice(0).map((t) => t.close?.()));
    await ses.stop();
    await smtp.stop();
  });

  afterAll(async () => {
    dynamodb.destroy();
    await emulators.stop();
  });

  function configFor(order: ReadonlyArray<'ses' | 'smtp'>, recipient = 'owner@example.com'): PostroomConfig {
    const entries = {
      ses: { kind: 'ses' },
      smtp: {
        kind: 'smtp',
        host: '127.0.0.1',
        port: smtp.port,
        tlsRejectUnauthorized: false,
        user: SMTP_USER,
        timeoutSeconds: 2,
      },
    };
    const base = testConfig();
    const form = base.forms[0];
    return testConfig({
      transport: undefined,
      transports: order.map((kind) => entries[kind]),
      breaker: BREAKER,
      forms: [{ id: form?.id, recipients: [recipient], subject: 'Hello' }],
    });
  }

  function providerOf(transport: TransportConfig, password = SMTP_PASSWORD): Provider {
    const created =
      transport.kind === 'ses'
        ? new SesTransport(
            new SESv2Client({
              region: 'us-east-1',
              endpoint: ses.url,
              credentials: LOCAL,
              // One attempt, as the rules decide what comes next; a quick timeout for a stalled peer.
              maxAttempts: 1,
            }),
          )
        : new SmtpTransport(transport, password);
    transports.push(created);
    return { id: transport.id, kind: transport.kind, transport: created };
  }

  function relay(config: PostroomConfig, options: { smtpPassword?: string; breakers?: boolean } = {}) {
    const deps = {
      config,
      providers: config.transports.map((t) => providerOf(t, options.smtpPassword)),
      ...(options.breakers
        ? {
            breakers: new ProviderBreakers(
              new DynamoBreakerStore(dynamodb, tableName),
              BREAKER,
              systemClock,
              5_000,
            ),
          }
        : {}),
      ...relayPorts(dynamodb, tableName),
    } satisfies RelayDeps;
    const send = async (jobId: string, receiveCount = 1) => {
      const job = contactFormJob(config, jobId, 'Hello');
      const result = await relayBatch(
        [
          {
            messageId: `m-${jobId}-${receiveCount}`,
            receiptHandle: `rh-${receiveCount}`,
            body: serializeMailJob(job),
            receiveCount,
          },
        ],
        deps,
      );
      return result.outcomes[0]?.outcome;
    };
    const history = async (jobId: string) =>
      ((await deps.messages.get(jobId))?.history ?? []).map((h) => [h.status, h.provider]);
    return { deps, send, history };
  }

  const sesHas = (jobId: string) => ses.delivered.filter((d) => d.jobId === jobId).length;
  const smtpHas = (jobId: string) => smtp.delivered.filter((d) => d.jobId === jobId).length;

  describe('certainly not accepted: the next provider, now, same job', () => {
    it('SES throttling (429) moves the job to the SMTP relay', async () => {
      const { deps, send, history } = relay(configFor(['ses', 'smtp']));
      ses.answerNext('throttle');
      const id = randomUUID();

      expect(await send(id)).toBe('sent');

      expect([sesHas(id), smtpHas(id)]).toEqual([0, 1]);
      expect(deps.metrics.byDimension()).toEqual({ 'FailedOver{provider=ses}': 1 });
      // A first attempt writes no `sending` of its own: the hop's, naming SES, then SMTP's `sent`.
      expect(await history(id)).toEqual([
        ['sending', 'ses'],
        ['sent', 'smtp'],
      ]);
    });

    it('SES 5xx moves the job to the SMTP relay', async () => {
      const { send } = relay(configFor(['ses', 'smtp']));
      ses.answerNext('unavailable');
      const id = randomUUID();
      expect(await send(id)).toBe('sent');
      expect([sesHas(id), smtpHas(id)]).toEqual([0, 1]);
    });

    it('SES down (connection refused) moves the job to the SMTP relay', async () => {
      const { send } = relay(configFor(['ses', 'smtp']));
      await ses.kill();
      const id = randomUUID();
      expect(await send(id)).toBe('sent');
      expect(smtpHas(id)).toBe(1);
      await ses.revive();
    });

    it('an SMTP relay that is down (connection refused) moves the job to SES', async () => {
      const { send, history } = relay(configFor(['smtp', 'ses']));
      await smtp.kill();
      const id = randomUUID();
      expect(await send(id)).toBe('sent');
      expect(sesHas(id)).toBe(1);
      expect((await history(id)).at(-1)).toEqual(['sent', 'ses']);
      await smtp.revive();
    });

    it('an SMTP relay that answers 4xx to the body took nothing: the job moves to SES', async () => {
      // The fault peer's roll (random / faultRate) between 0.5 and 1 answers 421, 451 or 454 after DATA.
      await smtp.stop();
      smtp = await startFaultSmtp({
        credentials: { user: SMTP_USER, password: SMTP_PASSWORD },
        faultRate: 1,
        random: () => 0.7,
      });
      const { send: sendAgain } = relay(configFor(['smtp', 'ses']));
      const id = randomUUID();
      expect(await sendAgain(id)).toBe('sent');
      expect([smtpHas(id), sesHas(id)]).toEqual([0, 1]);
      expect(smtp.faults.transient).toBe(1);
    });
  });

  describe('account or configuration errors: fail over, and alarm', () => {
    it('SES SendingPausedException moves the job to SMTP and counts ProviderAccountError', async () => {
      const { deps, send } = relay(configFor(['ses', 'smtp']));
      ses.answerNext('paused');
      const id = randomUUID();
      expect(await send(id)).toBe('sent');
      expect(smtpHas(id)).toBe(1);
      expect(deps.metrics.byDimension()).toEqual({
        'FailedOver{provider=ses}': 1,
        'ProviderAccountError{provider=ses}': 1,
      });
      expect(deps.log.entries.filter((e) => e.level === 'error').map((e) => e.message)).toEqual([
        'provider refused the account or its setup',
      ]);
    });

    it('SMTP AUTH refused (535) moves the job to SES and counts ProviderAccountError', async () => {
      const { deps, send } = relay(configFor(['smtp', 'ses']), { smtpPassword: 'wrong' });
      const id = randomUUID();
      expect(await send(id)).toBe('sent');
      expect(sesHas(id)).toBe(1);
      expect(deps.metrics.byDimension()).toMatchObject({ 'ProviderAccountError{provider=smtp}': 1 });
    });
  });

  describe('message-permanent: no failover, the message fails with its reason', () => {
    it('SES MessageRejected: dead-lettered, the SMTP relay never sees it', async () => {
      const { deps, send } = relay(configFor(['ses', 'smtp'], `gone@${REJECTED_DOMAIN}`));
      const id = randomUUID();
      expect(await send(id)).toBe('dead-lettered');
      expect(smtp.delivered).toHaveLength(0);
      expect(smtp.faults.rejected).toBe(0);
      expect(deps.queue.deadLetters[0]?.reason).toMatch(/^ses MessageRejected/);
    });

    it('SMTP 550 to RCPT TO: dead-lettered, SES never sees it', async () => {
      const { deps, send } = relay(configFor(['smtp', 'ses'], `gone@${REJECTED_DOMAIN}`));
      const id = randomUUID();
      expect(await send(id)).toBe('dead-lettered');
      expect(smtp.faults.rejected).toBe(1);
      expect(ses.faults.rejected).toBe(0);
      expect(deps.queue.deadLetters[0]?.reason).toMatch(/every recipient was refused: .*550/);
    });
  });

  describe('ambiguous: no failover; retried later on the same provider, under the claim, counted', () => {
    it('SES drops the connection after reading the request: retried on SES only', async () => {
      const { deps, send, history } = relay(configFor(['ses', 'smtp']));
      ses.answerNext('reset', 'throttle');
      const id = randomUUID();

      expect(await send(id, 1)).toBe('retry');
      // SES throttles the retry: certainly not accepted, yet still not sent to SMTP (it may be at SES).
      expect(await send(id, 2)).toBe('retry');
      expect(await send(id, 3)).toBe('sent');

      expect([sesHas(id), smtpHas(id)]).toEqual([1, 0]);
      expect(deps.metrics.byDimension()).toEqual({ 'UncertainSend{provider=ses}': 1 });
      expect((await history(id)).at(-1)).toEqual(['sent', 'ses']);
    });

    it('the SMTP relay drops the connection in the middle of DATA: retried on SMTP only', async () => {
      await smtp.stop();
      // roll = random / faultRate < 0.25: the peer drops the connection when the body arrives.
      let roll = 0.1;
      smtp = await startFaultSmtp({
        credentials: { user: SMTP_USER, password: SMTP_PASSWORD },
        faultRate: 1,
        random: () => roll,
      });
      const { deps, send } = relay(configFor(['smtp', 'ses']));
      const id = randomUUID();

      expect(await send(id, 1)).toBe('retry');
      // A roll of 1 is no fault: the peer takes the retry.
      roll = 1;
      expect(await send(id, 2)).toBe('sent');

      expect(smtp.faults.dropped).toBe(1);
      expect([smtpHas(id), sesHas(id)]).toEqual([1, 0]);
      expect(deps.metrics.byDimension()).toEqual({ 'UncertainSend{provider=smtp}': 1 });
    });
  });

  it('a flapping provider: the breaker opens, traffic moves, the probe closes it (state in DynamoDB)', async () => {
    // Prepare: two relays (as two Lambda containers) share the table; SES fails the first three sends
    const config = configFor(['ses', 'smtp']);
    const a = relay(config, { breakers: true });
    const b = relay(config, { breakers: true });
    ses.answerNext('unavailable', 'unavailable', 'unavailable');
    const store = new DynamoBreakerStore(dynamodb, tableName);

    // Act 1: three failures over two relays open the breaker for both
    for (const r of [a, b, a]) expect(await r.send(randomUUID())).toBe('sent');
    expect((await store.read('ses')).state).toBe('open');
    const openedBy = [a, b].map((r) => r.deps.metrics.byDimension()['BreakerOpen{provider=ses}'] ?? 0);
    expect(openedBy.reduce((x, y) => x + y)).toBe(1);

    // Act 2: while open, neither relay tries SES
    const before = ses.delivered.length;
    for (const r of [b, a]) expect(await r.send(randomUUID())).toBe('sent');
    expect(ses.delivered.length).toBe(before);
    expect(smtp.delivered).toHaveLength(5);

    // Act 3: after openSeconds, one probe goes to SES and closes the breaker; then SES takes the traffic
    await new Promise((resolve) => setTimeout(resolve, BREAKER.openSeconds * 1000 + 50));
    const probed = randomUUID();
    expect(await b.send(probed)).toBe('sent');
    expect(sesHas(probed)).toBe(1);
    expect((await store.read('ses')).state).toBe('closed');
    const after = randomUUID();
    expect(await a.send(after)).toBe('sent');
    expect(sesHas(after)).toBe(1);
    expect(smtp.delivered).toHaveLength(5);
  }, 20_000);
});

const support = postfixSupport();

describe.skipIf(!support.ok)(
  `Relay failover to a real Postfix as the second provider${support.ok ? '' : ` (skipped: ${support.reason})`}`,
  { timeout: 60_000 },
  () => {
    const postfix = new PostfixPeer();
    const inbox = postfix.mailbox('failover');
    // A relay whose login may not send as the configured sender, and says so at RCPT TO (Postfix's default).
    const strict = new PostfixPeer({ ownDomainSenderOnly: true, senderCheckAt: 'rcpt' });
    let emulators: RunningEmulators;
    let dynamodb: DynamoDBClient;
    let tableName: string;

    beforeAll(async () => {
      await Promise.all([postfix.start(), strict.start()]);
      ({ emulators, dynamodb, tableName } = await startRecordTable());
    }, 600_000);

    afterAll(async () => {
      dynamodb?.destroy();
      await emulators?.stop();
      await Promise.all([postfix.stop(), strict.stop()]);
    });

    it('SES paused: the job goes to Postfix once, and Postfix delivers it', async () => {
      const ses = await startFaultSes({ maxSendRate: 1000, serverErrorRate: 0, random: () => 0.99 });
      ses.answerNext('paused');
      const base = testConfig();
      const config = testConfig({
        transport: undefined,
        transports: [{ kind: 'ses' }, { ...postfix.transportConfig(), id: 'postfix' }],
        forms: [{ id: base.forms[0]?.id, recipients: [inbox], subject: 'Failover' }],
      });
      const postfixConfig = config.transports[1];
      if (postfixConfig?.kind !== 'smtp') throw new Error('no smtp');
      const smtpTransport = new SmtpTransport(postfixConfig, postfix.password);
      const sesTransport = new SesTransport(
        new SESv2Client({ region: 'us-east-1', endpoint: ses.url, credentials: LOCAL, maxAttempts: 1 }),
      );
      const ports = relayPorts(dynamodb, tableName);
      const id = randomUUID();
      const job = contactFormJob(config, id, id);
      try {
        const result = await relayBatch(
          [{ messageId: 'm-1', receiptHandle: 'rh-1', body: serializeMailJob(job), receiveCount: 1 }],
          {
            config,
            providers: [
              { id: 'ses', kind: 'ses', transport: sesTransport },
              { id: 'postfix', kind: 'smtp', transport: smtpTransport },
            ],
            ...ports,
          },
        );
        expect(result.outcomes[0]?.outcome).toBe('sent');
        const delivered = await postfix.waitFor(inbox, id);
        expect(delivered).toHaveLength(1);
        expect(ses.delivered).toHaveLength(0);
        const sent = (await ports.messages.get(id))?.history.find((h) => h.status === 'sent');
        expect(sent?.provider).toBe('postfix');
        expect(sent?.detail).toMatch(/^250 2\.0\.0 Ok: queued as /);
      } finally {
        await smtpTransport.close();
        await ses.stop();
      }
    });

    it('a relay that refuses the sender at RCPT TO: the job fails over to the next and the setup error is counted', async () => {
      const base = testConfig();
      const config = testConfig({
        transport: undefined,
        transports: [
          { ...strict.transportConfig(), id: 'strict' },
          { ...postfix.transportConfig(), id: 'postfix' },
        ],
        forms: [{ id: base.forms[0]?.id, recipients: [inbox], subject: 'Failover' }],
      });
      const [strictConfig, postfixConfig] = config.transports;
      if (strictConfig?.kind !== 'smtp' || postfixConfig?.kind !== 'smtp') throw new Error('no smtp');
      const strictTransport = new SmtpTransport(strictConfig, strict.password);
      const postfixTransport = new SmtpTransport(postfixConfig, postfix.password);
      const metrics = new RecordingMetrics();
      const ports = relayPorts(dynamodb, tableName, metrics);
      const id = randomUUID();
      const job = contactFormJob(config, id, id);
      try {
        const result = await relayBatch(
          [{ messageId: 'm-2', receiptHandle: 'rh-2', body: serializeMailJob(job), receiveCount: 1 }],
          {
            config,
            providers: [
              { id: 'strict', kind: 'smtp', transport: strictTransport },
              { id: 'postfix', kind: 'smtp', transport: postfixTransport },
            ],
            ...ports,
          },
        );
        expect(result.outcomes[0]?.outcome).toBe('sent');
        expect(await postfix.waitFor(inbox, id)).toHaveLength(1);
        const history = (await ports.messages.get(id))?.history ?? [];
        const hop = history.find((h) => h.status === 'sending' && h.provider === 'strict');
        expect(hop?.detail).toMatch(
          /^strict provider-config: the relay refused the sender at RCPT TO: 553 5\.7\.1 .*Sender address rejected/,
        );
        expect(history.find((h) => h.status === 'sent')?.provider).toBe('postfix');
        expect(metrics.dimensioned.get('ProviderAccountError{provider=strict}')).toBe(1);
        expect(metrics.dimensioned.get('ProviderAccountError{provider=postfix}')).toBeUndefined();
      } finally {
        await strictTransport.close();
        await postfixTransport.close();
      }
    });
  },
);

import { randomBytes, randomUUID } from 'node:crypto';
import type { SQSClient } from '@aws-sdk/client-sqs';
import { queueDepth } from '../cli/queues';
import { createDynamoClient } from '../functions/adapters/aws-clients';
import { DynamoWebhookStore } from '../functions/adapters/dynamodb-webhooks';
import { ATTRIBUTE } from '../functions/adapters/queue-attributes';
import { webhookSecretVariable } from '../functions/core/config/webhook-config';
import { seededRandom } from './delivered';
import { type DispatcherObservations, DispatcherWorkers } from './dispatcher-worker';
import { type ReceivedRequest, startFaultWebhookReceiver, type WebhookFaultCounts } from './fault-webhooks';
import { chaosConfigInput, drainQueue, startChaosStack } from './harness';
import { openLoop, planSubmission, type Submission, submit } from './submissions';

/**
 * The retry schedule of a chaos run: four attempts in about four seconds, the production schedule's shape
 * (at once, then growing waits) without its 28 hours. RETRY_SCHEDULE_SECONDS stays the production default.
 */
export const CHAOS_WEBHOOK_SCHEDULE = [0, 1, 1, 2] as const;
/** How long an endpoint has to answer in a chaos run (production: 15 s); stalls outlast it. */
export const CHAOS_ATTEMPT_TIMEOUT_MS = 2_000;
/** What a killed dispatcher held comes back after this (the local queue's own timeout is 360 s). */
export const CHAOS_DISPATCHER_VISIBILITY_SECONDS = 10;

/** The endpoints of a run: one that fails at random, one that answers 410 Gone for a while. */
export const CHAOS_ENDPOINTS = ['flaky', 'gone'] as const;
const EVENT_TYPES = ['submission.received', 'email.sent'] as const;

export interface WebhookChaosOptions {
  /** Submissions through the local API: every second one a contact form, the others API sends. */
  readonly submissions: number;
  readonly ratePerSecond: number;
  /** SIGKILLs of the webhook dispatcher while events flow (each followed by a new dispatcher process). */
  readonly kills: number;
  /** Share of the flaky endpoint's requests that meet a fault (5xx, stall, reset). */
  readonly faultRate: number;
  readonly seed: number;
  /** How long to wait, after the last submission, for the queues to empty. */
  readonly drainTimeoutMs: number;
  /** The cdk.json whose `postroom` context the run starts from (tests pass their fixture). Default: cdk.json. */
  readonly configFile?: string;
  readonly progress?: (line: string) => void;
}

/** One event a subscribed endpoint must get: known from the accepted submissions, not from the dispatcher. */
export interface ExpectedEvent {
  readonly endpointId: string;
  readonly type: string;
  /** The submission id (submission.received) or message id (email.*). */
  readonly subject: string;
}

export interface WebhookDeadLetter {
  /** The queue message: `{v, id, endpointId, type, timestamp, data}`. */
  readonly body: string;
  readonly reason: string | undefined;
}

export interface WebhookChaosReport {
  readonly seed: number;
  readonly submitted: number;
  readonly accepted: number;
  /** Events the endpoints must get (each event once per subscribed endpoint). */
  readonly events: number;
  /** Events a verified request with a 2xx answer brought to their endpoint. */
  readonly delivered: number;
  /** Events not delivered, on the webhooks dead-letter queue with a reason. */
  readonly deadLettered: number;
  /** Events neither delivered nor dead-lettered with a reason. */
  readonly lost: number;
  /** Extra 2xx deliveries of an event under the webhook-id it was first delivered with: retries a receiver drops. */
  readonly duplicates: number;
  /** Events that reached an endpoint (or its dead-letter queue) under more than one webhook-id. */
  readonly unexplainedDuplicates: number;
  /** Delivered events also on the dead-letter queue (answered 2xx, then dead-lettered on a later receive). */
  readonly deliveredAndDeadLettered: number;
  /** Requests whose signature did not verify. */
  readonly unverified: number;
  /** Verified 2xx deliveries of events no accepted submission produced. */
  readonly unknownDeliveries: number;
  /** Requests the receiver got, all answers included. */
  readonly requests: number;
  readonly leftInQueue: number;
  readonly kills: number;
  readonly faults: WebhookFaultCounts;
  readonly outcomes: Readonly<Record<string, number>>;
  /** Every letter on the webhooks dead-letter queue, by reason (delivered events' later copies included). */
  readonly deadLetterReasons: Readonly<Record<string, number>>;
  readonly durationMs: number;
  readonly ok: boolean;
  readonly notes: ReadonlyArray<string>;
}

/**
 * Submissions through the local stack (API, relay, SES emulator) produce `submission.received` and `email.sent`
 * for two endpoints on a misbehaving receiver: `flaky` answers 5xx, stalls past the dispatcher's timeout or
 * resets the connection at random; `gone` answers 410 Gone for a stretch of the run (which disables it, as in
 * production), after which the harness enables it again, as an operator would with `postroom webhooks enable`.
 * The dispatcher runs in a process of its own and is killed with SIGKILL during the run. The judge then
 * compares the events the accepted submissions must have produced with what the receiver verified and what
 * the webhooks dead-letter queue holds.
 */
export async function runWebhookChaos(options: WebhookChaosOptions): Promise<WebhookChaosReport> {
  const progress = options.progress ?? (() => {});
  const random = seededRandom(options.seed);
  const started = Date.now();
  const secrets = Object.fromEntries(
    CHAOS_ENDPOINTS.map((id) => [id, `whsec_${randomBytes(32).toString('base64')}`]),
  );
  const receiver = await startFaultWebhookReceiver({
    endpoints: {
      flaky: { secret: secrets.flaky ?? '', behaviour: { kind: 'flaky', faultRate: options.faultRate } },
      gone: { secret: secrets.gone ?? '', behaviour: { kind: 'gone' } },
    },
    random,
  });
  const configInput = {
    ...chaosConfigInput({ kind: 'ses' }, options.configFile),
    webhooks: CHAOS_ENDPOINTS.map((id) => ({
      id,
      url: `${receiver.url}/${id}`,
      events: [...EVENT_TYPES],
      secret: `postroom/webhooks/${id}`,
    })),
  };
  const { config, apiKey, stack, sqs } = await startChaosStack(configInput, { webhookDispatcher: false });
  const dynamodb = createDynamoClient({
    region: config.region,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    endpoints: { dynamodb: stack.endpoints.dynamodb },
  });
  const store = new DynamoWebhookStore(dynamodb, stack.resources.tableName);
  const webhooks = stack.webhooks;
  const dispatchers = new DispatcherWorkers(
    {
      config: configInput,
      endpoints: { sqs: stack.endpoints.sqs, dynamodb: stack.endpoints.dynamodb },
      tableName: stack.resources.tableName,
      webhooks: webhooks ?? { queueUrl: '', deadLetterQueueUrl: '' },
      schedule: CHAOS_WEBHOOK_SCHEDULE,
      attemptTimeoutMs: CHAOS_ATTEMPT_TIMEOUT_MS,
      visibilityTimeoutSeconds: CHAOS_DISPATCHER_VISIBILITY_SECONDS,
    },
    Object.fromEntries(CHAOS_ENDPOINTS.map((id) => [webhookSecretVariable(id), secrets[id] ?? ''])),
  );
  const submissions: Submission[] = [];
  const runId = randomUUID().slice(0, 8);
  let kills = 0;
  try {
    if (webhooks === undefined) throw new Error('the chaos stack has no webhook queue');
    // One dispatcher per kill to come, and one to finish the run: started together, before any event, so that
    // a kill costs no start-up time (a tsx process takes seconds to start on a busy machine).
    await Promise.all(Array.from({ length: options.kills + 1 }, () => dispatchers.start()));
    progress(`webhooks: submitting ${options.submissions} at ${options.ratePerSecond}/s`);
    const submitMs = (options.submissions * 1000) / options.ratePerSecond;
    const killing = (async () => {
      const slot = submitMs / Math.max(1, options.kills);
      for (let kill = 0; kill < options.kills; kill += 1) {
        await sleep(slot * (0.3 + random() * 0.7));
        await dispatchers.killOldest();
        kills += 1;
        progress(`webhooks: dispatcher killed (${kills}/${options.kills})`);
      }
    })();
    // 410 Gone from 30% of the submission period until the dispatcher has taken one (which disables the endpoint:
    // on a busy machine a 410 can come after the attempt's timeout, and then it is only a failed attempt) and at
    // least 30% more has passed; then the operator's `postroom webhooks enable gone`.
    const goneWindow = (async () => {
      await sleep(submitMs * 0.3);
      receiver.setGone(true);
      const until = Date.now() + submitMs * 0.3;
      const disabled = async () => (await store.endpointState('gone')).disabled;
      while (Date.now() < until + 30_000 && (Date.now() < until || !(await disabled()))) await sleep(200);
      receiver.setGone(false);
      await store.enable('gone', new Date().toISOString());
      progress(`webhooks: endpoint gone answered 410 ${receiver.faults.gone} times; 204 again and enabled`);
    })();
    await openLoop(options.submissions, options.ratePerSecond, (index, dueAt) => {
      const submission = planSubmission(index, runId, 0);
      submissions.push(submission);
      return submit(stack.apiUrl, apiKey, submission, dueAt);
    });
    await Promise.all([killing, goneWindow]);

    progress('webhooks: waiting for the mail and webhook queues to empty');
    const deadline = Date.now() + options.drainTimeoutMs;
    let emptyChecks = 0;
    let checks = 0;
    while (Date.now() < deadline && emptyChecks < 2) {
      await sleep(1000);
      const [mail, events] = await Promise.all([
        queueDepth(sqs, stack.resources.queueUrl),
        queueDepth(sqs, webhooks.queueUrl),
      ]);
      emptyChecks = mail === 0 && events === 0 ? emptyChecks + 1 : 0;
      if (++checks % 10 === 0) progress(`webhooks: mail queue ${mail}, webhook queue ${events}`);
    }
    await dispatchers.stop();
    const leftInQueue = await queueDepth(sqs, webhooks.queueUrl);
    const deadLetters = await readWebhookDeadLetters(sqs, webhooks.deadLetterQueueUrl);
    return judgeWebhooks({
      seed: options.seed,
      submissions,
      expected: expectedEvents(submissions),
      received: receiver.received,
      deadLetters,
      leftInQueue,
      kills,
      faults: receiver.faults,
      observations: dispatchers.observations,
      durationMs: Date.now() - started,
    });
  } finally {
    await dispatchers.kill();
    sqs.destroy();
    dynamodb.destroy();
    await stack.stop();
    await receiver.stop();
  }
}

/**
 * What the accepted submissions must produce, for each endpoint (both take both types): a contact-form post
 * `submission.received` and, when its mail to the owner is sent, `email.sent` (the mail's id is the submission's);
 * an API send `email.sent`. Every mail is sent: the SES emulator refuses nothing.
 */
export function expectedEvents(submissions: ReadonlyArray<Submission>): ExpectedEvent[] {
  return submissions.flatMap((submission) => {
    if (submission.id === undefined) return [];
    const subject = submission.id;
    const types = submission.kind === 'form' ? EVENT_TYPES : (['email.sent'] as const);
    return CHAOS_ENDPOINTS.flatMap((endpointId) => types.map((type) => ({ endpointId, type, subject })));
  });
}

interface WebhookEvidence {
  readonly seed: number;
  readonly submissions: ReadonlyArray<Submission>;
  readonly expected: ReadonlyArray<ExpectedEvent>;
  readonly received: ReadonlyArray<ReceivedRequest>;
  readonly deadLetters: ReadonlyArray<WebhookDeadLetter>;
  readonly leftInQueue: number;
  readonly kills: number;
  readonly faults: WebhookFaultCounts;
  readonly observations: Pick<DispatcherObservations, 'outcomes' | 'trouble'>;
  readonly durationMs: number;
}

const keyOf = (endpointId: string, type: string, subject: string) => `${endpointId} ${type} ${subject}`;

function subjectOf(data: Record<string, unknown> | undefined): string {
  const subject = data?.submissionId ?? data?.messageId;
  return typeof subject === 'string' ? subject : '';
}

/** Compares the events the accepted submissions produced with what the receiver verified and the DLQ holds. */
export function judgeWebhooks(evidence: WebhookEvidence): WebhookChaosReport {
  const notes: string[] = [];
  // Verified requests answered 2xx, by event: the webhook-id of each copy.
  const deliveries = new Map<string, string[]>();
  let unverified = 0;
  for (const request of evidence.received) {
    if (request.verified === undefined) {
      unverified += 1;
      notes.push(`a request to ${request.endpointId} (${request.webhookId}) did not verify`);
      continue;
    }
    if (typeof request.answer !== 'number' || request.answer < 200 || request.answer >= 300) continue;
    const key = keyOf(request.endpointId, request.verified.type, subjectOf(request.verified.data));
    deliveries.set(key, [...(deliveries.get(key) ?? []), request.webhookId]);
  }
  const letters = new Map<string, Array<{ id: string; reason: string | undefined }>>();
  const deadLetterReasons: Record<string, number> = {};
  let unreadableLetters = 0;
  for (const letter of evidence.deadLetters) {
    const reason = (letter.reason ?? '(no reason)').replace(/\d+ s\b/, '<n> s').slice(0, 80);
    deadLetterReasons[reason] = (deadLetterReasons[reason] ?? 0) + 1;
    let message: { id?: unknown; endpointId?: unknown; type?: unknown; data?: Record<string, unknown> };
    try {
      message = JSON.parse(letter.body) as typeof message;
    } catch {
      unreadableLetters += 1;
      notes.push(`an unreadable dead letter: ${letter.reason ?? '(no reason)'}`);
      continue;
    }
    const key = keyOf(String(message.endpointId), String(message.type), subjectOf(message.data));
    letters.set(key, [...(letters.get(key) ?? []), { id: String(message.id), reason: letter.reason }]);
  }

  const expected = new Set(evidence.expected.map((e) => keyOf(e.endpointId, e.type, e.subject)));
  let delivered = 0;
  let deadLettered = 0;
  let lost = 0;
  let duplicates = 0;
  let unexplainedDuplicates = 0;
  let deliveredAndDeadLettered = 0;
  for (const key of expected) {
    const copies = deliveries.get(key) ?? [];
    const dead = letters.get(key) ?? [];
    const ids = new Set([...copies, ...dead.map((letter) => letter.id)]);
    if (ids.size > 1) {
      unexplainedDuplicates += 1;
      notes.push(`event ${key} came with ${ids.size} webhook-ids: ${[...ids].join(', ')}`);
    }
    if (copies.length > 0) {
      delivered += 1;
      duplicates += copies.length - 1;
      if (dead.length > 0) deliveredAndDeadLettered += 1;
      continue;
    }
    const withReason = dead.find((letter) => letter.reason !== undefined && letter.reason !== '');
    if (withReason) deadLettered += 1;
    else {
      lost += 1;
      notes.push(`event ${key} ${dead.length > 0 ? 'dead-lettered without a reason' : 'lost'}`);
    }
  }
  let unknownDeliveries = 0;
  for (const [key, copies] of deliveries) {
    if (expected.has(key)) continue;
    unknownDeliveries += copies.length;
    notes.push(`delivered ${key}, which no accepted submission produced`);
  }
  const accepted = evidence.submissions.filter((s) => s.id !== undefined).length;
  if (accepted !== evidence.submissions.length) {
    const statuses = evidence.submissions.filter((s) => s.id === undefined).map((s) => s.status);
    notes.push(`refused submissions, statuses: ${[...new Set(statuses)].join(', ')}`);
  }
  const ok =
    lost === 0 &&
    unexplainedDuplicates === 0 &&
    unverified === 0 &&
    unknownDeliveries === 0 &&
    unreadableLetters === 0 &&
    evidence.leftInQueue === 0 &&
    accepted === evidence.submissions.length;
  if (!ok) notes.unshift(...evidence.observations.trouble.slice(0, 10));
  return {
    seed: evidence.seed,
    submitted: evidence.submissions.length,
    accepted,
    events: expected.size,
    delivered,
    deadLettered,
    lost,
    duplicates,
    unexplainedDuplicates,
    deliveredAndDeadLettered,
    unverified,
    unknownDeliveries,
    requests: evidence.received.length,
    leftInQueue: evidence.leftInQueue,
    kills: evidence.kills,
    faults: evidence.faults,
    outcomes: evidence.observations.outcomes,
    deadLetterReasons,
    durationMs: evidence.durationMs,
    ok,
    notes: notes.slice(0, 30),
  };
}

/** Reads every dead letter once. */
async function readWebhookDeadLetters(sqs: SQSClient, queueUrl: string): Promise<WebhookDeadLetter[]> {
  return (await drainQueue(sqs, queueUrl)).map((message) => ({
    body: message.Body ?? '',
    reason: message.MessageAttributes?.[ATTRIBUTE.reason]?.StringValue,
  }));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The counts a person reads at the end of a run. */
export function formatWebhookReport(report: WebhookChaosReport): string {
  const f = report.faults;
  return [
    `chaos (webhooks, seed ${report.seed}): ${report.ok ? 'PASS' : 'FAIL'} in ${(report.durationMs / 1000).toFixed(1)} s`,
    `  submitted ${report.submitted}, accepted ${report.accepted}; events ${report.events} (${CHAOS_ENDPOINTS.length} endpoints)`,
    `  delivered ${report.delivered} (verified, 2xx), dead-lettered ${report.deadLettered} (with their reason), lost ${report.lost}`,
    `  duplicates ${report.duplicates} (retries of one webhook-id), under another webhook-id ${report.unexplainedDuplicates}, delivered and also dead-lettered ${report.deliveredAndDeadLettered}`,
    `  unverified ${report.unverified}, unknown deliveries ${report.unknownDeliveries}, left in queue ${report.leftInQueue}`,
    `  requests ${report.requests}; receiver faults: 5xx ${f.serverErrors}, stalls ${f.stalls}, resets ${f.resets}, 410 ${f.gone}; dispatcher kills ${report.kills}`,
    `  dispatcher outcomes: ${JSON.stringify(report.outcomes)}`,
    `  dead-letter reasons: ${JSON.stringify(report.deadLetterReasons)}`,
    ...report.notes.map((note) => `  ! ${note}`),
  ].join('\n');
}

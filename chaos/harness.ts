import { randomBytes, randomUUID } from 'node:crypto';
import { type Message, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { queueDepth } from '../cli/queues';
import { ATTRIBUTE } from '../functions/adapters/queue-attributes';
import { parseConfig } from '../functions/core/config/config';
import type { Log } from '../functions/core/ports';
import { contextWithoutRateLimits } from '../local/config-file';
import { type LocalStackOptions, startLocalStack } from '../local/stack';
import { type FaultCounts, type FaultPeer, seededRandom } from './delivered';
import { startFaultSes } from './fault-ses';
import { startFaultSmtp } from './fault-smtp';
import { openLoop, percentile, planSubmission, type Submission, submit } from './submissions';
import { type Generation, RelayWorkers } from './worker-process';

export type ChaosProvider = 'smtp' | 'ses';

export interface ChaosOptions {
  readonly provider: ChaosProvider;
  readonly messages: number;
  readonly ratePerSecond: number;
  /** SIGKILLs of the relay while mail is submitted (each followed by a new relay process). */
  readonly kills: number;
  /** One API send in this many goes to a recipient the provider refuses for good. */
  readonly rejectEvery: number;
  /** Share of provider calls that meet a fault. */
  readonly faultRate: number;
  readonly seed: number;
  /** How long to wait, after the last submission, for the queue to empty. */
  readonly drainTimeoutMs: number;
  /** The cdk.json whose `postroom` context the run starts from (tests pass their fixture). Default: cdk.json. */
  readonly configFile?: string;
  /** Appends every relay log line, prefixed with its process's generation, to this file. */
  readonly relayLog?: string | undefined;
  /** How soon a killed relay's work comes back. Default: CHAOS_TIMERS. */
  readonly timers?: ChaosTimers;
  readonly progress?: (line: string) => void;
}

export interface ChaosReport {
  readonly provider: ChaosProvider;
  readonly seed: number;
  readonly submitted: number;
  /** Answered 202 with an id. */
  readonly accepted: number;
  /** Answered anything else, or not at all. */
  readonly refused: number;
  /** Accepted ids the provider has at least once. */
  readonly delivered: number;
  /** Extra copies, in all. */
  readonly duplicates: number;
  /**
   * Extra copies of jobs with an attempt whose outcome the relay could not know (the provider kept the mail,
   * its answer was lost): retried on the same provider, the documented ambiguous window.
   */
  readonly ambiguousDuplicates: number;
  /** Extra copies of jobs whose relay was killed between the provider's acceptance and the completion record. */
  readonly explainedDuplicates: number;
  readonly unexplainedDuplicates: number;
  /** Accepted, neither delivered nor on the dead-letter queue. */
  readonly lost: number;
  /** Permanent rejections on the dead-letter queue with their reason. */
  readonly deadLettered: number;
  /** Dead letters that are not permanent rejections (retries exhausted, no reason). */
  readonly unexpectedDeadLetters: number;
  /** Permanently rejected jobs that reached the provider anyway. */
  readonly rejectedButDelivered: number;
  /** Mail the provider has that no 202 gave an id for. */
  readonly unknownDeliveries: number;
  /** Messages still on the mail queue at the end. */
  readonly leftInQueue: number;
  readonly retries: number;
  readonly kills: number;
  /** Relay processes that ended themselves at an invocation's timeout (judged as kills). */
  readonly timeouts: number;
  readonly faults: FaultCounts;
  /** Provider acceptance to completion record, as the relay saw it. */
  readonly windowMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly deadLetterReasons: Readonly<Record<string, number>>;
  readonly durationMs: number;
  readonly ok: boolean;
  /** Why a run failed: relay errors and the first unexplained cases. */
  readonly notes: ReadonlyArray<string>;
}

/** Messages a killed relay held come back after this, instead of the queue's 6 x relay timeout. */
export const CHAOS_VISIBILITY_SECONDS = 10;

/**
 * The three timers that decide how soon a job a killed relay held is sent again: the message comes back after
 * the visibility timeout, and the next attempt sends only once the dead attempt's claim lease has run out.
 */
export interface ChaosTimers {
  /** relay.timeoutSeconds (the config's minimum is 5). */
  readonly relayTimeoutSeconds: number;
  /** relay.claimLeaseSeconds: longer than the relay timeout, as the config requires. */
  readonly claimLeaseSeconds: number;
  /** The relay's visibility timeout for the messages it receives: longer than the lease. */
  readonly visibilitySeconds: number;
}

/** `npm run chaos`'s timers: a second or two of margin between each. */
export const CHAOS_TIMERS: ChaosTimers = {
  relayTimeoutSeconds: 5,
  claimLeaseSeconds: 8,
  visibilitySeconds: CHAOS_VISIBILITY_SECONDS,
};

/** Thrown for timers in the wrong order: a redelivered job would find the dead attempt's claim still held. */
export class ChaosTimersError extends Error {
  override readonly name = 'ChaosTimersError';
}

/**
 * The configuration in `configFile` (as written there: the relay process parses it again) with settings that
 * make a killed relay's work come back within seconds: the claim lease outlives the relay timeout (as the
 * config requires) and SMTP's socket timeout, and ends before the visibility timeout (`timers`), so a
 * redelivered job finds it expired. maxReceiveCount leaves room for the receives each kill and fault costs.
 */
export function chaosConfigInput(
  transport: Record<string, unknown>,
  configFile = 'cdk.json',
  timers: ChaosTimers = CHAOS_TIMERS,
): Record<string, unknown> {
  if (
    !(
      timers.claimLeaseSeconds > timers.relayTimeoutSeconds &&
      timers.visibilitySeconds > timers.claimLeaseSeconds
    )
  ) {
    throw new ChaosTimersError(
      `chaos timers must grow: relay timeout ${timers.relayTimeoutSeconds} s < claim lease ${timers.claimLeaseSeconds} s < visibility ${timers.visibilitySeconds} s`,
    );
  }
  return {
    ...contextWithoutRateLimits(configFile),
    transport,
    queue: { maxReceiveCount: 10, batchSize: 10, maxConcurrency: 2, batchingWindowSeconds: 0 },
    relay: {
      timeoutSeconds: timers.relayTimeoutSeconds,
      claimLeaseSeconds: timers.claimLeaseSeconds,
      retryBaseSeconds: 1,
      retryMaxSeconds: 2,
      recordTtlDays: 30,
    },
  };
}

const quietLog: Log = { info: () => {}, warn: () => {}, error: () => {} };

/**
 * The local stack a chaos scenario submits to, without the function the scenario kills (the relay or the
 * webhook dispatcher: it runs those in processes of its own), with an API key it accepts and a client for
 * its queues.
 */
export async function startChaosStack(
  configInput: Record<string, unknown>,
  options: Pick<LocalStackOptions, 'relay' | 'webhookDispatcher' | 'maxQueueDelaySeconds'>,
) {
  const config = parseConfig(configInput);
  const apiKey = `pr_chaos_${randomBytes(16).toString('hex')}`;
  const stack = await startLocalStack({
    config,
    ports: { api: 0, ses: 0, sqs: 0, dynamodb: 0 },
    log: quietLog,
    apiKey,
    ...options,
  });
  const sqs = new SQSClient({
    region: config.region,
    endpoint: stack.endpoints.sqs,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return { config, apiKey, stack, sqs };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const progress = options.progress ?? (() => {});
  const random = seededRandom(options.seed);
  const started = Date.now();
  const smtpCredentials = { user: 'relay', password: randomBytes(12).toString('hex') };
  const peer: FaultPeer & { port?: number; url?: string } =
    options.provider === 'smtp'
      ? await startFaultSmtp({ credentials: smtpCredentials, faultRate: options.faultRate, random })
      : await startFaultSes({
          maxSendRate: Math.max(5, Math.round(options.ratePerSecond * 1.25)),
          serverErrorRate: options.faultRate / 2,
          random,
        });
  const transport =
    options.provider === 'smtp'
      ? {
          kind: 'smtp',
          host: '127.0.0.1',
          port: peer.port,
          requireTls: true,
          // smtp-server's built-in certificate is self-signed.
          tlsRejectUnauthorized: false,
          user: smtpCredentials.user,
          // A stalled peer costs one second, not twenty.
          timeoutSeconds: 1,
        }
      : { kind: 'ses' };
  const timers = options.timers ?? CHAOS_TIMERS;
  const configInput = chaosConfigInput(transport, options.configFile, timers);
  const { apiKey, stack, sqs } = await startChaosStack(configInput, { relay: false });
  const workers = new RelayWorkers(
    {
      config: configInput,
      endpoints: { ...stack.endpoints, ses: peer.url ?? stack.endpoints.ses },
      resources: stack.resources,
      visibilityTimeoutSeconds: timers.visibilitySeconds,
    },
    { POSTROOM_SMTP_PASSWORD: smtpCredentials.password },
  );
  workers.logFile = options.relayLog;
  const submissions: Submission[] = [];
  const runId = randomUUID().slice(0, 8);
  const killTimes: number[] = [];
  try {
    await workers.start();
    progress(`${options.provider}: submitting ${options.messages} at ${options.ratePerSecond}/s`);
    const submitMs = (options.messages * 1000) / options.ratePerSecond;
    const killing = (async () => {
      // Kills spread over the submission period; each waits for the relay it kills to be polling.
      const slot = submitMs / Math.max(1, options.kills);
      for (let kill = 0; kill < options.kills; kill += 1) {
        await sleep(slot * (0.3 + random() * 0.7));
        killTimes.push(await workers.kill());
        progress(`${options.provider}: relay killed (${killTimes.length}/${options.kills})`);
        await workers.start();
      }
    })();
    await openLoop(options.messages, options.ratePerSecond, (index, dueAt) => {
      const submission = planSubmission(index, runId, options.rejectEvery);
      submissions.push(submission);
      return submit(stack.apiUrl, apiKey, submission, dueAt);
    });
    await killing;

    const accepted = submissions.filter((s) => s.id !== undefined);
    progress(`${options.provider}: ${accepted.length} accepted; waiting for the queue to empty`);
    const deadline = Date.now() + options.drainTimeoutMs;
    let emptyChecks = 0;
    while (Date.now() < deadline && emptyChecks < 2) {
      await sleep(1000);
      const [queued, deadLetters] = await Promise.all([
        queueDepth(sqs, stack.resources.queueUrl),
        queueDepth(sqs, stack.resources.deadLetterQueueUrl),
      ]);
      const settled = new Set(peer.delivered.map((mail) => mail.jobId)).size + deadLetters;
      emptyChecks = queued === 0 && settled >= accepted.length ? emptyChecks + 1 : 0;
    }
    await workers.stop();
    const leftInQueue = await queueDepth(sqs, stack.resources.queueUrl);
    const deadLetters = await readDeadLetters(sqs, stack.resources.deadLetterQueueUrl);
    return judge({
      options,
      submissions,
      delivered: peer.delivered,
      deadLetters,
      generations: workers.observations.generations,
      leftInQueue,
      retries: workers.observations.retries,
      timeouts: workers.observations.timeouts,
      kills: killTimes.length,
      faults: peer.faults,
      windowsMs: workers.observations.windowsMs,
      trouble: workers.observations.trouble,
      durationMs: Date.now() - started,
    });
  } finally {
    await workers.kill();
    sqs.destroy();
    await stack.stop();
    await peer.stop();
  }
}

interface DeadLetter {
  readonly jobId: string | undefined;
  readonly reason: string | undefined;
}

interface Evidence {
  readonly options: ChaosOptions;
  readonly submissions: ReadonlyArray<Submission>;
  readonly delivered: ReadonlyArray<{ jobId: string | undefined; at: number }>;
  readonly deadLetters: ReadonlyArray<DeadLetter>;
  readonly generations: ReadonlyArray<Generation>;
  readonly leftInQueue: number;
  readonly retries: number;
  readonly timeouts?: number;
  /** Jobs the relay logged an uncertain attempt for. */
  readonly uncertainJobs?: ReadonlySet<string>;
  readonly kills: number;
  readonly faults: FaultCounts;
  readonly windowsMs: ReadonlyArray<number>;
  readonly trouble: ReadonlyArray<string>;
  readonly durationMs: number;
}

/** Compares what was accepted with what the provider has and what the dead-letter queue holds. */
export function judge(evidence: Evidence): ChaosReport {
  const notes: string[] = [];
  const accepted = new Map(
    evidence.submissions.filter((s) => s.id !== undefined).map((s) => [s.id as string, s]),
  );
  const { copies, unknownDeliveries } = copiesByJob(accepted, evidence.delivered);
  const letters = new Map<string, DeadLetter>();
  for (const letter of evidence.deadLetters) if (letter.jobId) letters.set(letter.jobId, letter);
  const deadLetterReasons: Record<string, number> = {};
  for (const letter of letters.values()) {
    const reason = (letter.reason ?? '(no reason)').replace(/[0-9a-f-]{36}/g, '<id>').slice(0, 80);
    deadLetterReasons[reason] = (deadLetterReasons[reason] ?? 0) + 1;
  }

  let delivered = 0;
  let duplicates = 0;
  let explainedDuplicates = 0;
  let ambiguousDuplicates = 0;
  let unexplainedDuplicates = 0;
  let lost = 0;
  let deadLettered = 0;
  let unexpectedDeadLetters = 0;
  let rejectedButDelivered = 0;
  for (const [id, submission] of accepted) {
    const times = copies.get(id) ?? [];
    const letter = letters.get(id);
    if (times.length > 0) delivered += 1;
    if (submission.kind === 'api-rejected') {
      if (times.length > 0) {
        rejectedButDelivered += 1;
        notes.push(`rejected job ${id} was delivered`);
      } else if (letter?.reason) deadLettered += 1;
      else {
        lost += 1;
        notes.push(`rejected job ${id} is not on the dead-letter queue with a reason`);
      }
      continue;
    }
    if (times.length === 0) {
      if (letter) {
        unexpectedDeadLetters += 1;
        notes.push(`job ${id} dead-lettered: ${letter.reason ?? '(no reason)'}`);
      } else {
        lost += 1;
        notes.push(`job ${id} lost`);
      }
      continue;
    }
    if (times.length === 1) continue;
    duplicates += times.length - 1;
    if (inDuplicateWindow(id, Math.min(...times), evidence.generations)) {
      explainedDuplicates += times.length - 1;
    } else if (evidence.uncertainJobs?.has(id)) {
      ambiguousDuplicates += times.length - 1;
    } else {
      unexplainedDuplicates += times.length - 1;
      notes.push(`job ${id} delivered ${times.length} times with no kill between acceptance and completion`);
    }
  }
  const windows = [...evidence.windowsMs].sort((a, b) => a - b);
  const ok =
    lost === 0 &&
    unexplainedDuplicates === 0 &&
    unexpectedDeadLetters === 0 &&
    rejectedButDelivered === 0 &&
    unknownDeliveries === 0 &&
    evidence.leftInQueue === 0 &&
    accepted.size === evidence.submissions.length;
  if (accepted.size !== evidence.submissions.length) {
    const statuses = evidence.submissions.filter((s) => s.id === undefined).map((s) => s.status);
    notes.push(`refused submissions, statuses: ${[...new Set(statuses)].join(', ')}`);
  }
  if (!ok) notes.unshift(...evidence.trouble.slice(0, 10));
  return {
    provider: evidence.options.provider,
    seed: evidence.options.seed,
    submitted: evidence.submissions.length,
    accepted: accepted.size,
    refused: evidence.submissions.length - accepted.size,
    delivered,
    duplicates,
    explainedDuplicates,
    ambiguousDuplicates,
    unexplainedDuplicates,
    lost,
    deadLettered,
    unexpectedDeadLetters,
    rejectedButDelivered,
    unknownDeliveries,
    leftInQueue: evidence.leftInQueue,
    retries: evidence.retries,
    kills: evidence.kills,
    timeouts: evidence.timeouts ?? 0,
    faults: evidence.faults,
    windowMs: { p50: percentile(windows, 50), p99: percentile(windows, 99), max: windows.at(-1) ?? 0 },
    deadLetterReasons,
    durationMs: evidence.durationMs,
    ok,
    notes: notes.slice(0, 30),
  };
}

/**
 * A second copy is the known cost of a crash only when the relay process that handed the first copy to
 * the provider was killed and never recorded the job as sent: the next attempt then finds the claim
 * unfinished, waits out its lease and sends again. Relay processes never overlap, so the first copy's
 * acceptance time names the process.
 */
export function inDuplicateWindow(
  jobId: string,
  firstAcceptedAt: number,
  generations: ReadonlyArray<Generation>,
) {
  const sender = generations.find(
    (g) => g.startedAt <= firstAcceptedAt && firstAcceptedAt <= (g.endedAt ?? Number.POSITIVE_INFINITY),
  );
  return sender?.killed === true && !sender.completed.has(jobId);
}

/**
 * Receives every message of a queue once (each stays invisible for the rest of the run): the dead-letter
 * queues' contents, read by each scenario's judge.
 */
export async function drainQueue(sqs: SQSClient, queueUrl: string): Promise<Message[]> {
  const received: Message[] = [];
  for (;;) {
    const result = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 600,
        MessageAttributeNames: ['All'],
      }),
    );
    const messages = result.Messages ?? [];
    if (messages.length === 0) return received;
    received.push(...messages);
  }
}

/** Reads every dead letter once. */
export async function readDeadLetters(sqs: SQSClient, queueUrl: string): Promise<DeadLetter[]> {
  return (await drainQueue(sqs, queueUrl)).map((message) => {
    const attributes = message.MessageAttributes ?? {};
    return {
      jobId: attributes[ATTRIBUTE.jobId]?.StringValue ?? jobIdOfBody(message.Body),
      reason: attributes[ATTRIBUTE.reason]?.StringValue,
    };
  });
}

/** Each accepted job's arrival times at the provider, and how many deliveries no accepted job explains. */
export function copiesByJob(
  accepted: ReadonlyMap<string, unknown>,
  delivered: ReadonlyArray<{ readonly jobId?: string | undefined; readonly at: number }>,
): { copies: Map<string, number[]>; unknownDeliveries: number } {
  const copies = new Map<string, number[]>();
  let unknownDeliveries = 0;
  for (const mail of delivered) {
    if (mail.jobId === undefined || !accepted.has(mail.jobId)) {
      unknownDeliveries += 1;
      continue;
    }
    copies.set(mail.jobId, [...(copies.get(mail.jobId) ?? []), mail.at]);
  }
  return { copies, unknownDeliveries };
}

function jobIdOfBody(body: string | undefined): string | undefined {
  try {
    const id = (JSON.parse(body ?? '') as { id?: unknown }).id;
    return typeof id === 'string' ? id : undefined;
  } catch {
    return undefined;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The counts a person reads at the end of a run. */
export function formatReport(report: ChaosReport): string {
  const f = report.faults;
  const lines = [
    `chaos (${report.provider}, seed ${report.seed}): ${report.ok ? 'PASS' : 'FAIL'} in ${(report.durationMs / 1000).toFixed(1)} s`,
    `  submitted ${report.submitted}, accepted ${report.accepted}, refused ${report.refused}`,
    `  delivered ${report.delivered}, duplicates ${report.duplicates} (in the crash window ${report.explainedDuplicates}, after a lost reply ${report.ambiguousDuplicates}, unexplained ${report.unexplainedDuplicates})`,
    `  lost ${report.lost}, dead-lettered ${report.deadLettered} (permanent rejections), unexpected dead letters ${report.unexpectedDeadLetters}`,
    `  delivered but never accepted ${report.unknownDeliveries}, rejected but delivered ${report.rejectedButDelivered}, left in queue ${report.leftInQueue}`,
    `  retries ${report.retries}, kills ${report.kills}, invocation timeouts ${report.timeouts}`,
    `  provider faults: transient ${f.transient}, dropped mid-DATA ${f.dropped}, stalled ${f.stalled}, permanent ${f.rejected}, replies lost after keeping the mail ${f.lostReplies ?? 0}`,
    `  acceptance-to-completion window: p50 ${report.windowMs.p50} ms, p99 ${report.windowMs.p99} ms, max ${report.windowMs.max} ms`,
    `  dead-letter reasons: ${JSON.stringify(report.deadLetterReasons)}`,
    ...report.notes.map((note) => `  ! ${note}`),
  ];
  return lines.join('\n');
}

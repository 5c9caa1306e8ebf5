import { randomBytes, randomUUID } from 'node:crypto';
import { queueDepth } from '../cli/queues';
import { CLOCK_SKEW_MS, MAX_QUEUE_DELAY_SECONDS, scheduleIso } from '../functions/core/scheduling/schedule';
import { type FaultCounts, seededRandom } from './delivered';
import { startFaultSmtp } from './fault-smtp';
import {
  CHAOS_TIMERS,
  type ChaosTimers,
  chaosConfigInput,
  copiesByJob,
  inDuplicateWindow,
  readDeadLetters,
  startChaosStack,
} from './harness';
import { openLoop, percentile } from './submissions';
import { type Generation, RelayWorkers } from './worker-process';

/** How a scheduled job waits: on the mail queue with DelaySeconds (AWS up to 15 min) or in the local scheduler. */
export type ScheduledPath = 'queue-delay' | 'scheduler';

export interface ScheduledChaosOptions {
  /** Mail sent through the API with `scheduledAt`. */
  readonly messages: number;
  readonly ratePerSecond: number;
  /** Each mail is scheduled this many seconds ahead, drawn at random between the two (whole seconds). */
  readonly aheadSeconds: readonly [number, number];
  /** One mail in this many gets a cancel, at a random moment from its submission to a second after its time. */
  readonly cancelEvery: number;
  /** SIGKILLs of the relay, spread from the first submission to the last scheduled time. */
  readonly kills: number;
  /** Share of SMTP sessions that meet a fault (421/451/454, dropped mid-DATA, stall). */
  readonly faultRate: number;
  readonly path: ScheduledPath;
  readonly seed: number;
  /** How long to wait, after the last scheduled time, for the queue to empty. */
  readonly drainTimeoutMs: number;
  /** The cdk.json whose `postroom` context the run starts from (tests pass their fixture). Default: cdk.json. */
  readonly configFile?: string;
  /** How soon a killed relay's work comes back. Default: CHAOS_TIMERS. */
  readonly timers?: ChaosTimers;
  readonly progress?: (line: string) => void;
}

/** One scheduled mail and what became of its requests. */
export interface ScheduledMail {
  readonly index: number;
  readonly atMs: number;
  status?: number;
  id?: string;
  /**
   * Answered `scheduled`. A request that reached the API after its time (a busy machine) is answered 202 without
   * it and sent at once, as the API documents: still a mail that must go once, and not before its time.
   */
  scheduled?: boolean;
  /** A 422 that names `scheduledAt` as past, for a request answered more than the clock skew after its time. */
  pastAtArrival?: boolean;
  /** When the cancel was sent, for the mails that get one. */
  cancelAt?: number;
  /** The cancel's answer: 200 canceled, 409 already on its way or sent. */
  cancelStatus?: number;
}

export interface ScheduledChaosReport {
  readonly path: ScheduledPath;
  readonly seed: number;
  readonly submitted: number;
  /** Answered 202. */
  readonly accepted: number;
  /** Answered 202 without `scheduled`: the request came after its time and the mail went at once. */
  readonly dueOnArrival: number;
  /**
   * Answered 422 `scheduledAt is in the past`: the request reached the API more than the 5 s clock skew after
   * its time (a machine too busy to keep up with the submission rate). The API's rule, not a fault.
   */
  readonly refusedAsPast: number;
  /** Cancels answered 200: these must never be sent. */
  readonly canceled: number;
  /** Cancels answered 409: the mail had started; these must be sent once. */
  readonly cancelTooLate: number;
  /** Cancels answered anything else. */
  readonly cancelErrors: number;
  /** Not canceled, and at the provider. */
  readonly sent: number;
  /** Not canceled, and neither at the provider nor dead-lettered. */
  readonly lost: number;
  readonly canceledButSent: number;
  /** Sent mail whose first copy the provider took before its scheduled time. */
  readonly early: number;
  readonly duplicates: number;
  readonly explainedDuplicates: number;
  readonly unexplainedDuplicates: number;
  readonly deadLettered: number;
  readonly unknownDeliveries: number;
  readonly leftInQueue: number;
  readonly kills: number;
  readonly faults: FaultCounts;
  /** Provider acceptance of the first copy after the scheduled time, in ms. */
  readonly lateMs: { readonly p50: number; readonly p99: number; readonly max: number };
  readonly durationMs: number;
  readonly ok: boolean;
  readonly notes: ReadonlyArray<string>;
}

/**
 * Mail scheduled a few seconds ahead through the API (some of it canceled, before its time or racing it) while
 * the relay is killed with SIGKILL and a faulty SMTP relay misbehaves. The judge reads the provider's mail: each
 * mail whose cancel did not answer 200 arrives once (a second copy only from a relay killed in the crash
 * window, as in the mail run), never before its time; no mail whose cancel answered 200 arrives at all.
 */
export async function runScheduledChaos(options: ScheduledChaosOptions): Promise<ScheduledChaosReport> {
  const progress = options.progress ?? (() => {});
  const random = seededRandom(options.seed);
  const started = Date.now();
  const credentials = { user: 'relay', password: randomBytes(12).toString('hex') };
  const peer = await startFaultSmtp({ credentials, faultRate: options.faultRate, random });
  const transport = {
    kind: 'smtp',
    host: '127.0.0.1',
    port: peer.port,
    requireTls: true,
    // smtp-server's built-in certificate is self-signed.
    tlsRejectUnauthorized: false,
    user: credentials.user,
    timeoutSeconds: 1,
  };
  const timers = options.timers ?? CHAOS_TIMERS;
  const configInput = chaosConfigInput(transport, options.configFile, timers);
  const { apiKey, stack, sqs } = await startChaosStack(configInput, {
    relay: false,
    maxQueueDelaySeconds: options.path === 'queue-delay' ? MAX_QUEUE_DELAY_SECONDS : 0,
  });
  const workers = new RelayWorkers(
    {
      config: configInput,
      endpoints: stack.endpoints,
      resources: stack.resources,
      visibilityTimeoutSeconds: timers.visibilitySeconds,
    },
    { POSTROOM_SMTP_PASSWORD: credentials.password },
  );
  const mails: ScheduledMail[] = [];
  let kills = 0;
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${stack.apiUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  try {
    await workers.start();
    const runId = randomUUID().slice(0, 8);
    const [minAhead, maxAhead] = options.aheadSeconds;
    const submitMs = (options.messages * 1000) / options.ratePerSecond;
    progress(`scheduled (${options.path}): ${options.messages} at ${options.ratePerSecond}/s`);
    const killing = (async () => {
      // Kills spread over the submissions and the scheduled times, when the jobs come due.
      const slot = (submitMs + maxAhead * 1000) / Math.max(1, options.kills);
      for (let kill = 0; kill < options.kills; kill += 1) {
        await sleep(slot * (0.3 + random() * 0.7));
        await workers.kill();
        kills += 1;
        progress(`scheduled (${options.path}): relay killed (${kills}/${options.kills})`);
        await workers.start();
      }
    })();
    const cancels: Array<Promise<void>> = [];
    await openLoop(options.messages, options.ratePerSecond, async (index) => {
      const ahead = minAhead + Math.floor(random() * (maxAhead - minAhead + 1));
      const atMs = Math.ceil((Date.now() + ahead * 1000) / 1000) * 1000;
      const mail: ScheduledMail = { index, atMs };
      mails.push(mail);
      const cancelled = options.cancelEvery > 0 && index % options.cancelEvery === options.cancelEvery - 1;
      const cancelAfter = random() * (atMs - Date.now() + 1_000);
      try {
        const response = await call('POST', '/v1/send', {
          from: 'Shop <orders@example.com>',
          to: `customer-${index}@example.org`,
          subject: `Reminder ${index}`,
          text: `Your appointment ${runId}-${index}.`,
          scheduledAt: scheduleIso(atMs),
        });
        mail.status = response.status;
        const answer = (await response.json()) as {
          id?: string;
          status?: string;
          errors?: Array<{ field?: string; detail?: string }>;
        };
        mail.pastAtArrival =
          response.status === 422 &&
          Date.now() > atMs + CLOCK_SKEW_MS &&
          (answer.errors ?? []).some((e) => e.field === 'scheduledAt' && e.detail === 'is in the past');
        if (response.status === 202) {
          mail.id = answer.id;
          mail.scheduled = answer.status === 'scheduled';
        }
      } catch {
        mail.status = 0;
      }
      if (!cancelled || mail.id === undefined) return;
      const id = mail.id;
      cancels.push(
        sleep(cancelAfter).then(async () => {
          mail.cancelAt = Date.now();
          const response = await call('POST', `/v1/messages/${id}/cancel`).catch(() => undefined);
          mail.cancelStatus = response?.status ?? 0;
          await response?.text();
        }),
      );
    });
    await Promise.all([killing, ...cancels]);

    const lastAt = Math.max(...mails.map((mail) => mail.atMs));
    progress(`scheduled (${options.path}): waiting for the last time and the queue to empty`);
    await sleep(Math.max(0, lastAt - Date.now()));
    const deadline = Date.now() + options.drainTimeoutMs;
    let emptyChecks = 0;
    while (Date.now() < deadline && emptyChecks < 2) {
      await sleep(1000);
      const [queued, pending] = [await queueDepth(sqs, stack.resources.queueUrl), stack.scheduler.pending()];
      emptyChecks = queued === 0 && pending.length === 0 ? emptyChecks + 1 : 0;
    }
    await workers.stop();
    const leftInQueue = await queueDepth(sqs, stack.resources.queueUrl);
    const deadLetters = await readDeadLetters(sqs, stack.resources.deadLetterQueueUrl);
    return judgeScheduled({
      options,
      mails,
      delivered: peer.delivered,
      deadLetterIds: deadLetters.flatMap((letter) => (letter.jobId ? [letter.jobId] : [])),
      generations: workers.observations.generations,
      leftInQueue,
      kills,
      faults: peer.faults,
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

interface ScheduledEvidence {
  readonly options: Pick<ScheduledChaosOptions, 'path' | 'seed'>;
  readonly mails: ReadonlyArray<ScheduledMail>;
  readonly delivered: ReadonlyArray<{ jobId: string | undefined; at: number }>;
  readonly deadLetterIds: ReadonlyArray<string>;
  readonly generations: ReadonlyArray<Generation>;
  readonly leftInQueue: number;
  readonly kills: number;
  readonly faults: FaultCounts;
  readonly trouble: ReadonlyArray<string>;
  readonly durationMs: number;
}

/** Compares the scheduled mail and its cancels with what the provider took and when. */
export function judgeScheduled(evidence: ScheduledEvidence): ScheduledChaosReport {
  const notes: string[] = [];
  const accepted = new Map(
    evidence.mails.filter((mail) => mail.id !== undefined).map((mail) => [mail.id as string, mail]),
  );
  const { copies, unknownDeliveries } = copiesByJob(accepted, evidence.delivered);
  const deadLetters = new Set(evidence.deadLetterIds);
  let canceled = 0;
  let cancelTooLate = 0;
  let cancelErrors = 0;
  let sent = 0;
  let lost = 0;
  let canceledButSent = 0;
  let early = 0;
  let duplicates = 0;
  let explainedDuplicates = 0;
  let unexplainedDuplicates = 0;
  let deadLettered = 0;
  const late: number[] = [];
  for (const [id, mail] of accepted) {
    const times = (copies.get(id) ?? []).sort((a, b) => a - b);
    if (mail.cancelStatus === 200) {
      canceled += 1;
      if (times.length > 0) {
        canceledButSent += 1;
        notes.push(`mail ${id} was sent after its cancel answered 200`);
      }
      continue;
    }
    if (mail.cancelStatus === 409) cancelTooLate += 1;
    else if (mail.cancelStatus !== undefined) {
      cancelErrors += 1;
      notes.push(`the cancel of ${id} answered ${mail.cancelStatus}`);
    }
    const first = times[0];
    if (first === undefined) {
      if (deadLetters.has(id)) {
        deadLettered += 1;
        notes.push(`mail ${id} dead-lettered`);
      } else {
        lost += 1;
        notes.push(`mail ${id} lost`);
      }
      continue;
    }
    sent += 1;
    late.push(first - mail.atMs);
    if (first < mail.atMs) {
      early += 1;
      notes.push(`mail ${id} sent ${mail.atMs - first} ms before its time`);
    }
    if (times.length > 1) {
      duplicates += times.length - 1;
      if (inDuplicateWindow(id, first, evidence.generations)) explainedDuplicates += times.length - 1;
      else {
        unexplainedDuplicates += times.length - 1;
        notes.push(`mail ${id} sent ${times.length} times with no kill between acceptance and completion`);
      }
    }
  }
  const refusedAsPast = evidence.mails.filter((mail) => mail.status === 422 && mail.pastAtArrival).length;
  const refused = evidence.mails.length - accepted.size - refusedAsPast;
  if (refused > 0) {
    const statuses = evidence.mails
      .filter((mail) => mail.id === undefined && !(mail.status === 422 && mail.pastAtArrival))
      .map((mail) => mail.status);
    notes.push(`refused scheduled sends, statuses: ${[...new Set(statuses)].join(', ')}`);
  }
  late.sort((a, b) => a - b);
  const ok =
    lost === 0 &&
    canceledButSent === 0 &&
    early === 0 &&
    unexplainedDuplicates === 0 &&
    deadLettered === 0 &&
    cancelErrors === 0 &&
    unknownDeliveries === 0 &&
    evidence.leftInQueue === 0 &&
    refused === 0;
  if (!ok) notes.unshift(...evidence.trouble.slice(0, 10));
  return {
    path: evidence.options.path,
    seed: evidence.options.seed,
    submitted: evidence.mails.length,
    accepted: accepted.size,
    dueOnArrival: [...accepted.values()].filter((mail) => mail.scheduled === false).length,
    refusedAsPast,
    canceled,
    cancelTooLate,
    cancelErrors,
    sent,
    lost,
    canceledButSent,
    early,
    duplicates,
    explainedDuplicates,
    unexplainedDuplicates,
    deadLettered,
    unknownDeliveries,
    leftInQueue: evidence.leftInQueue,
    kills: evidence.kills,
    faults: evidence.faults,
    lateMs: { p50: percentile(late, 50), p99: percentile(late, 99), max: late.at(-1) ?? 0 },
    durationMs: evidence.durationMs,
    ok,
    notes: notes.slice(0, 30),
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The counts a person reads at the end of a run. */
export function formatScheduledReport(report: ScheduledChaosReport): string {
  const f = report.faults;
  return [
    `chaos (scheduled, ${report.path}, seed ${report.seed}): ${report.ok ? 'PASS' : 'FAIL'} in ${(report.durationMs / 1000).toFixed(1)} s`,
    `  scheduled ${report.submitted}, accepted ${report.accepted} (${report.dueOnArrival} already due on arrival), refused as past on arrival ${report.refusedAsPast}; cancels: 200 ${report.canceled}, 409 ${report.cancelTooLate}, other ${report.cancelErrors}`,
    `  sent ${report.sent} (not canceled), canceled but sent ${report.canceledButSent}, lost ${report.lost}, dead-lettered ${report.deadLettered}`,
    `  before their time ${report.early}; after it: p50 ${report.lateMs.p50} ms, p99 ${report.lateMs.p99} ms, max ${report.lateMs.max} ms`,
    `  duplicates ${report.duplicates} (in the crash window ${report.explainedDuplicates}, unexplained ${report.unexplainedDuplicates}), unknown deliveries ${report.unknownDeliveries}, left in queue ${report.leftInQueue}`,
    `  relay kills ${report.kills}; provider faults: transient ${f.transient}, dropped mid-DATA ${f.dropped}, stalled ${f.stalled}`,
    ...report.notes.map((note) => `  ! ${note}`),
  ].join('\n');
}

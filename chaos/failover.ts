import { randomBytes, randomUUID } from 'node:crypto';
import { queueDepth } from '../cli/queues';
import { seededRandom } from './delivered';
import { startFaultSes } from './fault-ses';
import { startFaultSmtp } from './fault-smtp';
import {
  CHAOS_VISIBILITY_SECONDS,
  type ChaosOptions,
  type ChaosReport,
  chaosConfigInput,
  inDuplicateWindow,
  judge,
  readDeadLetters,
  startChaosStack,
} from './harness';
import { openLoop, planSubmission, type Submission, submit } from './submissions';
import { RelayWorkers, UNCERTAIN_LOG } from './worker-process';

/** What a failover run adds to the report: when the primary was down, and how long mail took to move. */
export interface FailoverFigures {
  readonly primaryDownMs: number;
  /** From the primary's kill to the first mail the secondary accepted after it. */
  readonly timeToFailOverMs: number | undefined;
  /** From the primary's kill to the relay's first hop to the next provider. */
  readonly timeToFirstHopMs: number | undefined;
  readonly deliveredByPrimary: number;
  readonly deliveredBySecondary: number;
  /** Jobs the relay moved to the next provider at once. */
  readonly failedOver: number;
  /** Attempts whose outcome was unknown, retried on the same provider (the documented window). */
  readonly uncertain: number;
  /** Jobs both providers have outside the crash window: failover must never do that; any fails the run. */
  readonly sentByBoth: number;
  /** Jobs both providers have because a relay was killed between the first's acceptance and the record. */
  readonly crossedInCrash: number;
}

/**
 * `npm run chaos -- --provider failover`: SES (the fault peer) first, an SMTP relay (the fault peer) second,
 * breakers in the emulated table. The primary is killed (connections refused) a third into the submissions
 * and revived at two thirds, while the relay process is killed as in the other runs. The judge is the same:
 * every accepted job exactly once across both providers, or dead-lettered with its reason, and no job at both.
 * Both peers lose a share of their replies after keeping the mail (`lostReplyRate`), so the relay meets
 * the ambiguous outcome for real: a second copy on the same provider is that documented window.
 */
export async function runFailoverChaos(
  options: ChaosOptions,
): Promise<ChaosReport & { failover: FailoverFigures }> {
  const progress = options.progress ?? (() => {});
  const random = seededRandom(options.seed);
  const started = Date.now();
  const credentials = { user: 'relay', password: randomBytes(12).toString('hex') };
  const ses = await startFaultSes({
    maxSendRate: Math.max(5, Math.round(options.ratePerSecond * 1.25)),
    serverErrorRate: options.faultRate / 2,
    lostReplyRate: options.faultRate / 10,
    random,
  });
  const smtp = await startFaultSmtp({
    credentials,
    faultRate: options.faultRate,
    lostReplyRate: options.faultRate / 10,
    random,
  });
  const configInput = {
    ...chaosConfigInput({ kind: 'ses' }, options.configFile),
    transport: undefined,
    transports: [
      { kind: 'ses' },
      {
        kind: 'smtp',
        host: '127.0.0.1',
        port: smtp.port,
        tlsRejectUnauthorized: false,
        user: credentials.user,
        timeoutSeconds: 1,
      },
    ],
    breaker: { minRequests: 5, failureRate: 0.5, windowSeconds: 10, openSeconds: 3 },
  };
  const { apiKey, stack, sqs } = await startChaosStack(configInput, { relay: false });
  const workers = new RelayWorkers(
    {
      config: configInput,
      endpoints: { ...stack.endpoints, ses: ses.url },
      resources: stack.resources,
      visibilityTimeoutSeconds: CHAOS_VISIBILITY_SECONDS,
    },
    { POSTROOM_SMTP_PASSWORD: credentials.password },
  );
  workers.logFile = options.relayLog;
  // The relay's own word for each hop and each uncertain attempt (core/failover/failover.ts).
  const hops: number[] = [];
  let uncertain = 0;
  workers.onLine = (entry) => {
    if (entry.message === 'provider did not take the mail; trying the next') hops.push(Date.now());
    if (entry.message === UNCERTAIN_LOG) uncertain += 1;
  };
  const submissions: Submission[] = [];
  const runId = randomUUID().slice(0, 8);
  let killedAt = 0;
  let revivedAt = 0;
  let kills = 0;
  try {
    await workers.start();
    const submitMs = (options.messages * 1000) / options.ratePerSecond;
    const primary = (async () => {
      await sleep(submitMs / 3);
      await ses.kill();
      killedAt = Date.now();
      progress('failover: primary (SES) killed');
      await sleep(submitMs / 3);
      await ses.revive();
      revivedAt = Date.now();
      progress('failover: primary (SES) revived');
    })();
    const relayKills = (async () => {
      const slot = submitMs / Math.max(1, options.kills);
      for (let kill = 0; kill < options.kills; kill += 1) {
        await sleep(slot * (0.3 + random() * 0.7));
        await workers.kill();
        kills += 1;
        progress(`failover: relay killed (${kills}/${options.kills})`);
        await workers.start();
      }
    })();
    await openLoop(options.messages, options.ratePerSecond, (index, dueAt) => {
      const submission = planSubmission(index, runId, options.rejectEvery);
      submissions.push(submission);
      return submit(stack.apiUrl, apiKey, submission, dueAt);
    });
    await Promise.all([primary, relayKills]);
    const accepted = submissions.filter((s) => s.id !== undefined).length;
    const deadline = Date.now() + options.drainTimeoutMs;
    let emptyChecks = 0;
    while (Date.now() < deadline && emptyChecks < 2) {
      await sleep(1000);
      const [queued, deadLetters] = await Promise.all([
        queueDepth(sqs, stack.resources.queueUrl),
        queueDepth(sqs, stack.resources.deadLetterQueueUrl),
      ]);
      const settled = new Set([...ses.delivered, ...smtp.delivered].map((m) => m.jobId)).size + deadLetters;
      emptyChecks = queued === 0 && settled >= accepted ? emptyChecks + 1 : 0;
    }
    await workers.stop();
    const leftInQueue = await queueDepth(sqs, stack.resources.queueUrl);
    const deadLetters = await readDeadLetters(sqs, stack.resources.deadLetterQueueUrl);
    const firstAfterKill = smtp.delivered.find((m) => m.at >= killedAt)?.at;
    const firstHop = hops.find((at) => at >= killedAt);
    const report = judge({
      options: { ...options, provider: 'ses' },
      submissions,
      delivered: [...ses.delivered, ...smtp.delivered],
      deadLetters,
      generations: workers.observations.generations,
      leftInQueue,
      retries: workers.observations.retries,
      timeouts: workers.observations.timeouts,
      uncertainJobs: workers.observations.uncertainJobs,
      kills,
      faults: {
        transient: ses.faults.transient + smtp.faults.transient,
        dropped: ses.faults.dropped + smtp.faults.dropped,
        stalled: smtp.faults.stalled,
        rejected: ses.faults.rejected + smtp.faults.rejected,
        lostReplies: (ses.faults.lostReplies ?? 0) + (smtp.faults.lostReplies ?? 0),
      },
      windowsMs: workers.observations.windowsMs,
      trouble: workers.observations.trouble,
      durationMs: Date.now() - started,
    });
    // A job at both providers is a failover fault, unless the relay that gave it to the first was killed
    // before recording it: the crash window, where the retry may find the first provider down and move on.
    const firstAtSes = new Map<string, number>();
    for (const mail of ses.delivered)
      if (mail.jobId && !firstAtSes.has(mail.jobId)) firstAtSes.set(mail.jobId, mail.at);
    const both = new Set(
      smtp.delivered.flatMap((m) => (m.jobId && firstAtSes.has(m.jobId) ? [m.jobId] : [])),
    );
    const firstCopy = (id: string) =>
      Math.min(
        firstAtSes.get(id) ?? Number.POSITIVE_INFINITY,
        ...smtp.delivered.filter((m) => m.jobId === id).map((m) => m.at),
      );
    const crossedInCrash = [...both].filter((id) =>
      inDuplicateWindow(id, firstCopy(id), workers.observations.generations),
    );
    const sentByBoth = both.size - crossedInCrash.length;
    return {
      ...report,
      ok: report.ok && sentByBoth === 0,
      notes:
        sentByBoth === 0
          ? report.notes
          : [
              `${sentByBoth} jobs went to both providers outside the crash window: ${[...both].filter((id) => !crossedInCrash.includes(id)).join(', ')}`,
              ...report.notes,
            ],
      failover: {
        primaryDownMs: revivedAt - killedAt,
        timeToFailOverMs: firstAfterKill === undefined ? undefined : firstAfterKill - killedAt,
        timeToFirstHopMs: firstHop === undefined ? undefined : firstHop - killedAt,
        deliveredByPrimary: ses.delivered.length,
        deliveredBySecondary: smtp.delivered.length,
        failedOver: hops.length,
        uncertain,
        sentByBoth,
        crossedInCrash: crossedInCrash.length,
      },
    };
  } finally {
    await workers.kill();
    sqs.destroy();
    await stack.stop();
    await ses.stop().catch(() => {});
    await smtp.stop();
  }
}

export function formatFailover(figures: FailoverFigures): string {
  return [
    `  primary down ${(figures.primaryDownMs / 1000).toFixed(1)} s; kill to first hop ${figures.timeToFirstHopMs ?? 'n/a'} ms, to first mail on the secondary ${figures.timeToFailOverMs ?? 'n/a'} ms`,
    `  delivered by the primary (SES) ${figures.deliveredByPrimary}, by the secondary (SMTP) ${figures.deliveredBySecondary}`,
    `  failed over ${figures.failedOver}, uncertain attempts (retried on the same provider) ${figures.uncertain}, jobs at both providers ${figures.sentByBoth} (and ${figures.crossedInCrash} in the crash window)`,
  ].join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

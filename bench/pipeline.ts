import { type RelayWorkers, startStackWithRelayProcess } from '../chaos/worker-process';
import { type PostroomConfig, parseConfig } from '../functions/core/config/config';
import { contextWithoutRateLimits } from '../local/config-file';
import { type BenchSection, percentile, sleep, waitFor } from './section';

/**
 * The local pipeline end to end (HTTP -> send handler -> SQS -> local event source -> relay -> SES
 * emulator), with the shipped configuration. As on AWS, the relay is not the API: it runs in its own
 * process (local/relay-worker.ts), while this one runs the API, the emulators (in worker threads) and the
 * bench's clients. Latency runs from the start of the HTTP request to the relay's "completion recorded"
 * line (the provider accepted the mail and the claim is completed), as that line reaches this process.
 */

const PACED_RATE = 100;
const PACED_COUNT = 1_000;
const BURST_COUNT = 2_000;
const BURST_CLIENTS = 32;
const WIDE_CONCURRENCY = 10;

/** When each job was first marked sent, and what should never happen: a second copy, a failure. */
class SentClock {
  readonly sentAt = new Map<string, number>();
  duplicates = 0;
  completed(jobId: string) {
    if (this.sentAt.has(jobId)) this.duplicates += 1;
    else this.sentAt.set(jobId, performance.now());
  }
}

interface PipelineStack {
  readonly log: SentClock;
  readonly relay: RelayWorkers;
  readonly config: PostroomConfig;
  submit(): Promise<{ id: string; startedAt: number; acceptedAt: number }>;
  calls(): Promise<Record<string, number>>;
  emulatorBusyMs(): Record<string, number>;
  stop(): Promise<void>;
}

async function startPipeline(maxConcurrency?: number): Promise<PipelineStack> {
  // Rate limits lifted (every request comes from one loopback address); the duplicate-content guard stays:
  // each bench message is different.
  const shipped = contextWithoutRateLimits();
  const raw = {
    ...shipped,
    queue: { ...(shipped.queue as Record<string, unknown>), ...(maxConcurrency ? { maxConcurrency } : {}) },
  };
  const log = new SentClock();
  const { stack, relay, stop } = await startStackWithRelayProcess({
    raw,
    onCompleted: (jobId) => log.completed(jobId),
  });
  const config = parseConfig(raw);
  const url = `${stack.apiUrl}/v1/forms/contact`;
  let sequence = 0;
  const submit = async (): Promise<{ id: string; startedAt: number; acceptedAt: number }> => {
    const startedAt = performance.now();
    sequence += 1;
    const response = await fetchOnce(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `Bench ${sequence}`,
        email: `bench${sequence}@example.com`,
        message: `Benchmark message ${sequence}`,
      }),
    });
    if (response.status !== 202) throw new Error(`submission answered ${response.status}`);
    const { id } = (await response.json()) as { id: string };
    return { id, startedAt, acceptedAt: performance.now() };
  };
  // Warm-up: first requests pay for module loading and connection set-up.
  for (let i = 0; i < 50; i++) await submit();
  await waitFor(() => log.sentAt.size >= 50, 20_000);
  return {
    log,
    relay,
    config,
    submit,
    calls: () => stack.emulatorCalls(),
    emulatorBusyMs: () => stack.emulatorBusyMs(),
    stop,
  };
}

/** Submissions on a fixed schedule (open loop): each one's submit-to-sent latency. */
async function latencyAt(pipeline: PipelineStack, rate: number, count: number) {
  const paced: Array<{ id: string; startedAt: number; acceptedAt: number }> = [];
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(pipeline.submit().then((s) => void paced.push(s)));
  }
  await Promise.all(pending);
  const done = await waitFor(() => paced.every((s) => pipeline.log.sentAt.has(s.id)), 60_000);
  const latencies = paced
    .map((s) => (pipeline.log.sentAt.get(s.id) ?? Number.NaN) - s.startedAt)
    .filter(Number.isFinite)
    .sort((a, b) => a - b);
  // Where the time goes: answering the post, then waiting in the queue and being sent.
  const accepts = paced.map((s) => s.acceptedAt - s.startedAt).sort((a, b) => a - b);
  return { done, latencies, accepts, lost: paced.filter((s) => !pipeline.log.sentAt.has(s.id)).length };
}

/** Submissions from concurrent clients while the relay drains the queue. */
async function throughput(pipeline: PipelineStack, count: number, clients: number) {
  const burst: string[] = [];
  const cpu = process.cpuUsage();
  const relayCpuBefore = pipeline.relay.cpuMs();
  const emulatorsBefore = pipeline.emulatorBusyMs();
  const start = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < count) {
        next += 1;
        burst.push((await pipeline.submit()).id);
      }
    }),
  );
  const acceptedAt = performance.now();
  const done = await waitFor(() => burst.every((id) => pipeline.log.sentAt.has(id)), 180_000);
  const used = process.cpuUsage(cpu);
  const relayCpuAfter = pipeline.relay.cpuMs();
  const relayCpuMs =
    relayCpuBefore === undefined || relayCpuAfter === undefined ? 0 : relayCpuAfter - relayCpuBefore;
  const emulatorsAfter = pipeline.emulatorBusyMs();
  const emulatorMs = (name: string) => ((emulatorsAfter[name] ?? 0) - (emulatorsBefore[name] ?? 0)) / count;
  const processMs = (used.user + used.system) / 1000 / count;
  const split = {
    relay: relayCpuMs / count,
    dynamodb: emulatorMs('dynamodb'),
    sqs: emulatorMs('sqs'),
    ses: emulatorMs('ses'),
  };
  const lastSent = Math.max(...burst.map((id) => pipeline.log.sentAt.get(id) ?? Number.NaN));
  return {
    done,
    acceptedPerSecond: (count * 1000) / (acceptedAt - start),
    deliveredPerSecond: (count * 1000) / (lastSent - start),
    cpuMsPerMessage: processMs + split.relay,
    // This process's CPU less its emulator threads' busy time: the API (send handler) and the bench clients.
    cpuSplit: { ...split, api: processMs - split.dynamodb - split.sqs - split.ses },
    lost: burst.filter((id) => !pipeline.log.sentAt.has(id)).length,
  };
}

export async function run(): Promise<BenchSection> {
  const shipped = await startPipeline();
  let paced: Awaited<ReturnType<typeof latencyAt>>;
  let callsPerMessage: Record<string, number>;
  let burst: Awaited<ReturnType<typeof throughput>>;
  try {
    const callsBefore = await shipped.calls();
    paced = await latencyAt(shipped, PACED_RATE, PACED_COUNT);
    callsPerMessage = perMessage(callsBefore, await shipped.calls(), PACED_COUNT);
    burst = await throughput(shipped, BURST_COUNT, BURST_CLIENTS);
  } finally {
    await shipped.stop();
  }
  // The same burst with more relay invocations at once: how far the relay's concurrency limits the rest.
  const wide = await startPipeline(WIDE_CONCURRENCY);
  let wideBurst: Awaited<ReturnType<typeof throughput>>;
  try {
    wideBurst = await throughput(wide, BURST_COUNT, BURST_CLIENTS);
  } finally {
    await wide.stop();
  }

  const { config, log } = shipped;
  const retries = shipped.relay.observations.retries + wide.relay.observations.retries;
  const trouble = shipped.relay.observations.trouble.length + wide.relay.observations.trouble.length;
  const p99 = percentile(paced.latencies, 99);
  const lost = paced.lost + burst.lost + wideBurst.lost;
  const duplicates = log.duplicates + wide.log.duplicates;
  const totalCalls = Object.values(callsPerMessage).reduce((sum, n) => sum + n, 0);
  const best = Math.max(burst.deliveredPerSecond, wideBurst.deliveredPerSecond);
  return {
    title: 'Local pipeline: HTTP -> send -> SQS (fauxqs) -> event source -> relay -> SES emulator',
    rows: [
      {
        metric: `submit-to-sent p50 @ ${PACED_RATE} msg/s`,
        value: round(percentile(paced.latencies, 50)),
        unit: 'ms',
      },
      {
        metric: `submit-to-sent p99 @ ${PACED_RATE} msg/s`,
        value: round(p99),
        unit: 'ms',
        target: '<= 500',
        pass: paced.done && p99 <= 500,
      },
      {
        metric: `of which accept (202) p50 @ ${PACED_RATE} msg/s`,
        value: round(percentile(paced.accepts, 50), 1),
        unit: 'ms',
      },
      {
        metric: `of which accept (202) p99 @ ${PACED_RATE} msg/s`,
        value: round(percentile(paced.accepts, 99), 1),
        unit: 'ms',
      },
      {
        metric: `accepted (202) per second, ${BURST_CLIENTS} clients`,
        value: round(burst.acceptedPerSecond),
        unit: 'msg/s',
      },
      {
        metric: `delivered per second, ${BURST_COUNT} messages, maxConcurrency ${config.queue.maxConcurrency}`,
        value: round(burst.deliveredPerSecond),
        unit: 'msg/s',
        target: '>= 300',
        pass: burst.done && burst.deliveredPerSecond >= 300,
      },
      {
        metric: `delivered per second, ${BURST_COUNT} messages, maxConcurrency ${WIDE_CONCURRENCY}`,
        value: round(wideBurst.deliveredPerSecond),
        unit: 'msg/s',
        target: '>= 300',
        pass: wideBurst.done && best >= 300,
      },
      {
        metric: 'CPU time per message, all processes',
        value: round(burst.cpuMsPerMessage, 1),
        unit: 'ms',
      },
      { metric: 'lost', value: lost, unit: 'msg', target: '0', pass: lost === 0 },
      { metric: 'sent twice', value: duplicates, unit: 'msg', target: '0', pass: duplicates === 0 },
      { metric: 'relay retries and error lines', value: retries + trouble, unit: 'msg' },
      { metric: 'emulator calls per message', value: round(totalCalls, 2), unit: 'calls' },
      ...Object.entries(burst.cpuSplit).map(([part, ms]) => ({
        metric: `CPU per message: ${CPU_PARTS[part as keyof typeof burst.cpuSplit]}`,
        value: round(ms, 1),
        unit: 'ms',
      })),
    ],
    notes: [
      `queue.batchSize ${config.queue.batchSize}; the shipped queue.maxConcurrency ${config.queue.maxConcurrency} caps the relay at ${config.queue.batchSize * config.queue.maxConcurrency} mails in flight`,
      `calls per message: ${Object.entries(callsPerMessage)
        .map(([call, n]) => `${call} ${round(n, 2)}`)
        .join(', ')}`,
      'the relay runs in its own process; the CPU figure adds it to this process (bench clients, API, emulators): it bounds delivered/s at (cores x 1000 / ms)',
      'the relay process does not emulate SES delivery events, so the "delivered" status write of npm start (one more UpdateItem per message) is not counted',
    ],
  };
}

const CPU_PARTS = {
  relay: 'relay process',
  dynamodb: 'DynamoDB emulator (dynalite) thread, busy',
  sqs: 'SQS emulator (fauxqs) thread, busy',
  ses: 'SES emulator thread, busy',
  api: 'API and bench clients (the rest of this process)',
} as const;

/** fetch, with the underlying cause in the message when the connection failed. */
async function fetchOnce(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : '';
    throw new Error(
      `submission failed: ${error instanceof Error ? error.message : String(error)} (${cause})`,
    );
  }
}

function perMessage(
  before: Record<string, number>,
  after: Record<string, number>,
  messages: number,
): Record<string, number> {
  return Object.fromEntries(
    Object.entries(after)
      .map(([call, n]): [string, number] => [call, (n - (before[call] ?? 0)) / messages])
      .filter(([, n]) => n > 0)
      .sort((a, b) => b[1] - a[1]),
  );
}

function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

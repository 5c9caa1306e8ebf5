import type { Log } from '../functions/core/ports';
import { localConfig, readPostroomContext } from '../local/config-file';
import { startLocalStack } from '../local/stack';
import { type BenchSection, percentile, sleep, waitFor } from './section';

/**
 * The local pipeline end to end (HTTP -> send handler -> SQS -> local event source -> relay -> SES
 * emulator), with the shipped configuration. Latency runs from the start of the HTTP request to the
 * relay's "job sent" (the provider accepted the mail and the claim is completed), seen through the Log port.
 */

const PACED_RATE = 100;
const PACED_COUNT = 1_000;
const BURST_COUNT = 2_000;
const BURST_CLIENTS = 32;

/** Records when each job was first sent, and counts what should never happen. */
class SentClock implements Log {
  readonly sentAt = new Map<string, number>();
  duplicates = 0;
  failures = 0;
  info(_message: string, attributes: Record<string, unknown> = {}) {
    if (attributes.outcome === 'sent' && typeof attributes.jobId === 'string') {
      if (this.sentAt.has(attributes.jobId)) this.duplicates += 1;
      else this.sentAt.set(attributes.jobId, performance.now());
    }
  }
  warn(_message: string, attributes: Record<string, unknown> = {}) {
    if (attributes.outcome === 'dead-lettered' || attributes.outcome === 'retry') this.failures += 1;
  }
  error() {
    this.failures += 1;
  }
}

export async function run(): Promise<BenchSection> {
  // The shipped forms limit each client IP; every bench request comes from one loopback address, and the
  // bench measures the pipeline, not the limiter, so the limits are lifted here. The duplicate-content
  // guard stays: each bench message is different.
  const shipped = readPostroomContext('cdk.json') as { forms: Array<Record<string, unknown>> };
  const config = localConfig(
    { ...shipped, forms: shipped.forms.map((form) => ({ ...form, rateLimit: {} })) },
    {},
  );
  const log = new SentClock();
  const stack = await startLocalStack({ config, ports: { api: 0, ses: 0, sqs: 0, dynamodb: 0 }, log });
  const url = `${stack.apiUrl}/v1/forms/contact`;
  let sequence = 0;
  const submit = async (): Promise<{ id: string; startedAt: number }> => {
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
    return { id: ((await response.json()) as { id: string }).id, startedAt };
  };

  try {
    // Warm-up: first requests pay for module loading and connection set-up.
    for (let i = 0; i < 50; i++) await submit();
    await waitFor(() => log.sentAt.size >= 50, 20_000);

    // 1. Latency at a steady rate, each submission on its own schedule (open loop).
    const callsBefore = await stack.emulatorCalls();
    const paced: Array<{ id: string; startedAt: number }> = [];
    const start = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < PACED_COUNT; i++) {
      const wait = start + (i * 1000) / PACED_RATE - performance.now();
      if (wait > 0) await sleep(wait);
      pending.push(submit().then((s) => void paced.push(s)));
    }
    await Promise.all(pending);
    const pacedDone = await waitFor(() => paced.every((s) => log.sentAt.has(s.id)), 60_000);
    const callsPerMessage = perMessage(callsBefore, await stack.emulatorCalls(), PACED_COUNT);
    const latencies = paced
      .map((s) => (log.sentAt.get(s.id) ?? Number.NaN) - s.startedAt)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);

    // 2. Sustained throughput: submissions from concurrent clients while the relay drains the queue.
    const burst: string[] = [];
    const burstStart = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: BURST_CLIENTS }, async () => {
        while (next < BURST_COUNT) {
          next += 1;
          burst.push((await submit()).id);
        }
      }),
    );
    const acceptedAt = performance.now();
    const burstDone = await waitFor(() => burst.every((id) => log.sentAt.has(id)), 120_000);
    const lastSent = Math.max(...burst.map((id) => log.sentAt.get(id) ?? Number.NaN));
    const lost =
      burst.filter((id) => !log.sentAt.has(id)).length + paced.filter((s) => !log.sentAt.has(s.id)).length;
    const p99 = percentile(latencies, 99);
    const delivered = BURST_COUNT / ((lastSent - burstStart) / 1000);
    const totalCalls = Object.values(callsPerMessage).reduce((sum, n) => sum + n, 0);

    return {
      title: 'Local pipeline: HTTP -> send -> SQS (fauxqs) -> event source -> relay -> SES emulator',
      rows: [
        {
          metric: `submit-to-sent p50 @ ${PACED_RATE} msg/s`,
          value: round(percentile(latencies, 50)),
          unit: 'ms',
        },
        {
          metric: `submit-to-sent p99 @ ${PACED_RATE} msg/s`,
          value: round(p99),
          unit: 'ms',
          target: '<= 500',
          pass: pacedDone && p99 <= 500,
        },
        {
          metric: `accepted (202) per second, ${BURST_CLIENTS} clients`,
          value: round((BURST_COUNT * 1000) / (acceptedAt - burstStart)),
          unit: 'msg/s',
        },
        {
          metric: `delivered per second, ${BURST_COUNT.toLocaleString('en')} messages`,
          value: round(delivered),
          unit: 'msg/s',
          target: '>= 300',
          pass: burstDone && delivered >= 300,
        },
        { metric: 'lost', value: lost, unit: 'msg', target: '0', pass: lost === 0 },
        { metric: 'sent twice', value: log.duplicates, unit: 'msg', target: '0', pass: log.duplicates === 0 },
        { metric: 'relay retries and failures', value: log.failures, unit: 'msg' },
        { metric: 'emulator calls per message', value: round(totalCalls, 2), unit: 'calls' },
      ],
      notes: [
        `queue.batchSize ${config.queue.batchSize}, queue.maxConcurrency ${config.queue.maxConcurrency}`,
        `calls per message: ${Object.entries(callsPerMessage)
          .map(([call, n]) => `${call} ${round(n, 2)}`)
          .join(', ')}`,
      ],
    };
  } finally {
    await stack.stop();
  }
}

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

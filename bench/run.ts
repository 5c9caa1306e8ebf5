import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { Log } from '../functions/core/ports';
import { localConfig, readPostroomContext } from '../local/config-file';
import { startLocalStack } from '../local/stack';

/**
 * `npm run bench`: the local pipeline end to end (HTTP -> send handler -> SQS -> relay -> SES emulator),
 * with the shipped configuration. Latency is measured from the start of the HTTP request to the relay's
 * "job sent" (the provider accepted the mail and the claim is completed), observed through the Log port.
 */

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

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

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return true;
}

async function main() {
  // The shipped forms limit each client IP; every bench request comes from one loopback address, and the
  // bench measures the pipeline, not the limiter, so the limits are lifted here.
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
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `Bench ${sequence}`,
        email: `bench${sequence}@example.com`,
        message: 'Benchmark message',
      }),
    });
    if (response.status !== 202) throw new Error(`submission answered ${response.status}`);
    return { id: ((await response.json()) as { id: string }).id, startedAt };
  };

  try {
    // Warm-up: first requests pay for module loading and connection set-up.
    for (let i = 0; i < 20; i++) await submit();
    await waitFor(() => log.sentAt.size >= 20, 10_000);

    // 1. Latency at a steady 50 submissions per second.
    const rate = 50;
    const paced: Array<{ id: string; startedAt: number }> = [];
    const pacedCount = 500;
    const start = performance.now();
    const pending: Promise<void>[] = [];
    for (let i = 0; i < pacedCount; i++) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      pending.push(submit().then((s) => void paced.push(s)));
    }
    await Promise.all(pending);
    const pacedDone = await waitFor(() => paced.every((s) => log.sentAt.has(s.id)), 30_000);
    const latencies = paced
      .map((s) => (log.sentAt.get(s.id) ?? Number.NaN) - s.startedAt)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);

    // 2. Sustained throughput: 1,000 submissions from 20 concurrent clients.
    const burstCount = 1_000;
    const burst: string[] = [];
    const burstStart = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < burstCount) {
          next += 1;
          burst.push((await submit()).id);
        }
      }),
    );
    const acceptedAt = performance.now();
    const burstDone = await waitFor(() => burst.every((id) => log.sentAt.has(id)), 60_000);
    const lastSent = Math.max(...burst.map((id) => log.sentAt.get(id) ?? Number.NaN));
    const lost =
      burst.filter((id) => !log.sentAt.has(id)).length + paced.filter((s) => !log.sentAt.has(s.id)).length;

    const results = {
      machine: { cpus: cpus().length, node: process.version },
      config: { batchSize: config.queue.batchSize, maxConcurrency: config.queue.maxConcurrency },
      latency: {
        rate,
        messages: latencies.length,
        p50Ms: Math.round(percentile(latencies, 50)),
        p99Ms: Math.round(percentile(latencies, 99)),
        maxMs: Math.round(latencies[latencies.length - 1] ?? Number.NaN),
        allDelivered: pacedDone,
      },
      throughput: {
        messages: burstCount,
        acceptedPerSecond: Math.round(burstCount / ((acceptedAt - burstStart) / 1000)),
        deliveredPerSecond: Math.round(burstCount / ((lastSent - burstStart) / 1000)),
        allDelivered: burstDone,
      },
      lost,
      duplicates: log.duplicates,
      relayFailures: log.failures,
    };

    const rows: Array<[string, string]> = [
      ['submit-to-sent latency p50 @ 50 msg/s', `${results.latency.p50Ms} ms`],
      ['submit-to-sent latency p99 @ 50 msg/s', `${results.latency.p99Ms} ms`],
      ['submit-to-sent latency max @ 50 msg/s', `${results.latency.maxMs} ms`],
      ['accepted (HTTP 202) per second, 20 clients', `${results.throughput.acceptedPerSecond}`],
      ['delivered per second, 1,000 messages', `${results.throughput.deliveredPerSecond}`],
      ['lost / duplicates / relay failures', `${lost} / ${log.duplicates} / ${log.failures}`],
    ];
    const width = Math.max(...rows.map(([name]) => name.length));
    process.stdout.write(`\nPostroom local pipeline (${cpus().length} cores, Node ${process.version})\n`);
    for (const [name, value] of rows) process.stdout.write(`  ${name.padEnd(width)}  ${value}\n`);
    mkdirSync('bench/results', { recursive: true });
    writeFileSync('bench/results/pipeline.json', `${JSON.stringify(results, null, 2)}\n`);
    process.stdout.write('\nWritten to bench/results/pipeline.json\n');
    if (lost > 0 || log.duplicates > 0) process.exitCode = 1;
  } finally {
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});

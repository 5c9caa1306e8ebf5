import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import { Webhook } from 'standardwebhooks';
import { createSqsClient } from '../functions/adapters/sqs-client';
import { SqsWebhookQueue } from '../functions/adapters/sqs-webhook-queue';
import { parseConfig } from '../functions/core/config/config';
import type { Log } from '../functions/core/ports';
import type { WebhookMessage } from '../functions/core/webhooks/webhook-event';
import { contextWithoutRateLimits } from '../local/config-file';
import { LOCAL_HOST } from '../local/emulators';
import { startLocalStack } from '../local/stack';
import { type BenchSection, percentile, sleep, waitFor } from './section';

/**
 * Webhooks on the local stack: the real dispatcher (batches of 10, 2 at a time, as the webhooks construct
 * sets its event source) posting signed events to a receiver on 127.0.0.1 that answers 204.
 * - Throughput: THROUGHPUT_EVENTS `webhook.test` messages put on the webhook queue at once, until the receiver
 *   has each: events per second through queue, dispatcher, signature, HTTP and the attempt records.
 * - Added latency: form submissions on a fixed schedule; from the 202 (submission accepted) to the
 *   `submission.received` webhook at the receiver. What a form owner's CRM waits, beyond the visitor's answer.
 * The receiver checks every signature with standardwebhooks, as an owner's would (the bench counts a failure).
 */

const THROUGHPUT_EVENTS = 1_000;
const LATENCY_COUNT = 100;
// Below the dispatcher's throughput: the latency of an idle pipeline, not of a queue that backs up.
const LATENCY_RATE = 5;

const quietLog: Log = { info: () => {}, warn: () => {}, error: () => {} };

class Receiver {
  readonly arrivedAt = new Map<string, number>();
  /** Arrivals by submission id, for the latency part. */
  readonly submissionAt = new Map<string, number>();
  badSignatures = 0;
  duplicates = 0;
  private server: Server | undefined;
  url = '';

  constructor(private readonly webhook: Webhook) {}

  async start(): Promise<void> {
    const server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const at = performance.now();
        const id = String(request.headers['webhook-id']);
        try {
          const event = this.webhook.verify(Buffer.concat(chunks).toString('utf8'), {
            'webhook-id': id,
            'webhook-timestamp': String(request.headers['webhook-timestamp']),
            'webhook-signature': String(request.headers['webhook-signature']),
          }) as { type: string; data: { submissionId?: string } };
          if (this.arrivedAt.has(id)) this.duplicates += 1;
          else this.arrivedAt.set(id, at);
          if (event.type === 'submission.received' && event.data.submissionId)
            this.submissionAt.set(event.data.submissionId, at);
        } catch {
          this.badSignatures += 1;
        }
        response.writeHead(204).end();
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, LOCAL_HOST, resolve));
    this.url = `http://${LOCAL_HOST}:${(server.address() as AddressInfo).port}/hooks`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

export async function run(): Promise<BenchSection> {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const receiver = new Receiver(new Webhook(secret));
  await receiver.start();
  const config = parseConfig({
    ...contextWithoutRateLimits(),
    webhooks: [
      {
        id: 'bench',
        url: receiver.url,
        events: ['submission.received'],
        secret: 'postroom/webhooks/bench',
      },
    ],
  });
  const stack = await startLocalStack({
    config,
    log: quietLog,
    ports: { api: 0, ses: 0, sqs: 0, dynamodb: 0 },
    webhookSecrets: { bench: secret },
  });
  const sqs = createSqsClient({
    region: config.region,
    endpoints: { sqs: stack.endpoints.sqs },
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  try {
    const queue = new SqsWebhookQueue(sqs, stack.webhooks?.queueUrl ?? '');
    const message = (): WebhookMessage => ({
      v: 1,
      endpointId: 'bench',
      id: `msg_${randomUUID().replaceAll('-', '')}`,
      type: 'webhook.test',
      timestamp: new Date().toISOString(),
      data: { endpointId: 'bench', message: 'bench' },
    });
    // Warm-up: module loading, the first connections.
    const warm = Array.from({ length: 50 }, message);
    await queue.enqueue(warm);
    await waitFor(() => warm.every((m) => receiver.arrivedAt.has(m.id)), 20_000);

    // Throughput
    const burst = Array.from({ length: THROUGHPUT_EVENTS }, message);
    const start = performance.now();
    await queue.enqueue(burst);
    const allArrived = await waitFor(() => burst.every((m) => receiver.arrivedAt.has(m.id)), 120_000);
    const last = Math.max(...burst.map((m) => receiver.arrivedAt.get(m.id) ?? Number.NaN));
    const perSecond = allArrived ? Math.round(THROUGHPUT_EVENTS / ((last - start) / 1000)) : 0;

    // Added latency, submission accepted to webhook received
    const url = `${stack.apiUrl}/v1/forms/contact`;
    const accepted = new Map<string, number>();
    const pending: Array<Promise<void>> = [];
    const paced = performance.now();
    for (let i = 0; i < LATENCY_COUNT; i++) {
      const wait = paced + (i * 1000) / LATENCY_RATE - performance.now();
      if (wait > 0) await sleep(wait);
      pending.push(
        fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', connection: 'close' },
          body: JSON.stringify({
            name: `Bench ${i}`,
            email: `bench${i}@example.com`,
            message: `Webhook bench ${i} ${randomUUID()}`,
          }),
        }).then(async (response) => {
          const at = performance.now();
          if (response.status !== 202) throw new Error(`submission answered ${response.status}`);
          accepted.set(((await response.json()) as { id: string }).id, at);
        }),
      );
    }
    await Promise.all(pending);
    await waitFor(() => [...accepted.keys()].every((id) => receiver.submissionAt.has(id)), 60_000);
    const latencies = [...accepted]
      .map(([id, at]) => (receiver.submissionAt.get(id) ?? Number.NaN) - at)
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const lost = accepted.size - latencies.length;

    return {
      title: 'Webhooks on the local stack (real dispatcher, loopback receiver verifying signatures)',
      rows: [
        {
          metric: `dispatcher throughput (${THROUGHPUT_EVENTS.toLocaleString('en-US')} events)`,
          value: perSecond,
          unit: 'events/s',
        },
        {
          metric: 'submission accepted -> webhook received, p50',
          value: round(percentile(latencies, 50)),
          unit: 'ms',
        },
        {
          metric: 'submission accepted -> webhook received, p99',
          value: round(percentile(latencies, 99)),
          unit: 'ms',
        },
        {
          metric: 'webhooks lost, unverifiable or received twice',
          value: lost + receiver.badSignatures + receiver.duplicates + (allArrived ? 0 : 1),
          unit: '',
          target: '0',
          pass: lost + receiver.badSignatures + receiver.duplicates === 0 && allArrived,
        },
      ],
      notes: [
        `load average (1 min) at the end: ${loadavg()[0]?.toFixed(1)} on this machine's cores; the figures scale with what else runs`,
        `throughput: ${THROUGHPUT_EVENTS} webhook.test events queued at once, timed to the last arrival; the dispatcher takes batches of 10, 2 batches at a time (the construct's event source), each event also written to the table (attempt record, endpoint state)`,
        `latency: ${LATENCY_COUNT} form submissions at ${LATENCY_RATE}/s while the relay sends their mail; from the 202 to the webhook's arrival, over the local SQS long poll`,
      ],
    };
  } finally {
    sqs.destroy();
    await stack.stop();
    await receiver.stop();
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

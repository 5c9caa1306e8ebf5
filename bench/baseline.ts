import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import nodemailer from 'nodemailer';
import { SMTPServer } from 'smtp-server';
import { startStackWithRelayProcess } from '../chaos/worker-process';
import { contextWithoutRateLimits } from '../local/config-file';
import { type BenchSection, percentile, sleep, waitFor } from './section';

/**
 * The same contact form handled the common way: a small node:http server that sends the mail through SMTP
 * inside the request (nodemailer, pooled, STARTTLS and AUTH, to an smtp-server peer on loopback) and
 * answers when the relay has accepted it. Postroom answers once the mail is queued. Both are measured at the
 * same steady rate in the same run; Postroom's accept latency is reported as a ratio to the baseline's.
 */

const RATE = 50;
const REQUESTS = 400;
const WARM_UP = 30;
const SLOW_PEER_MS = 150;
const CREDENTIALS = { user: 'bench', pass: 'bench-password' };

interface Latency {
  p50: number;
  p99: number;
  failed: number;
}

/** Posts `count` submissions to `url` on a fixed schedule and returns the accept latencies. */
async function measure(url: string, count: number, rate: number): Promise<Latency> {
  const latencies: number[] = [];
  let failed = 0;
  const post = async (i: number) => {
    const started = performance.now();
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: `Visitor ${i}`,
        email: `visitor${i}@example.com`,
        message: `Hello number ${i}`,
      }),
    }).catch(() => undefined);
    if (response === undefined || response.status >= 300) failed += 1;
    else latencies.push(performance.now() - started);
    await response?.arrayBuffer();
  };
  for (let i = 0; i < WARM_UP; i++) await post(i);
  latencies.length = 0;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    pending.push(post(WARM_UP + i));
  }
  await Promise.all(pending);
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), failed };
}

async function startSmtpPeer(answerAfterMs: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = new SMTPServer({
    secure: false,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth: (auth, _session, callback) =>
      auth.username === CREDENTIALS.user && auth.password === CREDENTIALS.pass
        ? callback(null, { user: auth.username })
        : callback(new Error('Invalid username or password')),
    onData: (stream, _session, callback) => {
      stream.on('data', () => {});
      stream.on('end', () => {
        if (answerAfterMs > 0) setTimeout(() => callback(), answerAfterMs);
        else callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** The baseline: validate, send through SMTP, answer 202. */
async function startSendInRequestServer(smtpPort: number): Promise<{ url: string; close(): Promise<void> }> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: smtpPort,
    // Enough pooled connections that a slow peer is not also a queue in front of it.
    pool: true,
    maxConnections: 50,
    maxMessages: Number.POSITIVE_INFINITY,
    auth: CREDENTIALS,
    tls: { rejectUnauthorized: false },
  });
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let form: { name?: unknown; email?: unknown; message?: unknown };
      try {
        form = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        response.writeHead(400).end();
        return;
      }
      if (typeof form.email !== 'string' || !form.email.includes('@') || typeof form.message !== 'string') {
        response.writeHead(422).end();
        return;
      }
      transport
        .sendMail({
          from: 'no-reply@example.com',
          to: 'owner@example.com',
          replyTo: form.email,
          subject: `New message from ${String(form.name)}`,
          text: form.message,
        })
        .then(
          (info) => {
            response.writeHead(202, { 'content-type': 'application/json' });
            response.end(JSON.stringify({ id: info.messageId }));
          },
          () => response.writeHead(502).end(),
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      transport.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

async function baseline(answerAfterMs: number): Promise<Latency> {
  const peer = await startSmtpPeer(answerAfterMs);
  const server = await startSendInRequestServer(peer.port);
  try {
    return await measure(server.url, REQUESTS, RATE);
  } finally {
    await server.close();
    await peer.close();
  }
}

/**
 * Postroom's accept latency, the relay in a process of its own. With `relayDuring` false the relay starts
 * only after the posts and drains the queue then, as on AWS, where it, the table's writes for
 * it and the provider run on other machines than the API; `sent` then counts what it sent afterwards.
 */
async function postroom(relayDuring: boolean): Promise<Latency & { sent: number }> {
  const completed = new Set<string>();
  const { stack, relay, stop } = await startStackWithRelayProcess({
    raw: contextWithoutRateLimits(),
    onCompleted: (jobId) => completed.add(jobId),
    startRelay: relayDuring,
  });
  try {
    const latency = await measure(`${stack.apiUrl}/v1/forms/contact`, REQUESTS, RATE);
    if (!relayDuring) {
      const accepted = WARM_UP + REQUESTS - latency.failed;
      await relay.start();
      await waitFor(() => completed.size >= accepted, 60_000);
    }
    return { ...latency, sent: completed.size };
  } finally {
    await stop();
  }
}

export async function run(): Promise<BenchSection> {
  const instant = await baseline(0);
  const ours = await postroom(true);
  const apart = await postroom(false);
  const slow = await baseline(SLOW_PEER_MS);
  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const ms = (value: number) => Math.round(value * 10) / 10;
  const p50Ratio = ratio(ours.p50, instant.p50);
  const p99Ratio = ratio(ours.p99, instant.p99);
  return {
    title: `Baseline: the same form sent through SMTP inside the request, ${REQUESTS} posts at ${RATE}/s`,
    rows: [
      { metric: 'baseline accept p50, instant SMTP peer', value: ms(instant.p50), unit: 'ms' },
      { metric: 'baseline accept p99, instant SMTP peer', value: ms(instant.p99), unit: 'ms' },
      { metric: 'postroom accept p50 (202, queued)', value: ms(ours.p50), unit: 'ms' },
      { metric: 'postroom accept p99 (202, queued)', value: ms(ours.p99), unit: 'ms' },
      {
        metric: 'postroom / baseline p50, instant peer',
        value: p50Ratio,
        unit: 'x',
        target: '<= 1.0',
        pass: p50Ratio <= 1,
      },
      {
        metric: 'postroom / baseline p99, instant peer',
        value: p99Ratio,
        unit: 'x',
        target: '<= 1.0',
        pass: p99Ratio <= 1,
      },
      {
        metric: 'postroom accept p50, relay started after the posts',
        value: ms(apart.p50),
        unit: 'ms',
      },
      {
        metric: 'postroom accept p99, relay started after the posts',
        value: ms(apart.p99),
        unit: 'ms',
      },
      {
        metric: 'postroom / baseline p50, instant peer, relay started after the posts',
        value: ratio(apart.p50, instant.p50),
        unit: 'x',
      },
      {
        metric: 'accepted before the relay started and not sent by it',
        value: WARM_UP + REQUESTS - apart.failed - apart.sent,
        unit: 'msg',
        target: '0',
        pass: WARM_UP + REQUESTS - apart.failed - apart.sent === 0,
      },
      { metric: `baseline accept p50, peer taking ${SLOW_PEER_MS} ms`, value: ms(slow.p50), unit: 'ms' },
      { metric: `baseline accept p99, peer taking ${SLOW_PEER_MS} ms`, value: ms(slow.p99), unit: 'ms' },
      {
        metric: `postroom / baseline p50, ${SLOW_PEER_MS} ms peer`,
        value: ratio(ours.p50, slow.p50),
        unit: 'x',
      },
      {
        metric: `postroom / baseline p99, ${SLOW_PEER_MS} ms peer`,
        value: ratio(ours.p99, slow.p99),
        unit: 'x',
      },
      {
        metric: 'failed requests (baseline, postroom twice, baseline slow)',
        value: instant.failed + ours.failed + apart.failed + slow.failed,
        unit: 'req',
        target: '0',
        pass: instant.failed + ours.failed + apart.failed + slow.failed === 0,
      },
    ],
    notes: [
      'baseline: node:http + nodemailer (pool of up to 50 connections, STARTTLS, AUTH) to smtp-server on loopback; answers after the SMTP relay accepts',
      'postroom: the local stack (send handler: duplicate guard, then status record and SQS enqueue together; emulators in worker threads), the relay draining in its own process',
      'relay started after the posts: as on AWS, where the relay, its table writes and the provider use other machines than the API; it drains the queue afterwards',
    ],
  };
}

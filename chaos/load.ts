import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Log } from '../functions/core/ports';
import { contextWithoutRateLimits } from '../local/config-file';
import { percentile, type Submission } from './submissions';
import { startStackWithRelayProcess } from './worker-process';

/**
 * `npm run load`: the API at a fixed request rate against the local stack (in this process), open loop:
 * requests leave on schedule whether or not earlier ones were answered, so a slow API shows as latency
 * instead of a lower rate. Half contact forms, half API sends. Then every 202'd id must reach the SES
 * emulator. Exits 1 on any 5xx or lost mail.
 *
 *   npm run load -- --rate 200 --duration 60
 */
const { values } = parseArgs({
  options: {
    rate: { type: 'string', default: '200' },
    duration: { type: 'string', default: '60' },
    'drain-timeout': { type: 'string', default: '300' },
  },
});
const rate = Number(values.rate);
const durationSeconds = Number(values.duration);
const drainTimeoutMs = Number(values['drain-timeout']) * 1000;
if (!(rate > 0) || !(durationSeconds > 0) || !(drainTimeoutMs >= 0)) {
  throw new Error('--rate, --duration and --drain-timeout must be positive numbers');
}

const configInput = contextWithoutRateLimits();
const apiKey = `pr_load_${randomBytes(16).toString('hex')}`;
let serverErrors = 0;
const errorLines: Record<string, number> = {};
const log: Log = {
  info: () => {},
  warn: () => {},
  error: (message, attributes) => {
    serverErrors += 1;
    const line = `${message}: ${String(attributes?.error ?? '')}`;
    errorLines[line] = (errorLines[line] ?? 0) + 1;
  },
};

// Three processes, as on AWS the API, the relay and the callers are separate: this one (emulators and the
// API), the relay (local/relay-worker.ts) and the client (load-client.ts). On AWS the relay runs on other
// machines than the API; here they share the cores, so the relay gets the lowest priority: the API answers
// first, the queue holds what the relay has not sent yet, and the relay drains it when the load ends.
const { stack, relay, stop } = await startStackWithRelayProcess({
  raw: configInput,
  log,
  apiKey,
  relayPriority: 19,
});

const count = Math.round(rate * durationSeconds);
console.log(
  `load: ${count} requests at ${rate}/s for ${durationSeconds} s, open loop, against ${stack.apiUrl}`,
);
console.log('load: the forms rate limits (rateLimit.perIp, perForm) are lifted for this run');
console.log('load: the relay runs at the lowest CPU priority, so the queue absorbs what it cannot send yet');
const runId = randomUUID().slice(0, 8);
const started = performance.now();
const submissions = await runClient(stack.apiUrl, runId);
const sendSeconds = (performance.now() - started) / 1000;

const statuses: Record<string, number> = {};
for (const s of submissions) statuses[String(s.status)] = (statuses[String(s.status)] ?? 0) + 1;
const latencies = submissions.map((s) => s.latencyMs ?? 0).sort((a, b) => a - b);
const fiveHundreds = submissions.filter((s) => (s.status ?? 0) >= 500 || s.status === 0).length;
const accepted = submissions.filter((s) => s.id !== undefined);

// The emulator's store drops headers, so mail is matched by the unique marker each body carries.
const waiting = new Set(accepted.map((s) => s.marker));
const markerPattern = new RegExp(`\\b${runId}-\\d+\\b`);
const deadline = Date.now() + drainTimeoutMs;
const drainStarted = Date.now();
while (waiting.size > 0 && Date.now() < deadline) {
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const response = await fetch(`${stack.sesUrl}/store`);
  const { emails } = (await response.json()) as { emails: Array<{ body?: { text?: string } }> };
  for (const email of emails) {
    const marker = markerPattern.exec(email.body?.text ?? '')?.[0];
    if (marker) waiting.delete(marker);
  }
}
await stop();
const errors: Record<string, number> = {};
for (const s of submissions) if (s.error) errors[s.error] = (errors[s.error] ?? 0) + 1;

const lost = waiting.size;
console.log(
  [
    `load: ${count} requests sent on schedule over ${durationSeconds} s; the last answer came after ${sendSeconds.toFixed(1)} s`,
    `  statuses ${JSON.stringify(statuses)}, 5xx or no answer ${fiveHundreds}`,
    `  latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${(latencies.at(-1) ?? 0).toFixed(1)} ms`,
    `  accepted ${accepted.length}, delivered ${accepted.length - lost}, lost ${lost}; queue drained ${((Date.now() - drainStarted) / 1000).toFixed(1)} s after the last request`,
    `  errors without an answer ${JSON.stringify(errors)}; API error log lines ${serverErrors} ${JSON.stringify(errorLines)}; relay retries ${relay.observations.retries}`,
  ].join('\n'),
);
process.exit(fiveHundreds === 0 && lost === 0 && accepted.length === count ? 0 : 1);

async function runClient(apiUrl: string, run: string): Promise<Submission[]> {
  const entry = fileURLToPath(new URL('./load-client.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      entry,
      '--api',
      apiUrl,
      '--rate',
      String(rate),
      '--count',
      String(count),
      '--run',
      run,
    ],
    { env: { ...process.env, POSTROOM_API_KEY: apiKey }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const chunks: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`the load client exited with ${code}`);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as Submission[];
}

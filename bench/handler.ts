import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { buildSync } from 'esbuild';
import { shippedTemplates } from '../functions/adapters/function-env';
import { type MailJob, serializeMailJob } from '../functions/core/mail/mail-job';
import type { Metrics } from '../functions/core/metrics';
import type { Log, MailQueue } from '../functions/core/ports';
import { renderReference } from '../functions/core/templates/render-request';
import { createSendHandler } from '../functions/send/app';
import { REPO_ROOT } from '../infra/paths';
import { compileTemplates, loadTemplates, TEMPLATES_MODULE, templatesModule } from '../infra/templates';
import { contextWithoutRateLimits, localConfig } from '../local/config-file';
import {
  MemoryApiKeyStore,
  MemoryGuardStore,
  MemoryMessageStore,
  MemorySuppressionList,
} from '../test/fakes/ports';
import { formPostEvent } from '../test/support/api-gateway';
import { type BenchSection, percentile, printSection } from './section';

/**
 * The send function's hot path without the network: the handler as Lambda runs it (middy, routing, body
 * parsing, validation, guards, rendering the MailJob) with in-memory ports, the shipped configuration and
 * its rate limits lifted (every request comes from one address). Requests run one at a time, as a Lambda
 * instance serves them, on one core when `taskset` can pin the process.
 */

const WARM_UP = 3_000;
const REQUESTS = 20_000;
/**
 * Fresh processes measured, each its own JIT and heap: one process's rate moved by a quarter from run to run
 * on the same machine and code, the median of several much less.
 */
const PROCESSES = 5;
const TARGET_PER_SECOND = 20_000;
const TARGET_P99_MS = 0.5;
/** Rendering one shipped template with its preview data (variable check included), per send. */
const TARGET_RENDER_P99_MS = 0.2;
const RENDERS = 20_000;

interface Measurement {
  requests: number;
  seconds: number;
  latenciesMs: number[];
  pinnedCore?: number;
}

const silentLog: Log = { info() {}, warn() {}, error() {} };

/** Serializes each job as the SQS adapter does (the text the producer measured), and counts it. */
class SerializingQueue implements MailQueue {
  jobs = 0;
  bytes = 0;

  async enqueue(job: MailJob): Promise<void> {
    this.bytes += serializeMailJob(job).length;
    this.jobs += 1;
  }

  async ping(): Promise<void> {}
}
const silentMetrics: Metrics = { count() {}, duration() {} };

function submission(sequence: number): APIGatewayProxyEvent {
  const body = JSON.stringify({
    name: `Bench ${sequence}`,
    email: `bench${sequence}@example.com`,
    // Distinct content each time: the shipped form drops a repeated message as a duplicate.
    message: `Benchmark message ${sequence}, asking about the opening hours.`,
  });
  return formPostEvent({
    contentType: 'application/json',
    body,
    sourceIp: '198.51.100.7',
    headers: { 'User-Agent': 'postroom-bench' },
  });
}

/** Runs the requests in this process and returns each one's latency. */
export async function measure(requests = REQUESTS, warmUp = WARM_UP): Promise<Measurement> {
  // Relative to the working directory: the child runs from a bundle outside the repository.
  const config = localConfig(contextWithoutRateLimits(), {});
  const queue = new SerializingQueue();
  const handler = createSendHandler({
    config,
    queue,
    clock: { now: () => Date.now() },
    newId: randomUUID,
    log: silentLog,
    metrics: silentMetrics,
    guards: new MemoryGuardStore(),
    apiKeys: new MemoryApiKeyStore(),
    messages: new MemoryMessageStore(),
    suppression: new MemorySuppressionList(),
    // Written beside this bundle by measureBundled, as the build writes it beside the function's index.mjs.
    templates: shippedTemplates(import.meta.url),
  });
  const context = { awsRequestId: 'bench', functionName: 'postroom-send' } as Context;
  // Events are built before timing: API Gateway, not the function, pays for them.
  const events = Array.from({ length: warmUp + requests }, (_, sequence) => submission(sequence));
  const latenciesMs = new Array<number>(requests);
  let index = 0;
  for (; index < warmUp; index++) await handler(events[index] as APIGatewayProxyEvent, context);
  const started = performance.now();
  for (let i = 0; i < requests; i++, index++) {
    const before = performance.now();
    const response = await handler(events[index] as APIGatewayProxyEvent, context);
    latenciesMs[i] = performance.now() - before;
    if (response.statusCode !== 202)
      throw new Error(`submission answered ${response.statusCode}: ${response.body}`);
  }
  const seconds = (performance.now() - started) / 1000;
  if (queue.jobs !== warmUp + requests) throw new Error(`queued ${queue.jobs} jobs`);
  return { requests, seconds, latenciesMs };
}

/**
 * Measures in child processes running this module bundled and minified as the function is (tsx's loader
 * and its helpers would otherwise be measured too), pinned to the last core when `taskset` is installed.
 */
function measureBundled(): Measurement[] {
  const workDir = mkdtempSync(path.join(tmpdir(), 'postroom-handler-bench-'));
  try {
    const outfile = path.join(workDir, 'handler.mjs');
    buildSync({
      entryPoints: [fileURLToPath(import.meta.url)],
      outfile,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      minify: true,
      mainFields: ['module', 'main'],
      banner: {
        js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
      },
      logLevel: 'warning',
    });
    writeFileSync(path.join(workDir, TEMPLATES_MODULE), templatesModule(compileTemplates()));
    const taskset = ['/usr/bin/taskset', '/bin/taskset'].find((file) => existsSync(file));
    const core = cpus().length - 1;
    const node = [process.execPath, outfile, '--measure'];
    const [command, ...args] = taskset === undefined ? node : [taskset, '-c', String(core), ...node];
    return Array.from({ length: PROCESSES }, () => {
      const child = spawnSync(command as string, args, {
        cwd: REPO_ROOT,
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      });
      if (child.status !== 0) throw new Error(`the measurement failed: ${child.stderr.slice(-2_000)}`);
      const measurement = JSON.parse(child.stdout) as Measurement;
      return taskset === undefined ? measurement : { ...measurement, pinnedCore: core };
    });
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

/**
 * The render a templated send adds to the handler: the variable check and the three precompiled templates
 * (subject, HTML, text), for each shipped template with its preview data, after a warm-up.
 */
async function measureRenders(): Promise<Array<{ id: string; p50: number; p99: number }>> {
  const sources = compileTemplates();
  const templates = await loadTemplates(sources);
  return sources.map((source) => {
    const reference = { id: source.id, variables: source.declaration.preview };
    const latencies: number[] = [];
    for (let i = 0; i < WARM_UP + RENDERS; i++) {
      const start = performance.now();
      const rendered = renderReference(templates, reference);
      const elapsed = performance.now() - start;
      if (!rendered.ok) throw new Error(`${source.id} does not render its preview`);
      if (i >= WARM_UP) latencies.push(elapsed);
    }
    latencies.sort((a, b) => a - b);
    return { id: source.id, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
  });
}

export async function run(): Promise<BenchSection> {
  const renders = await measureRenders();
  const results = measureBundled();
  const result = results[0] as Measurement;
  // The rate is each process's median; latencies are pooled over all of them.
  const rates = results.map((each) => each.requests / each.seconds).sort((a, b) => a - b);
  const perSecond = Math.round(rates[Math.floor(rates.length / 2)] ?? Number.NaN);
  const sorted = results.flatMap((each) => each.latenciesMs).sort((a, b) => a - b);
  const p50 = percentile(sorted, 50);
  const p99 = percentile(sorted, 99);
  return {
    title: 'Send handler: JSON contact-form submissions, in process, in-memory ports',
    rows: [
      {
        metric: `requests per second (one at a time; median of ${PROCESSES} processes)`,
        value: perSecond,
        unit: 'req/s',
        target: `≥ ${TARGET_PER_SECOND.toLocaleString('en-US')}`,
        pass: perSecond >= TARGET_PER_SECOND,
      },
      { metric: 'latency p50', value: round3(p50), unit: 'ms' },
      {
        metric: 'latency p99',
        value: round3(p99),
        unit: 'ms',
        target: `≤ ${TARGET_P99_MS} ms`,
        pass: p99 <= TARGET_P99_MS,
      },
      { metric: 'latency max', value: round3(sorted[sorted.length - 1] ?? Number.NaN), unit: 'ms' },
      {
        metric: 'requests per second, slowest process',
        value: Math.round(rates[0] ?? Number.NaN),
        unit: 'req/s',
      },
      {
        metric: 'requests per second, fastest process',
        value: Math.round(rates[rates.length - 1] ?? Number.NaN),
        unit: 'req/s',
      },
      ...renders.map((render) => ({
        metric: `template render p99: ${render.id} (p50 ${round3(render.p50)} ms)`,
        value: round3(render.p99),
        unit: 'ms',
        target: `≤ ${TARGET_RENDER_P99_MS} ms`,
        pass: render.p99 <= TARGET_RENDER_P99_MS,
      })),
    ],
    notes: [
      `${PROCESSES} fresh processes, each ${result.requests.toLocaleString('en-US')} requests after ${WARM_UP.toLocaleString('en-US')} warm-up; ${
        result.pinnedCore === undefined
          ? 'not pinned (no taskset)'
          : `pinned to core ${result.pinnedCore} with taskset`
      }; bundled and minified as the function is; Node ${process.version}`,
      'shipped configuration with its rate limits lifted; Log and Metrics ports discard; each job is serialized as the SQS adapter does',
      `template renders: ${RENDERS.toLocaleString('en-US')} per shipped template with its preview data after ${WARM_UP.toLocaleString('en-US')} warm-up, in the bench's own process (compiled as synth compiles them, loaded as the function loads them)`,
    ],
  };
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
  if (process.argv.includes('--measure')) process.stdout.write(JSON.stringify(await measure()));
  else printSection(await run());
}

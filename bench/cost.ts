import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../functions/adapters/powertools-log';
import { createMetrics } from '../functions/adapters/powertools-metrics';
import { parseConfig } from '../functions/core/config/config';
import { METRIC, type Metrics, SERVICE } from '../functions/core/metrics';
import { MONITORING_LEVELS, type MonitoringLevel } from '../functions/core/monitoring';
import { accessLogFormat } from '../infra/constructs/api';
import { readPostroomContext } from '../local/config-file';
import { startLocalStack } from '../local/stack';
import { RELAY_CONTEXT } from '../test/fakes/lambda-context';
import type { BenchSection } from './section';

/**
 * What one message costs in requests, writes and log bytes, measured on the local stack with the shipped
 * configuration (test/fixtures/postroom.cdk.json, rate limits on): form POST -> send handler -> SQS -> relay
 * -> SES emulator -> delivery event -> events handler. DynamoDB writes and SQS requests are counted at the
 * emulators; log bytes are what Powertools writes for the functions' lines (with the Lambda context fields
 * injectLambdaContext adds on AWS), the EMF documents each level emits, Lambda's START/END/REPORT lines and
 * one API access log line in the stage's format. The cost model (infra/cost/model.ts) reads the result,
 * written to bench/measured/per-message.json, which is committed.
 */

const MESSAGES = 40;
const FIXTURE = fileURLToPath(new URL('../test/fixtures/postroom.cdk.json', import.meta.url));
export const MEASURED_FILE = fileURLToPath(new URL('./measured/per-message.json', import.meta.url));

// What Lambda writes around each invocation, in the shapes of the Lambda developer guide's examples
// (https://docs.aws.amazon.com/lambda/latest/dg/nodejs-logging.html), with this stack's figures.
const REQUEST_ID = RELAY_CONTEXT.awsRequestId;
const PLATFORM_LINES = [
  `START RequestId: ${REQUEST_ID} Version: $LATEST`,
  `END RequestId: ${REQUEST_ID}`,
  `REPORT RequestId: ${REQUEST_ID}\tDuration: 84.52 ms\tBilled Duration: 85 ms\tMemory Size: 512 MB\tMax Memory Used: 97 MB\t`,
];
const TRACED_REPORT_TAIL =
  'XRAY TraceId: 1-5e34a614-10bd2b6f1fb44f07bc535a1\tSegmentId: 3d7525a147e7e4\tSampled: true\t';

// The fields Powertools' injectLambdaContext adds to every line on AWS, with lengths of this stack's names.

const DYNAMODB_WRITES = ['PutItem', 'UpdateItem', 'DeleteItem'];
const DYNAMODB_READS = ['GetItem', 'Query'];

/** Which function emits a metric, for replaying each function's metrics into its own EMF document. */
function emitter(name: string): string {
  if ([METRIC.accepted, METRIC.rejected, METRIC.spamBlocked].includes(name as never)) return SERVICE.send;
  if (
    [
      METRIC.delivered,
      METRIC.bounced,
      METRIC.complained,
      METRIC.providerRejected,
      METRIC.eventDropped,
    ].includes(name as never)
  )
    return SERVICE.events;
  return SERVICE.relay;
}

type MetricCall =
  | { kind: 'count'; name: string; value: number; dimension?: object }
  | { kind: 'duration'; name: string; ms: number };

/** Counts everything written to stdout and stderr while `during` runs, in bytes, by line. */
async function capturedLines<T>(during: () => Promise<T>): Promise<{ result: T; lines: string[] }> {
  const chunks: string[] = [];
  const write = (original: typeof process.stdout.write) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      chunks.push(String(chunk));
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    }) as typeof original;
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = write(out);
  process.stderr.write = write(err);
  try {
    const result = await during();
    return {
      result,
      lines: chunks
        .join('')
        .split('\n')
        .filter((line) => line.trim() !== ''),
    };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

/** A form POST from its own loopback address, so the per-IP limit of the shipped form is not reached. */
function submit(url: URL, index: number): Promise<number> {
  const body = JSON.stringify({
    name: `Cost ${index}`,
    email: `cost${index}@example.com`,
    message: `Measuring what message ${index} costs`,
  });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress: `127.0.0.${10 + index}`,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export interface MeasuredPerMessage {
  readonly command: string;
  readonly measuredAt: string;
  readonly configuration: string;
  readonly messages: number;
  readonly perMessage: {
    readonly dynamodbWrites: number;
    readonly dynamodbReads: number;
    readonly dynamodbWritesByOperation: Record<string, number>;
    readonly sqsRequests: number;
    readonly sqsRequestsByOperation: Record<string, number>;
    readonly apiRequests: number;
    readonly invocations: Record<'send' | 'relay' | 'events', number>;
    readonly deliveryEvents: number;
    /** Bytes ingested into CloudWatch Logs per message, by source, at each level. */
    readonly logBytes: Record<MonitoringLevel, Record<string, number>>;
  };
}

export async function run(): Promise<BenchSection> {
  const raw = readPostroomContext(FIXTURE);
  const config = parseConfig(raw);
  const metricCalls: MetricCall[][] = [];
  let current: MetricCall[] = [];
  const recording: Metrics = {
    count: (name, value = 1, dimension) =>
      current.push({ kind: 'count', name, value, ...(dimension ? { dimension } : {}) }),
    duration: (name, ms) => current.push({ kind: 'duration', name, ms }),
  };
  const { logger, log } = createLogger('postroom');
  logger.addContext(RELAY_CONTEXT);

  const stack = await startLocalStack({
    config,
    ports: { api: 0, ses: 0, sqs: 0, dynamodb: 0 },
    log,
    metrics: recording,
  });
  let callsBefore: Record<string, number> = {};
  let callsAfter: Record<string, number> = {};
  let functionLines: string[] = [];
  try {
    const url = new URL(`${stack.apiUrl}/v1/forms/${config.forms[0]?.id ?? 'contact'}`);
    // One warm-up message: the first pays for table and queue set-up that a deployed stack has done.
    await submit(url, 0);
    await until(async () => (await sentCount(stack.sesUrl)) >= 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    callsBefore = await stack.emulatorCalls();
    const measured = await capturedLines(async () => {
      for (let i = 1; i <= MESSAGES; i++) {
        current = [];
        metricCalls.push(current);
        const status = await submit(url, i);
        if (status !== 202) throw new Error(`submission ${i} answered ${status}`);
        // One message at a time, through to its delivery event, so every call is this message's.
        await until(async () => (await sentCount(stack.sesUrl)) >= i + 1);
        await until(() => current.some((call) => call.name === METRIC.delivered));
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
    functionLines = measured.lines;
    callsAfter = await stack.emulatorCalls();
  } finally {
    await stack.stop();
  }

  const delta = (call: string) => ((callsAfter[call] ?? 0) - (callsBefore[call] ?? 0)) / MESSAGES;
  const byOperation = (emulator: string, operations: string[]) =>
    Object.fromEntries(
      operations.map((op) => [op, delta(`${emulator} ${op}`)] as const).filter(([, n]) => n > 0),
    );
  const writes = byOperation('dynamodb', DYNAMODB_WRITES);
  const reads = byOperation('dynamodb', DYNAMODB_READS);
  const sqsOps = byOperation('sqs', ['SendMessage', 'DeleteMessage', 'DeleteMessageBatch']);
  const relayInvocations = (sqsOps.DeleteMessage ?? 0) + (sqsOps.DeleteMessageBatch ?? 0);
  // One receive per relay invocation carries the message; the local poller's empty long polls stand for the
  // event source mapping's idle polls, which the model counts per month instead.
  const sqsRequests = Object.values(sqsOps).reduce((sum, n) => sum + n, 0) + relayInvocations;
  const deliveryEvents =
    functionLines.filter((line) => line.includes('"delivery event recorded"')).length / MESSAGES;
  const jsonLines = functionLines.filter((line) => line.startsWith('{') && !line.includes('"_aws"'));
  const functionBytes = bytes(jsonLines) / MESSAGES;
  const invocations = { send: 1, relay: relayInvocations, events: deliveryEvents };
  const invocationCount = invocations.send + invocations.relay + invocations.events;
  const platformBytes = bytes(PLATFORM_LINES) * invocationCount;
  const accessLogBytes = bytes([sampleAccessLogLine()]);
  const logBytes = Object.fromEntries(
    MONITORING_LEVELS.map((level) => {
      const emf = emfBytes(metricCalls, level) / MESSAGES;
      // At full every function starts traces, and a traced REPORT line names its trace.
      const traced = level === 'full' ? bytes([TRACED_REPORT_TAIL]) * invocationCount : 0;
      return [
        level,
        {
          functionLines: round(functionBytes),
          metrics: round(emf),
          lambdaPlatform: round(platformBytes + traced),
          apiAccessLog: accessLogBytes,
          total: round(functionBytes + emf + platformBytes + traced + accessLogBytes),
        },
      ];
    }),
  ) as unknown as Record<MonitoringLevel, Record<string, number>>;

  const result: MeasuredPerMessage = {
    command: 'npm run bench -- cost',
    measuredAt: new Date().toISOString().slice(0, 10),
    configuration: 'test/fixtures/postroom.cdk.json (the shipped contact form, its rate limits on)',
    messages: MESSAGES,
    perMessage: {
      dynamodbWrites: sum(writes),
      dynamodbReads: sum(reads),
      dynamodbWritesByOperation: writes,
      sqsRequests: round(sqsRequests, 2),
      sqsRequestsByOperation: { ...sqsOps, ReceiveMessage: relayInvocations },
      apiRequests: 1,
      invocations,
      deliveryEvents,
      logBytes,
    },
  };
  writeFileSync(MEASURED_FILE, `${JSON.stringify(result, null, 2)}\n`);

  return {
    title: `Cost per message: the shipped form on the local stack, ${MESSAGES} messages one at a time`,
    rows: [
      { metric: 'DynamoDB writes per message', value: result.perMessage.dynamodbWrites, unit: 'writes' },
      { metric: 'DynamoDB reads per message', value: result.perMessage.dynamodbReads, unit: 'reads' },
      {
        metric: 'SQS requests per message (idle polls apart)',
        value: result.perMessage.sqsRequests,
        unit: 'requests',
      },
      { metric: 'Lambda invocations per message', value: invocationCount, unit: 'invocations' },
      ...MONITORING_LEVELS.map((level) => ({
        metric: `log bytes per message, ${level}`,
        value: logBytes[level].total ?? 0,
        unit: 'B',
      })),
    ],
    notes: [
      `writes by operation: ${Object.entries(writes)
        .map(([op, n]) => `${op} ${n}`)
        .join(', ')}`,
      `log bytes at essential: ${Object.entries(logBytes.essential)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
      `log bytes at full: ${Object.entries(logBytes.full)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
      `written to bench/measured/per-message.json (read by postroom cost)`,
    ],
  };
}

/** Polls until `check` holds; a message that never gets there fails the run rather than skew the figures. */
async function until(check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function sentCount(sesUrl: string): Promise<number> {
  const response = await fetch(`${sesUrl}/store`);
  const store = (await response.json()) as { emails?: unknown[] };
  return store.emails?.length ?? 0;
}

/** The EMF documents each function would write for each message's metrics, at a level, in bytes. */
function emfBytes(messages: MetricCall[][], level: MonitoringLevel): number {
  let total = 0;
  for (const calls of messages) {
    const services = new Map<string, ReturnType<typeof createMetrics>>();
    for (const call of calls) {
      const service = emitter(call.name);
      let metrics = services.get(service);
      if (metrics === undefined) {
        metrics = createMetrics(service, level);
        services.set(service, metrics);
      }
      if (call.kind === 'count') metrics.port.count(call.name as never, call.value, call.dimension as never);
      else metrics.port.duration(call.name as never, call.ms);
    }
    const out = process.stdout.write;
    const lines: string[] = [];
    process.stdout.write = ((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    }) as typeof out;
    try {
      for (const { metrics } of services.values()) metrics.publishStoredMetrics();
    } finally {
      process.stdout.write = out;
    }
    total += bytes(
      lines
        .join('')
        .split('\n')
        .filter((line) => line.includes('"_aws"')),
    );
  }
  return total;
}

/** One access log line in the stage's format, with the values of a typical form POST. */
function sampleAccessLogLine(): string {
  const values: Record<string, string> = {
    '$context.requestId': REQUEST_ID,
    '$context.identity.sourceIp': '203.0.113.54',
    '$context.requestTimeEpoch': '1764756000123',
    '$context.httpMethod': 'POST',
    '$context.resourcePath': '/v1/forms/{formId}',
    '$context.protocol': 'HTTP/1.1',
    '$context.status': '202',
    '$context.responseLength': '52',
    '$context.responseLatency': '87',
    '$context.integrationLatency': '84',
    '$context.integration.status': '200',
    '$context.error.responseType': '-',
    '$context.error.message': '-',
    '$context.waf.status': '-',
    '$context.xrayTraceId': '-',
  };
  return accessLogFormat()
    .toString()
    .replace(/\$context\.[A-Za-z.]+/g, (field) => values[field] ?? '-');
}

function bytes(lines: ReadonlyArray<string>): number {
  return lines.reduce((total, line) => total + Buffer.byteLength(line) + 1, 0);
}

function sum(values: Record<string, number>): number {
  return round(
    Object.values(values).reduce((total, n) => total + n, 0),
    2,
  );
}

function round(value: number, digits = 0): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

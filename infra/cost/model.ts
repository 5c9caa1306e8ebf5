import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { PostroomConfig } from '../../functions/core/config/config';
import {
  DURATION_METRIC,
  ESSENTIAL_METRICS,
  METRIC,
  METRIC_DIMENSION,
  type MetricName,
} from '../../functions/core/metrics';
import { atLevel, type MonitoringLevel } from '../../functions/core/monitoring';

/**
 * The monthly bill of a Postroom stack (docs/cost.md): what exists comes from the synthesized template
 * (alarms and the metrics they read, dashboards, keys, event source mappings, functions and their memory
 * and tracing, the X-Ray sampling rule, WAF), what each message does comes from the bench's measurement
 * (bench/measured/per-message.json: writes, requests, invocations, log bytes), and what each costs from
 * infra/cost/prices.json. `postroom cost` prints it and docs/cost.md's tables are generated from it.
 */

export const PRICES_FILE = fileURLToPath(new URL('./prices.json', import.meta.url));
export const MEASURED_FILE = fileURLToPath(new URL('../../bench/measured/per-message.json', import.meta.url));

export interface Price {
  readonly usd: number;
  readonly unit: string;
  readonly what: string;
  readonly source: string;
  readonly read: string;
  readonly aws: string;
}
export type PriceName =
  | 'sesPerRecipient'
  | 'apiGatewayRestRequest'
  | 'lambdaRequest'
  | 'lambdaArmGbSecond'
  | 'sqsRequest'
  | 'dynamodbWriteUnit'
  | 'dynamodbReadUnit'
  | 'snsPublish'
  | 'logsIngestedGb'
  | 'logsStoredGbMonth'
  | 'xrayTrace'
  | 'dashboard'
  | 'alarmMetric'
  | 'customMetric'
  | 'kmsKey'
  | 'wafWebAcl'
  | 'wafRule'
  | 'wafRequest'
  | 'secret';
export interface Prices {
  readonly region: string;
  readonly prices: Readonly<Record<PriceName, Price>>;
}

export interface Measured {
  readonly command: string;
  readonly measuredAt: string;
  readonly perMessage: {
    readonly dynamodbWrites: number;
    readonly dynamodbReads: number;
    readonly sqsRequests: number;
    readonly apiRequests: number;
    readonly invocations: Readonly<Record<'send' | 'relay' | 'events', number>>;
    readonly deliveryEvents: number;
    readonly logBytes: Readonly<Record<MonitoringLevel, Readonly<Record<string, number>>>>;
  };
}

export function readPrices(file = PRICES_FILE): Prices {
  return JSON.parse(readFileSync(file, 'utf8')) as Prices;
}

export function readMeasured(file = MEASURED_FILE): Measured {
  return JSON.parse(readFileSync(file, 'utf8')) as Measured;
}

/**
 * Billed time per invocation: estimates, not measurements (nothing here ran on AWS). A send validates, makes
 * three guard writes and one SQS send; a relay invocation claims, calls SES and completes; the events
 * function makes one write. Cold starts are included as a share. Replace them with the `Billed Duration` of
 * the functions' REPORT lines.
 */
export const ASSUMED_BILLED_MS: Readonly<Record<string, number>> = {
  send: 100,
  // 250 ms at 512 MB before; at 256 MB the 3.8 ms of CPU a message takes on the local pipeline runs on half
  // the CPU share (about 0.15 vCPU), about 13 ms more.
  relay: 270,
  events: 50,
  webhooks: 200,
};

/**
 * Empty receives of an idle queue by an event source mapping: Lambda long-polls a standard queue with about
 * five pollers, each making one 20-second receive at a time (5 x 3 a minute x 60 x 24 x 30). AWS does not
 * publish the poller count: an estimate. https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
 */
export const IDLE_RECEIVES_PER_MAPPING = 648_000;

/** What the template and the configuration say exists. */
export interface StackFacts {
  readonly level: MonitoringLevel;
  readonly transport: 'ses' | 'smtp';
  readonly alarms: number;
  readonly alarmMetrics: number;
  readonly dashboards: number;
  readonly kmsKeys: number;
  readonly eventSourceMappings: number;
  readonly functions: ReadonlyArray<{ name: string; memoryMb: number; tracing: string }>;
  /** The share of API requests the stage's sampling rule traces; 0 when the stage does not trace. */
  readonly traceSampleRate: number;
  readonly wafAcls: number;
  readonly wafRules: number;
  readonly secrets: number;
  readonly customMetrics: number;
  readonly logRetentionDays: number;
  readonly webhooks: number;
}

type Resource = { Type: string; Properties?: Record<string, unknown> };

/** Reads the facts from a synthesized template (`Template.toJSON()`) and its validated configuration. */
export function stackFacts(
  template: { Resources?: Record<string, Resource> },
  config: PostroomConfig,
): StackFacts {
  const resources = Object.values(template.Resources ?? {});
  const ofType = (type: string) => resources.filter((r) => r.Type === type);
  const alarms = ofType('AWS::CloudWatch::Alarm');
  // A metric-math alarm is billed per metric it reads (each MetricStat), a plain one for its one metric.
  const alarmMetrics = alarms.reduce((sum, alarm) => {
    const queries = alarm.Properties?.Metrics as Array<{ MetricStat?: unknown }> | undefined;
    return sum + (queries ? queries.filter((q) => q.MetricStat !== undefined).length : 1);
  }, 0);
  const functions = ofType('AWS::Lambda::Function').flatMap((fn) => {
    const description = String(fn.Properties?.Description ?? '');
    const match = /^Postroom (send|relay|events|webhooks)\b/.exec(description);
    if (!match?.[1]) return [];
    const tracing = (fn.Properties?.TracingConfig as { Mode?: string } | undefined)?.Mode ?? 'Disabled';
    return [{ name: match[1], memoryMb: Number(fn.Properties?.MemorySize ?? 128), tracing }];
  });
  const stageTraces = ofType('AWS::ApiGateway::Stage').some(
    (stage) => stage.Properties?.TracingEnabled === true,
  );
  const rule = ofType('AWS::XRay::SamplingRule')[0]?.Properties?.SamplingRule as
    | { FixedRate?: number }
    | undefined;
  // Without a rule of its own, a tracing stage follows X-Ray's default (1 a second, then 5 %): at a few
  // requests a second that is every request.
  const traceSampleRate = stageTraces ? (rule?.FixedRate ?? 1) : 0;
  const acls = ofType('AWS::WAFv2::WebACL');
  const wafRules = acls.reduce((sum, acl) => sum + ((acl.Properties?.Rules as unknown[]) ?? []).length, 0);
  const captchaSecrets = new Set(config.forms.flatMap((form) => (form.captcha ? [form.captcha.secret] : [])));
  const smtpSecret = config.transport.kind === 'smtp' && config.transport.passwordSecret ? 1 : 0;
  return {
    level: config.monitoring.level,
    transport: config.transport.kind,
    alarms: alarms.length,
    alarmMetrics,
    dashboards: ofType('AWS::CloudWatch::Dashboard').length,
    kmsKeys: ofType('AWS::KMS::Key').length,
    eventSourceMappings: ofType('AWS::Lambda::EventSourceMapping').length,
    functions,
    traceSampleRate,
    wafAcls: acls.length,
    wafRules,
    secrets: captchaSecrets.size + smtpSecret + config.webhooks.length,
    customMetrics: customMetricCount(config),
    logRetentionDays: config.monitoring.logRetentionDays,
    webhooks: config.webhooks.length,
  };
}

/**
 * The custom metrics a configuration can emit at its level (an upper bound: CloudWatch bills a metric only
 * for the hours it receives data). At `essential` only what an alarm reads, and only where it can happen;
 * at `full` each count under its service plus each value of its breakdown that can occur here.
 */
export function customMetricCount(config: PostroomConfig): number {
  const smtp = config.transport.kind === 'smtp';
  const ses = !smtp;
  const webhooks = config.webhooks.length > 0;
  const captcha = config.forms.some((form) => form.captcha !== undefined);
  // Which metrics this configuration can emit at all, and how many services emit each.
  const emitters: Partial<Record<MetricName, number>> = {
    [METRIC.accepted]: 1,
    [METRIC.rejected]: 1,
    [METRIC.spamBlocked]: 1,
    [METRIC.sent]: 1,
    [METRIC.retried]: 1,
    [METRIC.failed]: 1,
    [METRIC.duplicate]: 1,
    [METRIC.canceledDropped]: 1,
    [METRIC.supersededDropped]: 1,
    ...(smtp ? { [METRIC.recipientRefused]: 1, [METRIC.relaySessionFailed]: 1 } : {}),
    ...(ses
      ? {
          [METRIC.delivered]: 1,
          [METRIC.bounced]: 1,
          [METRIC.complained]: 1,
          [METRIC.providerRejected]: 1,
          [METRIC.eventDropped]: 1,
        }
      : {}),
    ...(webhooks
      ? {
          // Send, relay and (with SES) events each enqueue webhook events.
          [METRIC.webhookEnqueueFailed]: ses ? 3 : 2,
          [METRIC.webhookDelivered]: 1,
          [METRIC.webhookRetried]: 1,
          [METRIC.webhookDeadLettered]: 1,
          [METRIC.webhookEndpointDisabled]: 1,
        }
      : {}),
  };
  const full = atLevel(config.monitoring.level, 'full');
  let count = 0;
  for (const [name, services] of Object.entries(emitters) as Array<[MetricName, number]>) {
    if (!full && !ESSENTIAL_METRICS.has(name)) continue;
    count += services;
    if (!full) continue;
    const dimension = (METRIC_DIMENSION as Record<string, { values: ReadonlyArray<string> }>)[name];
    if (dimension === undefined) continue;
    count += dimension.values.filter((value) => value !== 'captcha' || captcha).length;
  }
  if (full) {
    count += 2; // SendLatency, QueueToSentLatency (relay)
    if (webhooks) count += 1; // WebhookLatency
  }
  void DURATION_METRIC;
  return count;
}

export interface BillLine {
  readonly line: string;
  readonly arithmetic: string;
  readonly usd: number;
  /** A line that does not grow with the number of messages. */
  readonly fixed: boolean;
}

export interface Bill {
  readonly messages: number;
  readonly recipients: number;
  readonly level: MonitoringLevel;
  readonly lines: ReadonlyArray<BillLine>;
  readonly total: number;
}

/** The monthly bill for `messages` messages of `recipients` recipients each. */
export function monthlyBill(
  facts: StackFacts,
  measured: Measured,
  { prices }: Prices,
  volume: { messages: number; recipients: number },
): Bill {
  const n = volume.messages;
  const r = volume.recipients;
  const m = measured.perMessage;
  const lines: BillLine[] = [];
  const add = (line: string, arithmetic: string, usd: number, fixed = false) => {
    if (usd > 0 || fixed) lines.push({ line, arithmetic, usd, fixed });
  };
  const fn = (name: string) => facts.functions.find((f) => f.name === name);
  const ses = facts.transport === 'ses';

  if (ses) add('SES outbound', `${fmt(n)} × ${r} recipients × $0.0001`, n * r * prices.sesPerRecipient.usd);
  add(
    'API Gateway REST requests',
    `${fmt(n * m.apiRequests)} × $3.50 / 1 M`,
    n * m.apiRequests * prices.apiGatewayRestRequest.usd,
  );

  const invocations: Array<[string, number]> = [
    ['send', m.invocations.send],
    ['relay', m.invocations.relay],
    ...(ses ? ([['events', m.invocations.events]] as Array<[string, number]>) : []),
  ];
  const perMessageInvocations = invocations.reduce((sum, [, k]) => sum + k, 0);
  add(
    'Lambda requests',
    `${fmt(n)} × ${perMessageInvocations} invocations × $0.20 / 1 M`,
    n * perMessageInvocations * prices.lambdaRequest.usd,
  );
  const gbSeconds = invocations.reduce((sum, [name, k]) => {
    const memory = fn(name)?.memoryMb ?? 256;
    return sum + k * ((ASSUMED_BILLED_MS[name] ?? 100) / 1000) * (memory / 1024);
  }, 0);
  add(
    'Lambda duration (Arm)',
    `${fmt(n)} × ${round(gbSeconds, 4)} GB-s × $0.0000133334`,
    n * gbSeconds * prices.lambdaArmGbSecond.usd,
  );

  const idle = facts.eventSourceMappings * IDLE_RECEIVES_PER_MAPPING;
  add(
    'SQS requests',
    `${fmt(n)} × ${m.sqsRequests} + ${fmt(idle)} idle receives (${facts.eventSourceMappings} event source mapping${facts.eventSourceMappings === 1 ? '' : 's'}) × $0.40 / 1 M`,
    (n * m.sqsRequests + idle) * prices.sqsRequest.usd,
    idle > 0,
  );
  add(
    'DynamoDB writes',
    `${fmt(n)} × ${m.dynamodbWrites} writes × $0.625 / 1 M`,
    n * m.dynamodbWrites * prices.dynamodbWriteUnit.usd,
  );
  add(
    'DynamoDB reads',
    `${fmt(n)} × ${m.dynamodbReads} reads × $0.125 / 1 M`,
    n * m.dynamodbReads * prices.dynamodbReadUnit.usd,
  );
  if (ses)
    add(
      'SNS publishes (SES delivery events)',
      `${fmt(n)} × ${m.deliveryEvents} × $0.50 / 1 M`,
      n * m.deliveryEvents * prices.snsPublish.usd,
    );

  const logBytes = m.logBytes[facts.level]?.total ?? 0;
  const gb = (n * logBytes) / 1e9;
  const storedMonths = facts.logRetentionDays / 30;
  add(
    'CloudWatch Logs',
    `${fmt(n)} × ${fmt(logBytes)} B = ${round(gb, 4)} GB × ($0.50 + ${round(storedMonths, 2)} × $0.03)`,
    gb * (prices.logsIngestedGb.usd + storedMonths * prices.logsStoredGbMonth.usd),
  );

  // Traces: the stage's rule samples API requests (the send function follows it); functions tracing
  // actively start a trace for (nearly) every invocation at these volumes; PassThrough ones add to sampled
  // requests only, counted as traces of their own (an upper bound).
  const active = invocations
    .filter(([name]) => fn(name)?.tracing === 'Active')
    .reduce((s, [, k]) => s + k, 0);
  const following = invocations
    .filter(([name]) => name !== 'send' && fn(name)?.tracing === 'PassThrough')
    .reduce((s, [, k]) => s + k, 0);
  const traces = n * (facts.traceSampleRate * (1 + following) + active);
  add(
    'X-Ray traces (upper bound)',
    `${fmt(n)} × (${round(facts.traceSampleRate, 3)} sampled × ${1 + following} + ${active} active) × $5.00 / 1 M`,
    traces * prices.xrayTrace.usd,
  );

  if (facts.dashboards > 0)
    add('CloudWatch dashboard', `${facts.dashboards} × $3.00`, facts.dashboards * prices.dashboard.usd, true);
  add(
    'CloudWatch alarms',
    `${facts.alarms} alarms reading ${facts.alarmMetrics} metrics × $0.10`,
    facts.alarmMetrics * prices.alarmMetric.usd,
    true,
  );
  if (facts.customMetrics > 0)
    add(
      'CloudWatch custom metrics (upper bound)',
      `${facts.customMetrics} × $0.30`,
      facts.customMetrics * prices.customMetric.usd,
      true,
    );
  if (facts.kmsKeys > 0)
    add('KMS keys (topic encryption)', `${facts.kmsKeys} × $1.00`, facts.kmsKeys * prices.kmsKey.usd, true);
  if (facts.wafAcls > 0) {
    add(
      'WAF',
      `${facts.wafAcls} web ACL + ${facts.wafRules} rules + ${fmt(n)} requests × $0.60 / 1 M`,
      facts.wafAcls * prices.wafWebAcl.usd + facts.wafRules * prices.wafRule.usd + n * prices.wafRequest.usd,
      true,
    );
  }
  if (facts.secrets > 0)
    add('Secrets Manager', `${facts.secrets} secrets × $0.40`, facts.secrets * prices.secret.usd, true);

  const total = lines.reduce((sum, line) => sum + line.usd, 0);
  return { messages: n, recipients: r, level: facts.level, lines, total };
}

/** The bill as aligned text, line by line, for the terminal. */
export function formatBill(bill: Bill, facts: StackFacts, measured: Measured, prices: Prices): string {
  const width = Math.max(...bill.lines.map((l) => l.line.length), 5);
  const rows = bill.lines.map((l) => `  ${l.line.padEnd(width)}  ${usd(l.usd).padStart(9)}  ${l.arithmetic}`);
  const fixed = bill.lines.filter((l) => l.fixed).reduce((sum, l) => sum + l.usd, 0);
  return [
    `Monthly bill, ${prices.region}, no free tier: ${fmt(bill.messages)} messages × ${bill.recipients} recipient${bill.recipients === 1 ? '' : 's'}, monitoring.level ${bill.level}, ${facts.transport === 'ses' ? 'SES' : 'SMTP'} transport`,
    ...rows,
    `  ${'Total'.padEnd(width)}  ${usd(bill.total).padStart(9)}  of which fixed ${usd(fixed)}; per message $${(bill.total / Math.max(1, bill.messages)).toPrecision(2)}`,
    '',
    `Per message, measured by ${measured.command} (${measured.measuredAt}): ${measured.perMessage.dynamodbWrites} writes, ${measured.perMessage.sqsRequests} SQS requests, ${measured.perMessage.logBytes[bill.level]?.total ?? 0} log bytes. Prices: infra/cost/prices.json (sources and dates there; docs/cost.md).`,
    '',
  ].join('\n');
}

export function usd(value: number): string {
  return value >= 0.01 || value === 0 ? `$${value.toFixed(2)}` : `$${value.toFixed(4)}`;
}

export function fmt(value: number): string {
  return value.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

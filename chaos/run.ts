import { parseArgs } from 'node:util';
import { formatFailover, runFailoverChaos } from './failover';
import { type ChaosProvider, formatReport, runChaos } from './harness';
import { formatScheduledReport, runScheduledChaos, type ScheduledPath } from './scheduled';
import { formatWebhookReport, runWebhookChaos } from './webhooks';

/**
 * `npm run chaos`: submits mail through the local API while a fault-injecting provider misbehaves and the
 * relay process is killed at random, then checks from the delivered mail that every accepted job arrived
 * exactly once or is on the dead-letter queue with its reason. Exits 1 on any loss or unexplained duplicate.
 * Two more scenarios: webhooks (a misbehaving receiver, dispatcher kills: chaos/webhooks.ts) and scheduled
 * mail (relay kills while scheduled mail comes due, with cancels: chaos/scheduled.ts).
 *
 *   npm run chaos -- --messages 1000 --rate 20 --kills 6 --provider smtp,ses --seed 42
 *   npm run chaos -- --scenario mail --provider failover   (SES killed and revived: chaos/failover.ts)
 *   npm run chaos -- --scenario webhooks,scheduled --messages 300
 */
const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'mail,webhooks,scheduled' },
    messages: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '20' },
    kills: { type: 'string', default: '6' },
    provider: { type: 'string', default: 'smtp,ses' },
    'fault-rate': { type: 'string', default: '0.15' },
    'reject-every': { type: 'string', default: '25' },
    'webhook-fault-rate': { type: 'string', default: '0.3' },
    'scheduled-path': { type: 'string', default: 'queue-delay,scheduler' },
    'cancel-every': { type: 'string', default: '4' },
    'ahead-max': { type: 'string', default: '8' },
    seed: { type: 'string' },
    'drain-timeout': { type: 'string', default: '180' },
    'relay-log': { type: 'string' },
  },
});

function positive(name: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new Error(`--${name} must be a number >= 0`);
  return number;
}

function list<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T[] {
  const items = (value ?? '').split(',').map((item) => item.trim());
  for (const item of items) {
    if (!allowed.includes(item as T))
      throw new Error(`--${name} takes ${allowed.join(', ')} (comma-separated)`);
  }
  return items as T[];
}

const scenarios = list('scenario', values.scenario, ['mail', 'webhooks', 'scheduled'] as const);
const providers = list('provider', values.provider, ['smtp', 'ses', 'failover'] as const);
const paths = list('scheduled-path', values['scheduled-path'], [
  'queue-delay',
  'scheduler',
] as const) as ScheduledPath[];
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positive('seed', values.seed);
const messages = positive('messages', values.messages);
const ratePerSecond = positive('rate', values.rate);
const kills = positive('kills', values.kills);
const drainTimeoutMs = positive('drain-timeout', values['drain-timeout']) * 1000;
const progress = (line: string) => console.log(`  ${line}`);
const results: boolean[] = [];
if (scenarios.includes('mail')) {
  for (const provider of providers) {
    const run = provider === 'failover' ? runFailoverChaos : runChaos;
    const report = await run({
      provider: (provider === 'failover' ? 'ses' : provider) as ChaosProvider,
      messages,
      ratePerSecond,
      kills,
      rejectEvery: positive('reject-every', values['reject-every']),
      faultRate: Math.min(1, positive('fault-rate', values['fault-rate'])),
      seed,
      drainTimeoutMs,
      relayLog: values['relay-log'],
      progress,
    });
    console.log(
      formatReport(report).replace(/^chaos \(ses/, provider === 'failover' ? 'chaos (failover' : '$&'),
    );
    if ('failover' in report)
      console.log(formatFailover(report.failover as Parameters<typeof formatFailover>[0]));
    results.push(report.ok);
  }
}
if (scenarios.includes('webhooks')) {
  const report = await runWebhookChaos({
    submissions: messages,
    ratePerSecond,
    kills,
    faultRate: Math.min(1, positive('webhook-fault-rate', values['webhook-fault-rate'])),
    seed,
    drainTimeoutMs,
    progress,
  });
  console.log(formatWebhookReport(report));
  results.push(report.ok);
}
if (scenarios.includes('scheduled')) {
  for (const path of paths) {
    const report = await runScheduledChaos({
      messages,
      ratePerSecond,
      aheadSeconds: [2, Math.max(2, positive('ahead-max', values['ahead-max']))],
      cancelEvery: positive('cancel-every', values['cancel-every']),
      kills,
      faultRate: Math.min(1, positive('fault-rate', values['fault-rate'])),
      path,
      seed,
      drainTimeoutMs,
      progress,
    });
    console.log(formatScheduledReport(report));
    results.push(report.ok);
  }
}
process.exit(results.every(Boolean) ? 0 : 1);

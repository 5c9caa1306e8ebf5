import { parseArgs } from 'node:util';
import { formatFailover, runFailoverChaos } from './failover';
import { type ChaosProvider, type ChaosReport, formatReport, runChaos } from './harness';

/**
 * `npm run chaos`: submits mail through the local API while a fault-injecting provider misbehaves and the
 * relay process is killed at random, then checks from the delivered mail that every accepted job arrived
 * exactly once or is on the dead-letter queue with its reason. Exits 1 on any loss or unexplained duplicate.
 *
 *   npm run chaos -- --messages 1000 --rate 20 --kills 6 --provider smtp,ses --seed 42
 */
const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '20' },
    kills: { type: 'string', default: '6' },
    provider: { type: 'string', default: 'smtp,ses' },
    'fault-rate': { type: 'string', default: '0.15' },
    'reject-every': { type: 'string', default: '25' },
    seed: { type: 'string' },
    'drain-timeout': { type: 'string', default: '180' },
  },
});

function positive(name: string, value: string | undefined): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0) throw new Error(`--${name} must be a number >= 0`);
  return number;
}

const providers = (values.provider ?? '').split(',').map((p) => p.trim());
for (const provider of providers) {
  if (provider !== 'smtp' && provider !== 'ses' && provider !== 'failover')
    throw new Error('--provider must be smtp, ses, failover or a list of them');
}
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : positive('seed', values.seed);
const reports: ChaosReport[] = [];
for (const provider of providers as Array<ChaosProvider | 'failover'>) {
  const run = provider === 'failover' ? runFailoverChaos : runChaos;
  const report = await run({
    provider: provider === 'failover' ? 'ses' : provider,
    messages: positive('messages', values.messages),
    ratePerSecond: positive('rate', values.rate),
    kills: positive('kills', values.kills),
    rejectEvery: positive('reject-every', values['reject-every']),
    faultRate: Math.min(1, positive('fault-rate', values['fault-rate'])),
    seed,
    drainTimeoutMs: positive('drain-timeout', values['drain-timeout']) * 1000,
    progress: (line) => console.log(`  ${line}`),
  });
  console.log(
    formatReport(report).replace(/^chaos \(ses/, provider === 'failover' ? 'chaos (failover' : '$&'),
  );
  if ('failover' in report)
    console.log(formatFailover(report.failover as Parameters<typeof formatFailover>[0]));
  reports.push(report);
}
process.exit(reports.every((report) => report.ok) ? 0 : 1);

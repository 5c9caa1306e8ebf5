import { runScheduledChaos, formatScheduledReport } from './chaos/scheduled';
const t = Date.now();
const report = await runScheduledChaos({ messages: 24, ratePerSecond: 8, aheadSeconds: [2, 5], cancelEvery: 4, kills: 2, faultRate: 0.15, path: (process.argv[2] ?? 'queue-delay') as 'queue-delay', seed: 11, drainTimeoutMs: 40_000, configFile: 'test/fixtures/postroom.cdk.json', progress: (l) => console.log(((Date.now()-t)/1000).toFixed(1), l) });
console.log(formatScheduledReport(report));
process.exit(0);

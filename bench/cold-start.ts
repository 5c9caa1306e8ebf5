import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildSync, type Metafile } from 'esbuild';
import { parseConfig } from '../functions/core/config/config';
import { bundleFunction, type FunctionEntry, functionBuildOptions } from '../infra/bundling';
import { REPO_ROOT } from '../infra/paths';
import { readPostroomContext } from '../local/config-file';
import { type BenchRow, type BenchSection, median, printSection } from './section';

/**
 * Cold start of the functions as deployed: each is built by the same code as `cdk synth` (infra/bundling.ts),
 * then imported by fresh `node` processes with the environment Lambda gives it. The import is what a cold
 * start adds to Node's own start: loading and evaluating the bundle, reading the configuration, creating
 * the clients. It is reported against a bare `node -e 0` measured the same way, interleaved, so the machine's
 * load affects both alike.
 */

const RUNS = 15;

const TARGETS: Record<FunctionEntry, { importRatio?: number; eagerKb?: number; overClients?: number }> = {
  // overClients: the import's CPU time over the SQS and DynamoDB clients' own, which the function cannot go
  // below; 1.16x where it was set (docs/performance.md), not to grow.
  send: { importRatio: 1.8, eagerKb: 450, overClients: 1.16 },
  relay: { importRatio: 2.2 },
  events: {},
  webhooks: {},
};

/** What Lambda and the stack give each function (the configuration is in the bundle); credentials are fake and nothing is called at import. */
function functionEnv(): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    TABLE_NAME: 'postroom-bench',
    MAIL_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/postroom-mail',
    DEAD_LETTER_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/postroom-dlq',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    AWS_SESSION_TOKEN: 'bench',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
}

/** What one fresh process cost: wall time, and the CPU time (user + system) it used itself. */
interface ProcessTime {
  wallMs: number;
  cpuMs: number;
}

// Written last by each child, to stderr: on a shared machine a process's own CPU time moves much less with
// the other work than its wall time does, which includes waiting for a core.
const REPORT_CPU =
  "const cpu = process.cpuUsage(); process.stderr.write('\\ncpu ' + (cpu.user + cpu.system) / 1000);";

/** Runs `code` in a fresh `node` (an ES module when `module`), timing the whole process. */
function timeProcess(code: string, env: NodeJS.ProcessEnv, module = true): ProcessTime {
  const args = [...(module ? ['--input-type=module'] : []), '-e', `${code}; ${REPORT_CPU}`];
  const started = performance.now();
  const result = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  const wallMs = performance.now() - started;
  const stderr = result.stderr.toString();
  if (result.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${stderr}`);
  const cpuMs = Number(/\ncpu ([\d.]+)$/.exec(stderr)?.[1]);
  return { wallMs, cpuMs };
}

/** Bytes of the entry file, of everything it loads by static import (the cold start), and of all chunks. */
function bundleBytes(metafile: Metafile): { entry: number; eager: number; total: number } {
  const outputs = metafile.outputs;
  const code = Object.keys(outputs).filter((file) => file.endsWith('.mjs'));
  const entry = code.find((file) => path.basename(file) === 'index.mjs');
  if (entry === undefined) throw new Error('the build has no index.mjs');
  const eager = new Set([entry]);
  const pending = [entry];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    for (const imported of outputs[file]?.imports ?? []) {
      if (imported.kind !== 'import-statement' || imported.external || eager.has(imported.path)) continue;
      eager.add(imported.path);
      pending.push(imported.path);
    }
  }
  const bytes = (files: Iterable<string>) =>
    [...files].reduce((sum, file) => sum + (outputs[file]?.bytes ?? 0), 0);
  return { entry: outputs[entry]?.bytes ?? 0, eager: bytes(eager), total: bytes(code) };
}

export async function run(): Promise<BenchSection> {
  const workDir = mkdtempSync(path.join(tmpdir(), 'postroom-cold-start-'));
  try {
    const entries: FunctionEntry[] = ['send', 'relay', 'events'];
    const config = parseConfig(readPostroomContext(path.join(REPO_ROOT, 'cdk.json')));
    const builds = entries.map((entry) => {
      const outdir = path.join(workDir, entry);
      const { metafile } = bundleFunction(entry, outdir, config);
      // Metafile paths are relative to the repository root.
      const url = pathToFileURL(path.join(outdir, 'index.mjs')).href;
      return { entry, url, bytes: bundleBytes(metafile) };
    });
    // Yardsticks, bundled the same way: the SQS client alone, created once (what the targets were set
    // against), and the SQS and DynamoDB clients together, which both the send function and the relay need.
    const {
      entryPoints: _entry,
      outdir: _outdir,
      splitting: _splitting,
      ...options
    } = functionBuildOptions('send', workDir);
    const yardstick = (name: string, contents: string) => {
      const outfile = path.join(workDir, name, 'index.mjs');
      buildSync({ ...options, stdin: { contents, resolveDir: REPO_ROOT, loader: 'ts' }, outfile });
      return { url: pathToFileURL(outfile).href, times: [] as ProcessTime[] };
    };
    const sqsOnly = yardstick(
      'sqs-client',
      "import { SQSClient } from '@aws-sdk/client-sqs'; new SQSClient({});",
    );
    const sqsAndDynamo = yardstick(
      'sqs-dynamodb-clients',
      "import { SQSClient } from '@aws-sdk/client-sqs'; import { DynamoDBClient } from '@aws-sdk/client-dynamodb'; new DynamoDBClient({}); new SQSClient({});",
    );
    const env = functionEnv();
    const bare: ProcessTime[] = [];
    const imports = new Map<FunctionEntry, ProcessTime[]>(entries.map((entry) => [entry, []]));
    const importing = (url: string) => timeProcess(`await import('${url}')`, env);
    // One untimed round first: the file system cache then holds node and every bundle.
    timeProcess('0', env, false);
    for (const build of builds) importing(build.url);
    // Every other round in the reverse order: a machine that slows down or speeds up during a round then
    // weighs on the first and the last alike.
    const oneRound = [
      () => bare.push(timeProcess('0', env, false)),
      ...[sqsOnly, sqsAndDynamo].map((stick) => () => stick.times.push(importing(stick.url))),
      ...builds.map((build) => () => imports.get(build.entry)?.push(importing(build.url))),
    ];
    for (let i = 0; i < RUNS; i++)
      for (const step of i % 2 === 0 ? oneRound : [...oneRound].reverse()) step();
    const wall = (times: ProcessTime[]) => median(times.map((time) => time.wallMs));
    const cpu = (times: ProcessTime[]) => median(times.map((time) => time.cpuMs));
    const bareMs = wall(bare);
    const bareCpuMs = cpu(bare);
    const rows: BenchRow[] = [
      { metric: 'bare node -e 0 (median)', value: round(bareMs, 1), unit: 'ms' },
      ...(
        [
          ['SQS client alone', sqsOnly.times],
          ['SQS and DynamoDB clients alone', sqsAndDynamo.times],
        ] as const
      ).flatMap(([name, times]): BenchRow[] => [
        { metric: `${name}: import / bare node`, value: round(wall(times) / bareMs, 2), unit: 'x' },
        {
          metric: `${name}: import / bare node, CPU time`,
          value: round(cpu(times) / bareCpuMs, 2),
          unit: 'x',
        },
      ]),
    ];
    for (const build of builds) {
      const target = TARGETS[build.entry];
      const importMs = wall(imports.get(build.entry) ?? []);
      const ratio = importMs / bareMs;
      const eagerKb = build.bytes.eager / 1024;
      rows.push(
        {
          metric: `${build.entry}: loaded at cold start (entry + static chunks)`,
          value: round(eagerKb, 1),
          unit: 'KB',
          ...(target.eagerKb === undefined
            ? {}
            : { target: `≤ ${target.eagerKb} KB`, pass: eagerKb <= target.eagerKb }),
        },
        { metric: `${build.entry}: entry file`, value: round(build.bytes.entry / 1024, 1), unit: 'KB' },
        {
          metric: `${build.entry}: all code incl. lazy chunks`,
          value: round(build.bytes.total / 1024, 1),
          unit: 'KB',
        },
        { metric: `${build.entry}: node + import (median)`, value: round(importMs, 1), unit: 'ms' },
        {
          metric: `${build.entry}: import / bare node`,
          value: round(ratio, 2),
          unit: 'x',
          ...(target.importRatio === undefined
            ? {}
            : { target: `≤ ${target.importRatio}x`, pass: ratio <= target.importRatio }),
        },
        {
          metric: `${build.entry}: import / bare node, CPU time`,
          value: round(cpu(imports.get(build.entry) ?? []) / bareCpuMs, 2),
          unit: 'x',
        },
      );
      // The function over the SQS and DynamoDB clients it needs, each round's pair taken together (the two
      // run within a second of each other, under the same load), then the median of the rounds.
      const paired = (time: (t: ProcessTime) => number) =>
        median(
          (imports.get(build.entry) ?? []).map((t, i) => {
            const clients = sqsAndDynamo.times[i];
            return clients === undefined ? Number.NaN : time(t) / time(clients);
          }),
        );
      const overClients = paired((t) => t.cpuMs);
      rows.push(
        {
          metric: `${build.entry}: import / SQS and DynamoDB clients' import, paired by round`,
          value: round(
            paired((t) => t.wallMs),
            3,
          ),
          unit: 'x',
        },
        {
          metric: `${build.entry}: import / SQS and DynamoDB clients' import, CPU time, paired by round`,
          value: round(overClients, 3),
          unit: 'x',
          ...(target.overClients === undefined
            ? {}
            : { target: `≤ ${target.overClients}x`, pass: overClients <= target.overClients }),
        },
      );
    }
    return {
      title: 'Cold start: the deployed bundles, imported by fresh node processes',
      rows,
      notes: [
        `median of ${RUNS} runs each, interleaved with bare node, every other round in reverse order; Node ${process.version}`,
        'built by infra/bundling.ts as cdk synth builds them, with the shipped config; imported with the function environment (fake credentials)',
        'the targets were set where the SQS client alone measured about 1.8x: compare the ratios with that row on a loaded machine',
        'CPU time: the user + system time each process reports for itself, steadier than wall time when other work shares the cores',
        'no --enable-source-maps: the deployed functions have neither maps nor the flag (infra/bundling.ts)',
      ],
    };
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  printSection(await run());
}

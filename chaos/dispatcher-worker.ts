import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createDynamoClient } from '../functions/adapters/aws-clients';
import { DynamoWebhookStore } from '../functions/adapters/dynamodb-webhooks';
import { createLogger } from '../functions/adapters/powertools-log';
import { createSqsClient } from '../functions/adapters/sqs-client';
import { HttpWebhookSender } from '../functions/adapters/webhook-sender';
import { parseConfig } from '../functions/core/config/config';
import { noMetrics } from '../functions/core/metrics';
import { type Log, systemClock } from '../functions/core/ports';
import type { WebhookSender } from '../functions/core/webhooks/dispatch';
import { startLocalDispatcher, type WebhookResources, webhookSecretsFromEnv } from '../local/webhooks';

/**
 * The webhook dispatcher alone, in its own process: the real handler (functions/webhooks/app.ts) fed by the
 * local event source, against emulators the harness runs, so that the chaos harness can SIGKILL it mid-batch
 * as it does the relay. Configured by POSTROOM_DISPATCHER_WORKER (the JSON of DispatcherWorkerSettings); the
 * signing secrets come from POSTROOM_WEBHOOK_SECRET_<ID>, as for `npm start`. Logs are JSON lines on stdout.
 */
export interface DispatcherWorkerSettings {
  /** The `postroom` configuration (raw: it is parsed here as everywhere). */
  readonly config: unknown;
  readonly endpoints: { readonly sqs: string; readonly dynamodb: string };
  readonly tableName: string;
  readonly webhooks: WebhookResources;
  /** The retry schedule, in seconds (the production one spans 28 hours). */
  readonly schedule: ReadonlyArray<number>;
  /**
   * How long an endpoint has to answer. Production gives 15 s (ATTEMPT_TIMEOUT_MS); a run whose receiver stalls
   * on purpose gives less, so that the stalls cost seconds, not minutes.
   */
  readonly attemptTimeoutMs: number;
  /** Hides received messages this long: what a killed dispatcher held comes back after it. */
  readonly visibilityTimeoutSeconds: number;
}

export const DISPATCHER_WORKER_ENV = 'POSTROOM_DISPATCHER_WORKER';
const READY = 'dispatcher worker ready';
const WORKER_ENTRY = fileURLToPath(import.meta.url);

// The emulators accept any credentials; these never leave the machine.
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

async function startDispatcherWorker(
  settings: DispatcherWorkerSettings,
  log: Log,
): Promise<() => Promise<void>> {
  const config = parseConfig(settings.config);
  const aws = {
    region: config.region,
    endpoints: { sqs: settings.endpoints.sqs, dynamodb: settings.endpoints.dynamodb },
    credentials: LOCAL_CREDENTIALS,
  };
  const sqs = createSqsClient(aws);
  const dynamodb = createDynamoClient(aws);
  const http = new HttpWebhookSender({ guardAddresses: false });
  const sender: WebhookSender = {
    post: (url, headers, body, timeoutMs) =>
      http.post(url, headers, body, Math.min(timeoutMs, settings.attemptTimeoutMs)),
  };
  const dispatcher = await startLocalDispatcher({
    config,
    sqs,
    store: new DynamoWebhookStore(dynamodb, settings.tableName),
    resources: settings.webhooks,
    secrets: webhookSecretsFromEnv(config, process.env),
    clock: systemClock,
    log,
    metrics: noMetrics,
    sender,
    schedule: settings.schedule,
    visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
  });
  return async () => {
    await dispatcher.stop();
    sqs.destroy();
    dynamodb.destroy();
  };
}

/** One dispatcher process from start to end. */
export interface DispatcherGeneration {
  readonly number: number;
  readonly startedAt: number;
  endedAt: number | undefined;
  killed: boolean;
}

export interface DispatcherObservations {
  readonly generations: DispatcherGeneration[];
  /** The dispatcher's decisions, by outcome (delivered, retry, dead-letter, disable, endpoint-disabled). */
  readonly outcomes: Record<string, number>;
  /** Lines that were not JSON, or error lines: kept for a failing run's report. */
  readonly trouble: string[];
}

/**
 * Dispatcher processes, as Lambda runs dispatcher instances: several may poll at once, as concurrent Lambda
 * instances do, and `killOldest()` ends one with SIGKILL while the others go on. (The relay harness keeps its
 * relays apart to tell crash windows; the webhook judge needs no such thing: every copy carries its webhook-id.)
 */
export class DispatcherWorkers {
  readonly observations: DispatcherObservations = { generations: [], outcomes: {}, trouble: [] };
  private readonly running = new Map<DispatcherGeneration, { child: ChildProcess; exited: Promise<void> }>();

  constructor(
    private readonly settings: DispatcherWorkerSettings,
    /** POSTROOM_WEBHOOK_SECRET_<ID> variables. */
    private readonly env: Readonly<Record<string, string>>,
  ) {}

  /** Starts a new dispatcher process and resolves when it polls the queue. */
  async start(): Promise<void> {
    const generation: DispatcherGeneration = {
      number: this.observations.generations.length + 1,
      startedAt: Date.now(),
      endedAt: undefined,
      killed: false,
    };
    this.observations.generations.push(generation);
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER_ENTRY], {
      env: {
        ...process.env,
        ...this.env,
        [DISPATCHER_WORKER_ENV]: JSON.stringify(this.settings),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let markReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        generation.endedAt = Date.now();
        this.running.delete(generation);
        markReady();
        resolve();
      });
    });
    this.running.set(generation, { child, exited });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream as NodeJS.ReadableStream }).on('line', (line) =>
        this.observe(line, generation, markReady),
      );
    }
    await ready;
    if (generation.endedAt !== undefined && !generation.killed) {
      throw new Error(
        `the dispatcher process exited at start: ${this.observations.trouble.slice(-5).join(' | ')}`,
      );
    }
  }

  /** SIGKILLs the oldest running dispatcher; resolves with the time of the kill. */
  async killOldest(): Promise<number> {
    const at = Date.now();
    const oldest = [...this.running.keys()][0];
    if (oldest !== undefined) await this.killOne(oldest);
    return at;
  }

  /**
   * SIGKILL of every running dispatcher, as a crash or a Lambda timeout would end it: attempts in flight are
   * neither recorded nor deleted.
   */
  async kill(): Promise<void> {
    await Promise.all([...this.running.keys()].map((generation) => this.killOne(generation)));
  }

  /** A clean stop of every running dispatcher: the pollers end and the open batches finish. */
  async stop(): Promise<void> {
    await Promise.all(
      [...this.running.values()].map(({ child, exited }) => {
        child.kill('SIGTERM');
        return exited;
      }),
    );
  }

  private async killOne(generation: DispatcherGeneration): Promise<void> {
    const worker = this.running.get(generation);
    if (worker === undefined) return;
    generation.killed = true;
    worker.child.kill('SIGKILL');
    await worker.exited;
  }

  private observe(line: string, generation: DispatcherGeneration, markReady: () => void): void {
    let entry: { message?: unknown; level?: unknown; outcome?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      if (line.trim()) this.keepTrouble(`gen ${generation.number}: ${line}`);
      return;
    }
    if (entry.message === READY) markReady();
    if (typeof entry.outcome === 'string') {
      this.observations.outcomes[entry.outcome] = (this.observations.outcomes[entry.outcome] ?? 0) + 1;
    }
    if (entry.level === 'ERROR') this.keepTrouble(`gen ${generation.number}: ${line}`);
  }

  private keepTrouble(line: string): void {
    if (this.observations.trouble.length < 50) this.observations.trouble.push(line.slice(0, 500));
  }
}

async function main(): Promise<void> {
  const { log } = createLogger('postroom-dispatcher-worker');
  const raw = process.env[DISPATCHER_WORKER_ENV];
  if (!raw) throw new Error(`${DISPATCHER_WORKER_ENV} must hold the worker settings as JSON`);
  const stop = await startDispatcherWorker(JSON.parse(raw) as DispatcherWorkerSettings, log);
  log.info(READY);
  const shutdown = () => {
    stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  });
}

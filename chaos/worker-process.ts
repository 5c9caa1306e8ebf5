import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { setPriority } from 'node:os';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../functions/core/config/config';
import type { Log } from '../functions/core/ports';
import { RELAY_WORKER_ENV, type RelayWorkerSettings, WINDOW_LOG } from '../local/relay-worker';
import { type LocalStack, startLocalStack } from '../local/stack';

/** The relay's line for an attempt whose outcome it could not know (functions/core/failover/failover.ts). */
export const UNCERTAIN_LOG = 'send outcome unknown; retrying later on the same provider';

/** USER_HZ: Linux reports process times in hundredths of a second on every common architecture. */
const CLOCK_TICKS_PER_SECOND = 100;

const WORKER_ENTRY = fileURLToPath(new URL('../local/relay-worker.ts', import.meta.url));

/** One relay process from start to end. */
export interface Generation {
  readonly number: number;
  readonly startedAt: number;
  endedAt: number | undefined;
  /**
   * Ended by SIGKILL, not by a clean stop: from the harness, or by itself when an invocation outran
   * relay.timeoutSeconds (as Lambda resets the environment at the timeout).
   */
  killed: boolean;
  /** Ended itself at an invocation's timeout (one of the `killed`). */
  timedOut?: boolean;
  /** Jobs this process marked sent in the claim table. */
  readonly completed: Set<string>;
}

/** What the relay processes said, gathered from their JSON log lines. */
export interface WorkerObservations {
  readonly generations: Generation[];
  /** Attempts the relay put back on the queue (transient failure, or another attempt holding the claim). */
  retries: number;
  /** Relay processes that ended themselves at an invocation's timeout, and were started again. */
  timeouts: number;
  /**
   * Jobs with an attempt whose outcome the relay could not know (no answer after the mail was sent): retried
   * on the same provider, so a second copy is the documented ambiguous window, not a fault.
   */
  readonly uncertainJobs: Set<string>;
  /** Milliseconds from the provider's acceptance to the completion record, per sent job. */
  readonly windowsMs: number[];
  /** Lines that were not JSON, or error lines: kept for a failing run's report. */
  readonly trouble: string[];
}

/**
 * Runs the relay (local/relay-worker.ts) as a child process that can be killed, and starts a new one
 * each time. Node runs the TypeScript through tsx's loader in the same process, so the pid is the relay's.
 */
export class RelayWorkers {
  readonly observations: WorkerObservations = {
    generations: [],
    retries: 0,
    timeouts: 0,
    uncertainJobs: new Set(),
    windowsMs: [],
    trouble: [],
  };
  /** Called with each job id a relay process marks sent, as its line arrives. */
  onCompleted: ((jobId: string) => void) | undefined;
  /** Called with every JSON log line of every relay process (chaos modules read their own lines). */
  onLine: ((entry: Record<string, unknown>) => void) | undefined;
  /** A file every relay process's log lines are appended to, each with its generation (`--relay-log`). */
  logFile: string | undefined;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** Settles once a process that ended at a timeout has been replaced (or at once for other ends). */
  private restarted: Promise<void> = Promise.resolve();
  private ready: Promise<void> = Promise.resolve();

  constructor(
    private readonly settings: Omit<RelayWorkerSettings, 'generation'>,
    /** Secrets the relay reads from its environment (the SMTP password). */
    private readonly env: Readonly<Record<string, string>> = {},
    /** The relay's scheduling priority (a nice value, 19 lowest); absent, the system's default. */
    private readonly priority?: number,
  ) {}

  /** Starts a new relay process and resolves when it polls the queue. */
  async start(): Promise<void> {
    const generation: Generation = {
      number: this.observations.generations.length + 1,
      startedAt: Date.now(),
      endedAt: undefined,
      killed: false,
      timedOut: false,
      completed: new Set(),
    };
    this.observations.generations.push(generation);
    const settings: RelayWorkerSettings = { ...this.settings, generation: generation.number };
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER_ENTRY], {
      env: {
        ...process.env,
        ...this.env,
        [RELAY_WORKER_ENV]: JSON.stringify(settings),
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        POWERTOOLS_LOG_LEVEL: 'INFO',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    if (this.priority !== undefined && child.pid !== undefined) setPriority(child.pid, this.priority);
    let markReady: () => void = () => {};
    this.ready = new Promise<void>((resolve) => {
      markReady = resolve;
    });
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        generation.endedAt = Date.now();
        markReady();
        resolve();
      });
    });
    // Lambda starts a new environment for the next batch after a timeout; so does the harness. `close`
    // comes after the process's output was read, so its timeout line has been seen.
    this.restarted = new Promise<void>((resolve) => {
      child.once('close', () => {
        if (!generation.timedOut || this.child !== child) return resolve();
        this.start().then(resolve, (error: unknown) => {
          this.keepTrouble(`restart after a timeout: ${String(error)}`);
          resolve();
        });
      });
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) =>
      this.observe(line, generation, markReady),
    );
    // Powertools writes warnings and errors to stderr: both streams carry JSON lines.
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) =>
      this.observe(line, generation, markReady),
    );
    await this.ready;
    if (generation.endedAt !== undefined && !generation.killed) {
      throw new Error(
        `the relay process exited at start: ${this.observations.trouble.slice(-5).join(' | ')}`,
      );
    }
  }

  /** SIGKILL, as a crash or a Lambda timeout would end it: no cleanup, no pending write finished. */
  async kill(): Promise<number> {
    if (this.observations.generations.at(-1)?.timedOut) {
      // Ending itself at a timeout: kill its replacement, not the process already gone.
      const restarted = this.restarted;
      await this.exited;
      await restarted;
    }
    const child = this.child;
    const generation = this.observations.generations.at(-1);
    if (!child || !generation || generation.endedAt !== undefined) return Date.now();
    generation.killed = true;
    const at = Date.now();
    child.kill('SIGKILL');
    await this.exited;
    return at;
  }

  /**
   * CPU time (user + system, ms) the running relay process has used, from /proc on Linux; undefined
   * elsewhere or when no relay runs.
   */
  cpuMs(): number | undefined {
    const pid = this.child?.pid;
    if (pid === undefined || this.observations.generations.at(-1)?.endedAt !== undefined) return undefined;
    try {
      // Fields 14 and 15 of /proc/<pid>/stat, after the parenthesised command name, in clock ticks.
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      const ticks = Number(fields[11]) + Number(fields[12]);
      return Number.isFinite(ticks) ? (ticks * 1000) / CLOCK_TICKS_PER_SECOND : undefined;
    } catch {
      return undefined;
    }
  }

  /** A clean stop: the pollers end and the open batches finish. */
  async stop(): Promise<void> {
    const generation = this.observations.generations.at(-1);
    if (!this.child || !generation || generation.endedAt !== undefined) return;
    this.child.kill('SIGTERM');
    await this.exited;
  }

  private observe(line: string, generation: Generation, markReady: () => void): void {
    if (this.logFile !== undefined) appendFileSync(this.logFile, `${generation.number} ${line}\n`);
    let entry: { message?: unknown; level?: unknown; outcome?: unknown; jobId?: unknown; windowMs?: unknown };
    try {
      entry = JSON.parse(line) as typeof entry;
    } catch {
      if (line.trim()) this.keepTrouble(`gen ${generation.number}: ${line}`);
      return;
    }
    if (entry.message === 'relay worker ready') markReady();
    if (entry.message === WINDOW_LOG.timedOut) {
      generation.killed = true;
      generation.timedOut = true;
      this.observations.timeouts += 1;
    }
    this.onLine?.(entry);
    if (entry.outcome === 'retry') this.observations.retries += 1;
    if (entry.message === UNCERTAIN_LOG && typeof entry.jobId === 'string')
      this.observations.uncertainJobs.add(entry.jobId);
    if (entry.message === WINDOW_LOG.completed && typeof entry.jobId === 'string') {
      generation.completed.add(entry.jobId);
      this.onCompleted?.(entry.jobId);
      if (typeof entry.windowMs === 'number') this.observations.windowsMs.push(entry.windowMs);
    }
    if (entry.level === 'ERROR') this.keepTrouble(`gen ${generation.number}: ${line}`);
  }

  private keepTrouble(line: string): void {
    if (this.observations.trouble.length < 50) this.observations.trouble.push(line.slice(0, 500));
  }
}

export interface SplitStackOptions {
  /** The `postroom` context, as cdk.json holds it; each process parses it. */
  readonly raw: Record<string, unknown>;
  readonly log?: Log;
  /** An API key the stack accepts from the start. */
  readonly apiKey?: string;
  /** The relay's nice value; absent, the system's default. */
  readonly relayPriority?: number;
  /** Called with each job id the relay marks sent. */
  readonly onCompleted?: (jobId: string) => void;
  /**
   * Whether the relay starts with the stack; when false the caller starts it (`relay.start()`). Stopping a
   * relay instead is not the same: fauxqs keeps the long polls of a stopped relay open and hands the next
   * message to one of them, where it stays invisible until its visibility timeout.
   * @default true
   */
  readonly startRelay?: boolean;
}

/**
 * The local stack with its relay in a process of its own, as on AWS the relay is another function on other
 * machines: this process runs the emulators and the API, the child runs the relay.
 */
export async function startStackWithRelayProcess(
  options: SplitStackOptions,
): Promise<{ stack: LocalStack; relay: RelayWorkers; stop(): Promise<void> }> {
  const quiet: Log = { info() {}, warn() {}, error() {} };
  const stack = await startLocalStack({
    config: parseConfig(options.raw),
    ports: { api: 0, ses: 0, sqs: 0, dynamodb: 0 },
    log: options.log ?? quiet,
    apiKey: options.apiKey,
    relay: false,
  });
  const relay = new RelayWorkers(
    { config: options.raw, endpoints: stack.endpoints, resources: stack.resources },
    {},
    options.relayPriority,
  );
  relay.onCompleted = options.onCompleted;
  try {
    if (options.startRelay ?? true) await relay.start();
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return {
    stack,
    relay,
    stop: async () => {
      await relay.stop();
      await stack.stop();
    },
  };
}

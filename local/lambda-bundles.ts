import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Context } from 'aws-lambda';
import type { Log } from '../functions/core/ports';
import type { LocalResources } from './emulators';

/**
 * The functions `cdk synth` builds, by the folder under `functions/` each comes from. The webhook dispatcher
 * exists only when the configuration has webhooks.
 */
export type BundledFunction = 'send' | 'relay' | 'events' | 'webhooks';

/** One function as the synthesized template describes it. */
export interface FunctionBundle {
  readonly function: BundledFunction;
  /** The construct path, e.g. `Postroom/Api/Send/Function/Resource`. */
  readonly constructPath: string;
  /** The asset folder: what Lambda unpacks into /var/task. */
  readonly codeDir: string;
  /** `index.handler`. */
  readonly handler: string;
  readonly runtime: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** The function's environment as the template has it: strings, or references to other resources. */
  readonly environment: Readonly<Record<string, unknown>>;
}

/** Which construct each function is, by the end of its construct path (infra/constructs/*.ts). */
const CONSTRUCT_PATHS: Record<BundledFunction, string> = {
  send: '/Api/Send/Function/Resource',
  relay: '/Relay/Relay/Function/Resource',
  events: '/DeliveryEvents/Events/Function/Resource',
  webhooks: '/Webhooks/Dispatcher/Function/Resource',
};

/** The template or its assets do not hold what the local stack needs to run a function. */
export class BundleLayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BundleLayoutError';
  }
}

interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}

export interface SynthesizedApp {
  readonly cdkOut: string;
  readonly resources: Readonly<Record<string, TemplateResource>>;
  readonly functions: Readonly<Record<Exclude<BundledFunction, 'webhooks'>, FunctionBundle>> & {
    /** Present when the app was synthesized with webhooks. */
    readonly webhooks?: FunctionBundle;
  };
}

/** The bundle of `fn`; a BundleLayoutError when the app has none (the dispatcher, without webhooks). */
export function bundleOf(app: SynthesizedApp, fn: BundledFunction): FunctionBundle {
  const bundle = app.functions[fn];
  if (bundle === undefined) throw new BundleLayoutError(`${app.cdkOut} has no ${fn} function`);
  return bundle;
}

/**
 * Reads a cloud assembly (`cdk synth`'s output folder) for the three functions: each one's asset folder,
 * found from the template's Code.S3Key (`<asset hash>.zip`, staged as `asset.<asset hash>`), and its runtime
 * settings. The assembly must have path metadata (the CLI's default, `aws:cdk:enable-path-metadata`).
 */
export function readSynthesizedApp(cdkOut: string, stackName = 'Postroom'): SynthesizedApp {
  const templateFile = path.join(cdkOut, `${stackName}.template.json`);
  if (!existsSync(templateFile)) {
    const found = existsSync(cdkOut) ? readdirSync(cdkOut).join(', ') : 'nothing';
    throw new BundleLayoutError(`${templateFile} does not exist (the folder holds ${found}): run cdk synth`);
  }
  const template = JSON.parse(readFileSync(templateFile, 'utf8')) as {
    Resources: Record<string, TemplateResource>;
  };
  const lambdas = Object.values(template.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
  const find = (name: BundledFunction): FunctionBundle => {
    const resource = lambdas.find((r) =>
      String(r.Metadata?.['aws:cdk:path'] ?? '').endsWith(CONSTRUCT_PATHS[name]),
    );
    if (!resource?.Properties) {
      throw new BundleLayoutError(
        `no function at *${CONSTRUCT_PATHS[name]} in ${templateFile} (synthesized without path metadata?)`,
      );
    }
    const props = resource.Properties as {
      Code?: { S3Key?: unknown };
      Handler?: string;
      Runtime?: string;
      Timeout?: number;
      MemorySize?: number;
      Environment?: { Variables?: Record<string, unknown> };
    };
    const key = props.Code?.S3Key;
    if (typeof key !== 'string' || !key.endsWith('.zip')) {
      throw new BundleLayoutError(`${name}: Code.S3Key is not an asset zip: ${JSON.stringify(key)}`);
    }
    const codeDir = path.join(cdkOut, `asset.${key.slice(0, -'.zip'.length)}`);
    if (!existsSync(codeDir)) throw new BundleLayoutError(`${name}: its asset ${codeDir} is missing`);
    return {
      function: name,
      constructPath: String(resource.Metadata?.['aws:cdk:path']),
      codeDir,
      handler: props.Handler ?? 'index.handler',
      runtime: props.Runtime ?? '',
      timeoutSeconds: props.Timeout ?? 3,
      memoryMb: props.MemorySize ?? 128,
      environment: props.Environment?.Variables ?? {},
    };
  };
  const hasWebhooks = lambdas.some((r) =>
    String(r.Metadata?.['aws:cdk:path'] ?? '').endsWith(CONSTRUCT_PATHS.webhooks),
  );
  return {
    cdkOut,
    resources: template.Resources,
    functions: {
      send: find('send'),
      relay: find('relay'),
      events: find('events'),
      ...(hasWebhooks ? { webhooks: find('webhooks') } : {}),
    },
  };
}

/** What a reference in a function's environment stands for locally. */
export interface LocalValues {
  readonly resources: LocalResources;
  /** The SES configuration set the relay names (the stack creates one on AWS). */
  readonly configurationSet: string;
  /** The webhook queue and its DLQ, when the app has webhooks (local/webhooks.ts). */
  readonly webhooks?: { readonly queueUrl: string; readonly deadLetterQueueUrl: string } | undefined;
  /**
   * The submission archive (a form with `archive`): its table, and the name the local secrets endpoint
   * serves the erasure index's key by (local/archive.ts).
   */
  readonly archive?: { readonly tableName: string; readonly hashKeySecret: string } | undefined;
}

/** A variable the template gives a function that the local stack has no value for. */
export class UnresolvedEnvironmentError extends Error {
  constructor(fn: BundledFunction, variable: string, value: unknown) {
    super(
      `${fn}: the template sets ${variable} to ${JSON.stringify(value)}, which the local stack cannot ` +
        'resolve: teach local/lambda-bundles.ts (resolveEnvironment) what it is locally',
    );
    this.name = 'UnresolvedEnvironmentError';
  }
}

/**
 * The function's environment with each CloudFormation reference replaced by the local resource it names.
 * A variable is resolved by its name and the type of the resource it refers to, both checked: a new
 * variable, or one that starts to refer to something else, fails here rather than reaching the bundle with
 * a wrong value. Literal strings pass through as they are.
 */
export function resolveEnvironment(
  app: SynthesizedApp,
  fn: BundledFunction,
  local: LocalValues,
): Record<string, string> {
  const expected: Record<string, { type: string; value: string }> = {
    TABLE_NAME: { type: 'AWS::DynamoDB::Table', value: local.resources.tableName },
    MAIL_QUEUE_URL: { type: 'AWS::SQS::Queue', value: local.resources.queueUrl },
    DEAD_LETTER_QUEUE_URL: { type: 'AWS::SQS::Queue', value: local.resources.deadLetterQueueUrl },
    ATTACHMENTS_BUCKET: { type: 'AWS::S3::Bucket', value: local.resources.attachmentsBucket },
    SES_CONFIGURATION_SET: { type: 'AWS::SES::ConfigurationSet', value: local.configurationSet },
    ...(local.webhooks
      ? {
          WEBHOOK_QUEUE_URL: { type: 'AWS::SQS::Queue', value: local.webhooks.queueUrl },
          WEBHOOK_DEAD_LETTER_QUEUE_URL: {
            type: 'AWS::SQS::Queue',
            value: local.webhooks.deadLetterQueueUrl,
          },
        }
      : {}),
    ...(local.archive
      ? {
          ARCHIVE_TABLE: { type: 'AWS::DynamoDB::Table', value: local.archive.tableName },
          ARCHIVE_HASH_KEY_SECRET: {
            type: 'AWS::SecretsManager::Secret',
            value: local.archive.hashKeySecret,
          },
        }
      : {}),
  };
  // Scheduled send beyond 15 minutes (infra/constructs/scheduling.ts): there is no EventBridge Scheduler
  // locally, so the bundled send function gets names that say so; it reads them only when it first creates a
  // schedule, which then fails (503), while shorter waits go through the queue's delay.
  const byAttribute: Record<string, { type: string; value: string }> = {
    MAIL_QUEUE_ARN: { type: 'AWS::SQS::Queue', value: 'arn:aws:sqs:local:000000000000:postroom-local-mail' },
    SCHEDULER_ROLE_ARN: {
      type: 'AWS::IAM::Role',
      value: 'arn:aws:iam::000000000000:role/no-scheduler-locally',
    },
    SCHEDULE_DLQ_ARN: {
      type: 'AWS::SQS::Queue',
      value: 'arn:aws:sqs:local:000000000000:no-scheduler-locally',
    },
  };
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(bundleOf(app, fn).environment)) {
    if (typeof value === 'string') {
      out[name] = value;
      continue;
    }
    const attribute = (value as { 'Fn::GetAtt'?: unknown } | null)?.['Fn::GetAtt'];
    if (Array.isArray(attribute) && attribute[1] === 'Arn' && typeof attribute[0] === 'string') {
      const known = byAttribute[name];
      if (!known || app.resources[attribute[0]]?.Type !== known.type)
        throw new UnresolvedEnvironmentError(fn, name, value);
      out[name] = known.value;
      continue;
    }
    const ref = (value as { Ref?: unknown } | null)?.Ref;
    const target = typeof ref === 'string' ? app.resources[ref] : undefined;
    const known = expected[name];
    if (!known || target?.Type !== known.type) throw new UnresolvedEnvironmentError(fn, name, value);
    out[name] = known.value;
  }
  return out;
}

/** An invocation failed: the handler threw, the host crashed, or the function timed out. */
export class LambdaInvokeError extends Error {
  constructor(
    readonly functionName: string,
    readonly errorType: string,
    errorMessage: string,
  ) {
    super(`${functionName}: ${errorType}: ${errorMessage}`);
    this.name = 'LambdaInvokeError';
  }
}

interface RuntimeError {
  errorType: string;
  errorMessage: string;
}

type HostMessage =
  | { type: 'ready'; nodeVersion: string }
  | { type: 'init-error' | 'crash'; error: RuntimeError }
  | { type: 'result'; id: string; result: unknown }
  | { type: 'error'; id: string; error: RuntimeError };

export interface LambdaFunctionOptions {
  readonly bundle: FunctionBundle;
  /** The function's name in contexts and logs, e.g. `postroom-send`. */
  readonly functionName: string;
  /** The Node binary to run it with (local/lambda-node.ts). */
  readonly node: string;
  /** The function's environment (resolveEnvironment) plus the endpoints and credentials of the emulators. */
  readonly environment: Readonly<Record<string, string>>;
  /** Where the function's lines go: its JSON log lines are parsed back into log calls. */
  readonly log: Log;
  /** Execution environments running at once, as Lambda's concurrency. @default 1 */
  readonly maxConcurrency?: number;
  /** How long an environment's init (the import of the handler) may take. @default 30 s */
  readonly initTimeoutMs?: number;
}

const HOST_SCRIPT = path.join(import.meta.dirname, 'lambda-host.mjs');

/**
 * One function run from its synthesized bundle, as Lambda runs it: each execution environment is a child
 * process (local/lambda-host.mjs) on the Lambda runtime's Node, with nothing but the function's environment,
 * handling one invocation at a time. Environments start on demand up to `maxConcurrency` and are reused
 * (warm starts); one that crashes or times out is thrown away, and the next invocation starts a new one.
 */
export class LambdaFunction {
  private readonly idle: LambdaEnvironment[] = [];
  private readonly all = new Set<LambdaEnvironment>();
  private readonly waiting: Array<{
    resolve(environment: LambdaEnvironment): void;
    reject(error: unknown): void;
  }> = [];
  private starting = 0;
  private stopped = false;

  constructor(private readonly options: LambdaFunctionOptions) {}

  /** Invokes the handler with `event`; resolves to its result, rejects with LambdaInvokeError. */
  async invoke(event: unknown, context?: Context): Promise<unknown> {
    const environment = await this.acquire();
    try {
      return await environment.invoke(event, context, this.options.bundle.timeoutSeconds);
    } finally {
      this.release(environment);
    }
  }

  /**
   * Starts one environment now, so its init errors surface at start and the first call is warm; resolves
   * to the Node version the environment runs (`process.version` inside it).
   */
  async warm(): Promise<string> {
    const environment = await this.acquire();
    this.release(environment);
    return environment.nodeVersion;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const waiter of this.waiting.splice(0)) {
      waiter.reject(new LambdaInvokeError(this.options.functionName, 'Stopped', 'the stack stopped'));
    }
    await Promise.all([...this.all].map((environment) => environment.stop()));
  }

  private async acquire(): Promise<LambdaEnvironment> {
    if (this.stopped) throw new LambdaInvokeError(this.options.functionName, 'Stopped', 'the stack stopped');
    const ready = this.idle.pop();
    if (ready) return ready;
    if (this.all.size + this.starting < (this.options.maxConcurrency ?? 1)) {
      this.starting += 1;
      try {
        const environment = await LambdaEnvironment.start(this.options);
        this.all.add(environment);
        environment.exited.then(() => {
          this.all.delete(environment);
          const at = this.idle.indexOf(environment);
          if (at >= 0) this.idle.splice(at, 1);
        });
        return environment;
      } catch (error) {
        // A caller waiting for a place tries a start of its own (and gets its own error), never waits on.
        this.handOver();
        throw error;
      } finally {
        this.starting -= 1;
      }
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private handOver(): void {
    const next = this.waiting.shift();
    if (next) queueMicrotask(() => this.acquire().then(next.resolve, next.reject));
  }

  private release(environment: LambdaEnvironment): void {
    if (!environment.alive) {
      // Its place is free: a caller waiting for one starts a new environment.
      this.handOver();
      return;
    }
    const next = this.waiting.shift();
    if (next) next.resolve(environment);
    else this.idle.push(environment);
  }
}

/**
 * The Powertools keys every line carries, not attributes of the event logged. `service` is one the stack's
 * own logger sets (and refuses as an attribute). Which function wrote the line is not on it (the functions'
 * compact lines leave that to the log group, functions/adapters/powertools-log.ts): `forwardLine` adds it
 * as `function_name`.
 */
const STANDARD_KEYS = new Set(['level', 'message', 'timestamp', 'service', 'sampling_rate', 'xray_trace_id']);

class LambdaEnvironment {
  alive = true;
  readonly exited: Promise<void>;
  private readonly pending = new Map<string, { resolve(v: unknown): void; reject(e: Error): void }>();

  private constructor(
    private readonly child: ChildProcess,
    private readonly functionName: string,
    private readonly memoryMb: number,
    readonly nodeVersion: string,
    exited: Promise<void>,
  ) {
    this.exited = exited;
  }

  static start(options: LambdaFunctionOptions): Promise<LambdaEnvironment> {
    const { bundle, functionName } = options;
    const child = fork(HOST_SCRIPT, [], {
      execPath: options.node,
      // Not this process's flags (tsx's loader, Vitest's): the runtime starts Node bare.
      execArgv: [],
      cwd: bundle.codeDir,
      env: {
        ...options.environment,
        POSTROOM_LAMBDA_HOST_TASK_ROOT: bundle.codeDir,
        POSTROOM_LAMBDA_HOST_HANDLER: bundle.handler,
      },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    for (const stream of [child.stdout, child.stderr]) {
      if (stream)
        createInterface({ input: stream }).on('line', (line) => forwardLine(line, functionName, options.log));
    }
    let environment: LambdaEnvironment | undefined;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    return new Promise<LambdaEnvironment>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new LambdaInvokeError(functionName, 'Runtime.InitTimeout', 'init did not finish'));
      }, options.initTimeoutMs ?? 30_000);
      child.on('message', (message: HostMessage) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          environment = new LambdaEnvironment(
            child,
            functionName,
            bundle.memoryMb,
            message.nodeVersion,
            exited,
          );
          resolve(environment);
        } else if (message.type === 'init-error') {
          clearTimeout(timer);
          reject(new LambdaInvokeError(functionName, message.error.errorType, message.error.errorMessage));
        } else {
          environment?.settle(message);
        }
      });
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(new LambdaInvokeError(functionName, 'Runtime.StartError', error.message));
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        // Rejects init if it was still running (a no-op after it settled).
        reject(
          new LambdaInvokeError(functionName, 'Runtime.ExitError', `exited during init (${signal ?? code})`),
        );
        environment?.exit(`exited (${signal ?? code})`);
      });
    });
  }

  invoke(event: unknown, context: Context | undefined, timeoutSeconds: number): Promise<unknown> {
    const id = randomUUID();
    const deadline = Date.now() + timeoutSeconds * 1000;
    const name = this.functionName;
    const plain = {
      functionName: context?.functionName ?? name,
      functionVersion: '$LATEST',
      invokedFunctionArn: context?.invokedFunctionArn ?? `arn:aws:lambda:local:000000000000:function:${name}`,
      memoryLimitInMB: String(this.memoryMb),
      awsRequestId: context?.awsRequestId ?? randomUUID(),
      logGroupName: `/aws/lambda/${name}`,
      logStreamName: 'local',
      deadline,
    };
    return new Promise((resolve, reject) => {
      // Lambda stops an invocation at the function's timeout and the environment with it.
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new LambdaInvokeError(name, 'Sandbox.Timedout', `Task timed out after ${timeoutSeconds} seconds`),
        );
        this.child.kill('SIGKILL');
      }, timeoutSeconds * 1000);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.send({ type: 'invoke', id, event, context: plain });
    });
  }

  settle(message: HostMessage): void {
    if (message.type === 'result' || message.type === 'error') {
      const waiter = this.pending.get(message.id);
      this.pending.delete(message.id);
      if (message.type === 'result') waiter?.resolve(message.result);
      else
        waiter?.reject(
          new LambdaInvokeError(this.functionName, message.error.errorType, message.error.errorMessage),
        );
    } else if (message.type === 'crash') {
      this.exit(`${message.error.errorType}: ${message.error.errorMessage}`);
    }
  }

  exit(reason: string): void {
    this.alive = false;
    for (const waiter of this.pending.values()) {
      waiter.reject(new LambdaInvokeError(this.functionName, 'Runtime.ExitError', reason));
    }
    this.pending.clear();
  }

  async stop(): Promise<void> {
    this.alive = false;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.disconnect();
      const killed = setTimeout(() => this.child.kill('SIGKILL'), 2_000);
      await this.exited;
      clearTimeout(killed);
    }
  }
}

/**
 * A line the function wrote: Powertools' JSON lines go back through `log` at their level with their keys as
 * attributes (as CloudWatch Logs would show them), and the function's name, which CloudWatch shows as the
 * log group (`/aws/lambda/<name>`); metric lines (EMF, `_aws`) are left out, as CloudWatch turns them into
 * metrics; anything else is logged as it is.
 */
function forwardLine(line: string, functionName: string, log: Log): void {
  if (line.trim() === '') return;
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    log.warn('function output', { line, function_name: functionName });
    return;
  }
  if (typeof parsed !== 'object' || parsed === null) {
    log.warn('function output', { line, function_name: functionName });
    return;
  }
  const entry = parsed as Record<string, unknown>;
  if ('_aws' in entry) return;
  const attributes = {
    ...Object.fromEntries(Object.entries(entry).filter(([key]) => !STANDARD_KEYS.has(key))),
    function_name: functionName,
  };
  const message = String(entry.message ?? '');
  const level = String(entry.level ?? 'INFO').toUpperCase();
  if (level === 'ERROR' || level === 'CRITICAL') log.error(message, attributes);
  else if (level === 'WARN') log.warn(message, attributes);
  else log.info(message, attributes);
}

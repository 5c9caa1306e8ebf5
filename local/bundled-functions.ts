import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { APIGatewayProxyResult, SNSEvent, SQSBatchResponse } from 'aws-lambda';
import type { PostroomConfig } from '../functions/core/config/config';
import type { Log } from '../functions/core/ports';
import type { ApiHandler } from './api-server';
import { LOCAL_ARCHIVE_HASH_KEY_SECRET } from './archive';
import { LOCAL_NAMES, type LocalResources } from './emulators';
import { startEventSource } from './event-source';
import {
  type BundledFunction,
  bundleOf,
  LambdaFunction,
  LambdaInvokeError,
  readSynthesizedApp,
  resolveEnvironment,
  type SynthesizedApp,
} from './lambda-bundles';
import { localContext } from './lambda-context';
import { startSecretsEndpoint } from './secrets-endpoint';
import { startSesEventsEndpoint } from './ses-events-endpoint';
import { DISPATCHER_TIMEOUT_SECONDS, type WebhookResources } from './webhooks';

/** Runs the functions from the bundles `cdk synth` built rather than from the TypeScript sources. */
export interface BundledFunctionsOptions {
  /** A cloud assembly synthesized from the same configuration as the stack's (local/synth.ts). */
  readonly cdkOut: string;
  /** The Node binary the functions run on: Lambda's major, from local/lambda-node.ts. */
  readonly node: string;
  /**
   * Where the relay's SES calls go, through the local event publisher. @default the SES emulator
   * (a test points it at a peer that fails).
   */
  readonly sesTarget?: string;
  /**
   * Variables added to every function's environment, after the stack's own: settings the SDK in the bundle
   * reads itself, such as AWS_MAX_ATTEMPTS (a test that wants the provider's throttle to reach the relay).
   */
  readonly environment?: Readonly<Record<string, string>>;
}

/** A local setting the bundles cannot honour: each would need an AWS service the stack does not emulate. */
export class BundledFunctionsUnsupportedError extends Error {
  constructor(what: string) {
    super(`${what} is not supported when the functions run from their bundles (functions: bundles)`);
    this.name = 'BundledFunctionsUnsupportedError';
  }
}

export interface BundledFunctions {
  readonly send: ApiHandler;
  /** The synthesized app the functions came from. */
  readonly app: SynthesizedApp;
  stop(): Promise<void>;
}

// The emulators accept any credentials; these never leave the machine. Lambda gives a function its role's
// session credentials in these variables, and the bundles read them there (functions/adapters/lambda-credentials.ts).
const LOCAL_CREDENTIALS = {
  AWS_ACCESS_KEY_ID: 'local',
  AWS_SECRET_ACCESS_KEY: 'local',
  AWS_SESSION_TOKEN: 'local',
};

/**
 * The send, relay and events functions from their bundles, each in processes of its own on the Lambda
 * runtime's Node (local/lambda-bundles.ts), wired as on AWS: the API server invokes send, a local event
 * source mapping invokes relay with batches from the mail queue, and SES events reach events through the
 * local SES event publisher (local/ses-events-endpoint.ts). Each gets the environment the template gives
 * it, resolved to the local resources, plus the emulators' endpoints as the SDK's own
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, so the bundles run unchanged.
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html
 */
export async function startBundledFunctions(options: {
  readonly bundles: BundledFunctionsOptions;
  readonly config: PostroomConfig;
  readonly endpoints: { sqs: string; s3: string; ses: string; dynamodb: string };
  readonly resources: LocalResources;
  readonly sqs: SQSClient;
  readonly log: Log;
  /** The webhook queue and the endpoints' signing secrets by id, when the config has webhooks. */
  readonly webhooks?: { resources: WebhookResources; secrets: Readonly<Record<string, string>> };
  /** The erasure index's local key (local/archive.ts), which the send function reads when a form has `archive`. */
  readonly archiveHashKey: string;
}): Promise<BundledFunctions> {
  const { config, endpoints, resources, log } = options;
  if (config.transport.kind === 'smtp' && config.transport.passwordSecret !== undefined) {
    throw new BundledFunctionsUnsupportedError('an SMTP password (read from Secrets Manager)');
  }
  if (config.forms.some((form) => form.captcha)) {
    throw new BundledFunctionsUnsupportedError('a form captcha (its secret is read from Secrets Manager)');
  }
  const app = readSynthesizedApp(options.bundles.cdkOut);
  // Lambda's HOME holds no AWS config files; nor does this one.
  const home = mkdtempSync(path.join(tmpdir(), 'postroom-lambda-home-'));
  const stops: Array<() => Promise<void>> = [async () => rmSync(home, { recursive: true, force: true })];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch(() => {});
  };
  const configurationSet =
    (config.transport.kind === 'ses' && config.transport.configurationSet) || 'postroom-local';

  const start = (
    fn: BundledFunction,
    sesEndpoint: string,
    maxConcurrency: number,
    extra: Record<string, string> = {},
  ): LambdaFunction => {
    const lambda = new LambdaFunction({
      bundle: bundleOf(app, fn),
      functionName: `postroom-${fn}`,
      node: options.bundles.node,
      log,
      maxConcurrency,
      environment: {
        ...functionEnvironment(app, fn, {
          config,
          endpoints,
          resources,
          home,
          sesEndpoint,
          configurationSet,
          webhooks: options.webhooks?.resources,
        }),
        ...extra,
        ...options.bundles.environment,
      },
    });
    stops.push(() => lambda.stop());
    return lambda;
  };
  const invoked = async <T>(fn: BundledFunction, run: () => Promise<unknown>) => {
    try {
      return (await run()) as T;
    } catch (error) {
      // The host's message says what broke (a missing chunk, an import error): the caller logs only a name.
      if (error instanceof LambdaInvokeError) {
        log.error('function invocation failed', {
          function: fn,
          errorType: error.errorType,
          error: error.message,
        });
      }
      throw error;
    }
  };

  try {
    /**
     * The webhook dispatcher from its bundle, fed by an event source mapping on the webhook queue as the
     * webhooks construct sets it (batches of 10, 2 at a time). Its signing secrets come from a local
     * Secrets Manager endpoint that knows only them; it may post to loopback receivers, as the in-process
     * dispatcher does (functions/webhooks/index.ts reads POSTROOM_LOCAL_WEBHOOKS; AWS never sets it).
     */
    const startBundledDispatcher = async (webhooks: NonNullable<typeof options.webhooks>) => {
      const secrets = await startSecretsEndpoint(
        new Map(
          config.webhooks.flatMap((endpoint) => {
            const value = webhooks.secrets[endpoint.id];
            return value === undefined ? [] : [[endpoint.secret, value] as const];
          }),
        ),
      );
      stops.push(() => secrets.stop());
      const dispatcher = start('webhooks', endpoints.ses, 2, {
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
        POSTROOM_LOCAL_WEBHOOKS: 'loopback',
      });
      await dispatcher.warm();
      const arn = await options.sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: webhooks.resources.queueUrl,
          AttributeNames: ['QueueArn'],
        }),
      );
      const source = startEventSource({
        sqs: options.sqs,
        queueUrl: webhooks.resources.queueUrl,
        queueArn: arn.Attributes?.QueueArn ?? '',
        region: config.region,
        batchSize: 10,
        concurrency: 2,
        handler: (event, context) =>
          invoked<SQSBatchResponse | undefined>('webhooks', () => dispatcher.invoke(event, context)),
        context: () => localContext('postroom-webhooks', DISPATCHER_TIMEOUT_SECONDS),
        log,
      });
      stops.push(() => source.stop());
    };

    const events = start('events', endpoints.ses, 1);
    const ses = await startSesEventsEndpoint({
      target: options.bundles.sesTarget ?? endpoints.ses,
      handler: (event: SNSEvent) => invoked('events', () => events.invoke(event)),
      log,
      region: config.region,
      configurationSet,
    });
    stops.push(() => ses.stop());

    // One environment per poller, as Lambda runs at most maxConcurrency relay invocations for the queue;
    // each relay paces at its share of the stack's rate (functions/relay/index.ts).
    const relay = start('relay', ses.url, config.queue.maxConcurrency);
    // The submission archive: the send function reads the erasure index's key from Secrets Manager, as on
    // AWS, here from a local endpoint that knows only that key (the one the CLI erases with), as its role
    // may read only that secret.
    let sendSecrets: Record<string, string> = {};
    if (config.forms.some((form) => form.archive !== undefined)) {
      const secrets = await startSecretsEndpoint(
        new Map([[LOCAL_ARCHIVE_HASH_KEY_SECRET, options.archiveHashKey]]),
      );
      stops.push(() => secrets.stop());
      sendSecrets = { AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url };
    }
    const send = start('send', endpoints.ses, 2, sendSecrets);
    // Init errors (a missing config.json, a module that fails to import) stop the stack at start.
    const [nodeVersion] = await Promise.all([send.warm(), relay.warm(), events.warm()]);
    log.info('functions running from their bundles', { cdkOut: app.cdkOut, nodeVersion });
    if (options.webhooks) await startBundledDispatcher(options.webhooks);

    const queueArn = await options.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: resources.queueUrl, AttributeNames: ['QueueArn'] }),
    );
    const source = startEventSource({
      sqs: options.sqs,
      queueUrl: resources.queueUrl,
      queueArn: queueArn.Attributes?.QueueArn ?? '',
      region: config.region,
      batchSize: config.queue.batchSize,
      concurrency: config.queue.maxConcurrency,
      handler: (event, context) =>
        invoked<SQSBatchResponse | undefined>('relay', () => relay.invoke(event, context)),
      context: () => localContext('postroom-relay', config.relay.timeoutSeconds),
      log,
    });
    stops.push(() => source.stop());

    return {
      app,
      send: (event, context) => invoked<APIGatewayProxyResult>('send', () => send.invoke(event, context)),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * What Lambda gives a function's process, locally: the runtime's reserved variables, credentials, the
 * template's variables resolved to the local resources, and the emulators' endpoints as the SDK's own
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, which the bundle's clients read without a change to its code.
 * https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime
 */
export function functionEnvironment(
  app: SynthesizedApp,
  fn: BundledFunction,
  local: {
    readonly config: PostroomConfig;
    readonly endpoints: { sqs: string; s3: string; ses: string; dynamodb: string };
    readonly resources: LocalResources;
    /** An empty folder: Lambda's HOME holds no AWS config files. */
    readonly home: string;
    /** Where the function's SES v2 client goes. @default the SES emulator */
    readonly sesEndpoint?: string;
    readonly configurationSet?: string;
    readonly webhooks?: WebhookResources | undefined;
  },
): Record<string, string> {
  const bundle = bundleOf(app, fn);
  const functionName = `postroom-${fn}`;
  const { config, endpoints, resources } = local;
  return {
    PATH: process.env.PATH ?? '',
    HOME: local.home,
    TZ: ':UTC',
    LANG: 'en_US.UTF-8',
    AWS_REGION: config.region,
    AWS_DEFAULT_REGION: config.region,
    AWS_EXECUTION_ENV: `AWS_Lambda_${bundle.runtime}`,
    AWS_LAMBDA_FUNCTION_NAME: functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(bundle.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${functionName}`,
    LAMBDA_TASK_ROOT: bundle.codeDir,
    _HANDLER: bundle.handler,
    ...LOCAL_CREDENTIALS,
    // The queue URLs' own origin (fauxqs names sqs.<region>.localhost): the SDK sends to a queue URL's host
    // and warns on every call when the configured endpoint differs, which on AWS it never does.
    AWS_ENDPOINT_URL_SQS: new URL(resources.queueUrl).origin,
    AWS_ENDPOINT_URL_S3: endpoints.s3,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_SESV2: local.sesEndpoint ?? endpoints.ses,
    // Only heard when the fallback runs the bundles on Node 20 (local/lambda-node.ts).
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...resolveEnvironment(app, fn, {
      resources,
      configurationSet: local.configurationSet ?? 'postroom-local',
      webhooks: local.webhooks,
      archive: {
        tableName: resources.archiveTableName ?? LOCAL_NAMES.archiveTable,
        hashKeySecret: LOCAL_ARCHIVE_HASH_KEY_SECRET,
      },
    }),
  };
}

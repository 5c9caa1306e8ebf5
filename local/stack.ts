import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyResult } from 'aws-lambda';
import { httpAkismetClient } from '../functions/adapters/akismet-client';
import { createDynamoClient } from '../functions/adapters/aws-clients';
import { httpCaptchaVerifier } from '../functions/adapters/captcha-verifier';
import { DynamoApiKeyStore } from '../functions/adapters/dynamodb-api-keys';
import { DynamoSubmissionArchive } from '../functions/adapters/dynamodb-archive';
import { DynamoBreakerStore } from '../functions/adapters/dynamodb-breakers';
import { DynamoClaimStore } from '../functions/adapters/dynamodb-claims';
import { DynamoGuardStore } from '../functions/adapters/dynamodb-guards';
import { DynamoMessageStore } from '../functions/adapters/dynamodb-messages';
import { DynamoScheduleStore } from '../functions/adapters/dynamodb-schedules';
import { DynamoSuppressionList } from '../functions/adapters/dynamodb-suppression';
import { DynamoWebhookStore } from '../functions/adapters/dynamodb-webhooks';
import { S3ArchiveFiles } from '../functions/adapters/s3-archive-files';
import { createS3Client, S3BlobStore } from '../functions/adapters/s3-blobs';
import { createSqsClient } from '../functions/adapters/sqs-client';
import { SqsMailQueue } from '../functions/adapters/sqs-queue';
import { SqsWebhookQueue } from '../functions/adapters/sqs-webhook-queue';
import { createMailTransport } from '../functions/adapters/transport';
import { hashApiKey } from '../functions/core/api/api-keys';
import type { PostroomConfig, TransportConfig } from '../functions/core/config/config';
import { ProviderBreakers } from '../functions/core/failover/breaker';
import { type Metrics, noMetrics } from '../functions/core/metrics';
import { type Clock, type Log, systemClock, type Transport } from '../functions/core/ports';
import { MAX_QUEUE_DELAY_SECONDS } from '../functions/core/scheduling/schedule';
import { createEventsHandler } from '../functions/events/app';
import { createSendHandler } from '../functions/send/app';
import { type ApiHandler, startApiServer } from './api-server';
import { localArchiveHashKey } from './archive';
import { type BundledFunctionsOptions, startBundledFunctions } from './bundled-functions';
import { type DemoForm, demoForm } from './demo-page';
import { createResources, LOCAL_HOST, LOCAL_NAMES, type LocalResources, startEmulators } from './emulators';
import { localContext } from './lambda-context';
import { startLocalRelay } from './relay';
import { LocalScheduler } from './scheduler';
import { LocalSesEvents } from './ses-events';
import { openStateDir } from './state';
import { LocalSubmissionsPage } from './submissions-page';
import { LocalTemplates } from './templates';
import { createWebhookResources, startLocalDispatcher, type WebhookResources } from './webhooks';

export interface LocalStackOptions {
  readonly config: PostroomConfig;
  /** 0 picks a free port. */
  readonly ports: { api: number; ses: number; sqs: number; dynamodb: number };
  readonly smtpPassword?: string | undefined;
  /**
   * The passwords of SMTP relays other than `smtp` in `transports`, by transport id (locally from
   * POSTROOM_SMTP_PASSWORD_<ID>).
   */
  readonly smtpPasswords?: Readonly<Record<string, string | undefined>>;
  readonly log: Log;
  /** Replaces the configured transport (tests use it to put a faulty provider in the path). */
  readonly transport?: Transport;
  readonly clock?: Clock;
  /** Where the functions count their metrics; locally nothing reads them unless a caller does. */
  readonly metrics?: Metrics;
  /** Captcha secret keys by form id, for the forms with a captcha. */
  readonly captchaSecrets?: Readonly<Record<string, string>>;
  /** An API key the stack accepts from the start (`POSTROOM_API_KEY`); only its hash is stored. */
  readonly apiKey?: string | undefined;
  /**
   * false leaves the mail queue to a relay in another process (local/relay-worker.ts), which the chaos
   * harness can kill. @default true
   */
  readonly relay?: boolean;
  /**
   * Where the functions come from: the TypeScript sources, in this process (`sources`), or the bundles
   * `cdk synth` built, each in processes of its own on the Lambda runtime's Node (local/bundled-functions.ts).
   * With bundles, `transport`, `metrics`, `clock`, `captchaSecrets` and `relay: false` do not apply: they
   * reach into this process. @default 'sources'
   */
  readonly functions?: 'sources' | BundledFunctionsOptions;
  /**
   * A folder where the DynamoDB emulator keeps its table across runs (local/state.ts); absent, everything
   * is in memory and gone at stop (tests, bench and chaos runs).
   */
  readonly stateDir?: string | undefined;
  /** Deletes the tables kept in `stateDir` before starting. */
  readonly fresh?: boolean;
  /** Webhook signing secrets by endpoint id (POSTROOM_WEBHOOK_SECRET_<ID>), for the configured webhooks. */
  readonly webhookSecrets?: Readonly<Record<string, string>>;
  /** Replaces the webhook retry schedule (tests shorten it). */
  readonly webhookSchedule?: ReadonlyArray<number>;
  /**
   * false leaves the webhook queue to a dispatcher in another process (chaos/dispatcher-worker.ts), which the
   * chaos harness can kill. @default true
   */
  readonly webhookDispatcher?: boolean;
  /**
   * Scheduled mail due within this many seconds waits on the mail queue (SQS DelaySeconds, which fauxqs
   * honours), as on AWS; later mail goes to the local scheduler. 0 sends every wait to the scheduler.
   * @default MAX_QUEUE_DELAY_SECONDS (900) without `stateDir`, as on AWS; 0 with it, because fauxqs keeps its
   * queues in memory only: a delayed job would not survive a restart, and the scheduler's table items do.
   */
  readonly maxQueueDelaySeconds?: number;
  /** The Akismet key (POSTROOM_AKISMET_KEY), for forms with `akismet`. */
  readonly akismetKey?: string | undefined;
  /**
   * Where Akismet is asked: tests give a peer on loopback. Code only, never configuration: the deployed
   * function always asks rest.akismet.com. @default Akismet's comment-check URL
   */
  readonly akismetUrl?: string | undefined;
}

export interface LocalStack {
  readonly apiUrl: string;
  /** The SES emulator: web inbox at `/`, sent mail as JSON at `/store`. */
  readonly sesUrl: string;
  /** `s3` is fauxqs's SQS endpoint: it serves both. */
  readonly endpoints: { sqs: string; s3: string; ses: string; dynamodb: string };
  readonly resources: LocalResources;
  /**
   * The form the demo page at `/` posts to, and what the stack allows it besides its configuration: the
   * page's own origins and thank-you pages on the port the API really listens on (in memory only).
   */
  readonly demo: DemoForm;
  /** The state folder in use, if any. */
  readonly stateDir: string | undefined;
  /** The webhook queue and its DLQ, when the config has webhooks. */
  readonly webhooks: WebhookResources | undefined;
  /** The local stand-in for EventBridge Scheduler (local/scheduler.ts). */
  readonly scheduler: LocalScheduler;
  /** Requests the emulators have served, by operation. */
  emulatorCalls(): Promise<Record<string, number>>;
  /** How long each emulator's thread has been busy, in ms (RunningEmulators.busyMs). */
  emulatorBusyMs(): Record<'sqs' | 'ses' | 'dynamodb', number>;
  stop(): Promise<void>;
}

/** The key id of the key set with POSTROOM_API_KEY. */
export const LOCAL_ENV_KEY_ID = 'key_local_env';

// The emulators accept any credentials; these never leave the machine.
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * The whole pipeline on one machine: emulators, the API (the real send handler behind a local HTTP
 * server) and the relay (the real relay handler fed by a local event source mapping).
 */
export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  const { config, log } = options;
  const state =
    options.stateDir === undefined ? undefined : openStateDir(options.stateDir, { fresh: options.fresh });
  const stops: Array<() => Promise<void>> = [async () => state?.release()];
  const stop = async () => {
    for (const step of stops.reverse()) await step().catch(() => {});
  };
  try {
    const emulators = await startEmulators(options.ports, { dynamodbPath: state?.dynamodbPath });
    stops.push(() => emulators.stop());
    const aws = { region: config.region, endpoints: emulators.endpoints, credentials: LOCAL_CREDENTIALS };
    const sqs = createSqsClient(aws);
    const dynamodb = createDynamoClient(aws);
    const s3 = createS3Client(aws);
    stops.push(async () => {
      sqs.destroy();
      dynamodb.destroy();
      s3.destroy();
    });
    const resources = await createResources(sqs, dynamodb, config, s3);
    const blobs = new S3BlobStore(s3, resources.attachmentsBucket);
    const archiveTable = resources.archiveTableName ?? LOCAL_NAMES.archiveTable;
    const archiveStore = new DynamoSubmissionArchive(dynamodb, archiveTable);
    const archiveHashKey = await localArchiveHashKey(dynamodb, resources.tableName);
    const archive = {
      store: archiveStore,
      files: new S3ArchiveFiles(s3, resources.attachmentsBucket),
      hashKey: async () => archiveHashKey,
    };
    const clock = options.clock ?? systemClock;
    const messages = new DynamoMessageStore(dynamodb, resources.tableName, config.relay.recordTtlDays);
    const apiKeys = new DynamoApiKeyStore(dynamodb, resources.tableName);
    await acceptEnvironmentKey(apiKeys, options.apiKey, clock);
    // Scheduled send: short waits on the queue as on AWS, unless the state is kept (maxQueueDelaySeconds).
    const maxQueueDelaySeconds =
      options.maxQueueDelaySeconds ?? (state === undefined ? MAX_QUEUE_DELAY_SECONDS : 0);
    const schedules = new DynamoScheduleStore(dynamodb, resources.tableName, config.relay.recordTtlDays);
    const scheduler = new LocalScheduler({
      dynamodb,
      tableName: resources.tableName,
      sqs,
      queueUrl: resources.queueUrl,
      clock,
      log,
    });
    await scheduler.start();
    stops.push(() => scheduler.stop());

    const metrics = options.metrics ?? noMetrics;
    const suppression = new DynamoSuppressionList(dynamodb, resources.tableName);
    // Webhooks: their own queue and DLQ, and the real dispatcher on it, as on AWS.
    const webhooks = config.webhooks.length > 0 ? await createWebhookResources(sqs) : undefined;
    const webhookQueue = webhooks ? new SqsWebhookQueue(sqs, webhooks.queueUrl) : undefined;
    const bundles =
      options.functions === undefined || options.functions === 'sources' ? undefined : options.functions;
    // With bundles the dispatcher runs from its bundle too (local/bundled-functions.ts).
    if (webhooks && bundles === undefined && options.webhookDispatcher !== false) {
      const dispatcher = await startLocalDispatcher({
        config,
        sqs,
        store: new DynamoWebhookStore(dynamodb, resources.tableName),
        resources: webhooks,
        secrets: options.webhookSecrets ?? {},
        clock,
        log,
        metrics,
        schedule: options.webhookSchedule,
      });
      stops.push(() => dispatcher.stop());
    }
    const events = createEventsHandler({
      messages,
      suppression,
      log,
      metrics,
      ...(webhookQueue ? { webhooks: { config, queue: webhookQueue } } : {}),
    });
    // SES publishes delivery events through the configuration set's SNS topic; the emulator does not, so
    // LocalSesEvents does, into the real events handler. An SMTP relay reports nothing back: no events.
    const localTransport = (transport: TransportConfig = config.transport): Transport => {
      const smtpPassword =
        transport.id === 'smtp' ? options.smtpPassword : options.smtpPasswords?.[transport.id];
      const configured = createMailTransport(transport, aws, { smtpPassword });
      if (transport.kind !== 'ses') return configured;
      return new LocalSesEvents(configured, {
        handler: (event) => events(event, localContext('postroom-events', 10)),
        log,
        region: config.region,
        configurationSet: transport.configurationSet ?? 'postroom-local',
      });
    };
    // Several transports: each its own, behind the breakers, in the same table (and adapter) as on AWS.
    const failover =
      options.transport === undefined && config.transports.length > 1
        ? {
            providers: config.transports.map((transport) => ({
              id: transport.id,
              kind: transport.kind,
              transport: localTransport(transport),
            })),
            breakers: new ProviderBreakers(
              new DynamoBreakerStore(dynamodb, resources.tableName),
              config.breaker,
              clock,
              config.relay.timeoutSeconds * 1000,
            ),
          }
        : undefined;
    const bundled =
      bundles === undefined
        ? undefined
        : await startBundledFunctions({
            bundles,
            config,
            endpoints: emulators.endpoints,
            resources,
            sqs,
            log,
            archiveHashKey,
            ...(webhooks ? { webhooks: { resources: webhooks, secrets: options.webhookSecrets ?? {} } } : {}),
          });
    if (bundled) stops.push(() => bundled.stop());
    if (!bundled && options.relay !== false) {
      const transport = options.transport ?? localTransport();
      stops.push(async () => transport.close?.());
      for (const provider of failover?.providers ?? []) stops.push(async () => provider.transport.close?.());
      const relay = await startLocalRelay({
        deps: {
          config,
          ...(failover ?? { transport }),
          claims: new DynamoClaimStore(dynamodb, resources.tableName, config.relay.recordTtlDays),
          clock,
          log,
          metrics,
          blobs,
          messages,
          ...(webhookQueue ? { webhookQueue } : {}),
          schedules,
        },
        sqs,
        resources,
      });
      stops.push(() => relay.stop());
    }

    // The demo page's origin is known once the API listens (port 0 picks one): until the handler exists, the
    // server answers 503, which no request sees in practice (it is set before the next turn of the loop).
    let send: ApiHandler | undefined;
    // The page reads the configuration the API runs with (the demo's additions are in memory only).
    let demoConfig: PostroomConfig | undefined;
    const mailQueue = new SqsMailQueue(sqs, resources.queueUrl);
    const templates = new LocalTemplates(undefined, config);
    const api = await startApiServer({
      host: LOCAL_HOST,
      port: options.ports.api,
      handler: (event, context) => (send ? send(event, context) : notReady()),
      context: () => localContext('postroom-send', 10),
      maxBodyBytes: config.api.maxBodyBytes,
      inboxUrl: emulators.endpoints.ses,
      demoFormId: (port) => demoForm(config, port).formId,
      templates,
      submissions: new LocalSubmissionsPage(() => ({
        config: demoConfig ?? config,
        archive: archiveStore,
        files: archive.files,
        queue: mailQueue,
        blobs,
        templates: templates.catalog,
        nowMs: clock.now(),
      })),
    });
    stops.push(() => api.stop());
    const demo = demoForm(config, api.port);
    demoConfig = demo.config;
    const handler = createSendHandler({
      config: demo.config,
      queue: mailQueue,
      clock,
      newId: randomUUID,
      log,
      metrics,
      guards: new DynamoGuardStore(dynamodb, resources.tableName),
      apiKeys,
      messages,
      suppression,
      blobs,
      ...(webhookQueue ? { webhookQueue } : {}),
      scheduling: { schedules, scheduler, maxQueueDelaySeconds },
      captcha: { verifier: httpCaptchaVerifier, secret: (formId) => options.captchaSecrets?.[formId] },
      templates: templates.catalog,
      archive,
      archiveReader: archiveStore,
      akismet: {
        client: httpAkismetClient(options.akismetUrl),
        key: async () => options.akismetKey,
      },
    });
    // The bundled send function reads the configuration built into its bundle: the demo's additions are
    // this process's, so with bundles the demo form keeps the configured origins only.
    send = bundled
      ? (event, context) => bundled.send(event, context)
      : (event, context) => handler(event, context);

    return {
      apiUrl: api.url,
      sesUrl: emulators.endpoints.ses,
      endpoints: emulators.endpoints,
      resources,
      demo: { formId: demo.formId, origins: demo.origins, thanksUrls: demo.thanksUrls },
      stateDir: state?.dir,
      webhooks,
      scheduler,
      emulatorCalls: () => emulators.calls(),
      emulatorBusyMs: () => emulators.busyMs(),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * POSTROOM_API_KEY is accepted from the start. With the table kept across runs, a key set by an earlier run
 * is there already; one that the variable no longer names (changed or unset) is revoked, so changing the
 * variable changes the key that works, as it did when nothing was kept.
 */
async function acceptEnvironmentKey(
  apiKeys: DynamoApiKeyStore,
  apiKey: string | undefined,
  clock: Clock,
): Promise<void> {
  const hash = apiKey ? hashApiKey(apiKey) : undefined;
  const now = new Date(clock.now()).toISOString();
  let present = false;
  for (const record of await apiKeys.list()) {
    if (record.keyId !== LOCAL_ENV_KEY_ID) continue;
    // The same key revoked (with `postroom keys revoke`) stays revoked.
    if (record.hash === hash) present = true;
    else if (!record.revoked) await apiKeys.revokeHash(record.hash, now);
  }
  if (hash === undefined || present) return;
  await apiKeys.create({
    keyId: LOCAL_ENV_KEY_ID,
    name: 'POSTROOM_API_KEY',
    hash,
    createdAt: now,
    revoked: false,
  });
}

async function notReady(): Promise<APIGatewayProxyResult> {
  return {
    statusCode: 503,
    headers: { 'content-type': 'application/problem+json', 'retry-after': '1' },
    body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503 }),
  };
}

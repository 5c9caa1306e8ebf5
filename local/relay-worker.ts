import { writeSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { createDynamoClient } from '../functions/adapters/aws-clients';
import { DynamoBreakerStore } from '../functions/adapters/dynamodb-breakers';
import { DynamoClaimStore } from '../functions/adapters/dynamodb-claims';
import { DynamoMessageStore } from '../functions/adapters/dynamodb-messages';
import { DynamoScheduleStore } from '../functions/adapters/dynamodb-schedules';
import { createLogger } from '../functions/adapters/powertools-log';
import { createS3Client, S3BlobStore } from '../functions/adapters/s3-blobs';
import { createSqsClient } from '../functions/adapters/sqs-client';
import { createProviders, smtpSecretVariable } from '../functions/adapters/transport';
import { parseConfig } from '../functions/core/config/config';
import { ProviderBreakers } from '../functions/core/failover/breaker';
import { noMetrics } from '../functions/core/metrics';
import { type ClaimStore, type Log, systemClock, type Transport } from '../functions/core/ports';
import type { LocalResources } from './emulators';
import { startLocalRelay } from './relay';

/**
 * The relay alone, in its own process: the local event source and the real relay handler against
 * emulators someone else runs (`startLocalStack({ relay: false })`). The chaos harness starts it, kills
 * it with SIGKILL at random moments and starts it again.
 *
 * Configured by one environment variable, POSTROOM_RELAY_WORKER, holding the JSON of RelayWorkerSettings.
 * Logs are JSON lines on stdout. Besides the relay's own lines, the worker marks the two ends of the only
 * window where a crash sends a mail twice: "provider accepted" when the transport returns and
 * "completion recorded" when the claim is marked sent, with the time between them.
 */
export interface RelayWorkerSettings {
  /** The `postroom` configuration (raw: it is parsed here as everywhere). */
  readonly config: unknown;
  readonly endpoints: { sqs: string; s3: string; ses: string; dynamodb: string };
  readonly resources: LocalResources;
  /** Hides received messages this long instead of the queue's visibility timeout. */
  readonly visibilityTimeoutSeconds?: number;
  /** A label the harness gives each worker it starts, repeated on the window lines. */
  readonly generation?: number;
}

export const RELAY_WORKER_ENV = 'POSTROOM_RELAY_WORKER';

export const WINDOW_LOG = {
  accepted: 'provider accepted',
  completed: 'completion recorded',
  /** An invocation ran past relay.timeoutSeconds: the process ends itself, as Lambda resets the environment. */
  timedOut: 'invocation timed out; the environment is reset',
} as const;

// The emulators accept any credentials; these never leave the machine.
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

export async function startRelayWorker(
  settings: RelayWorkerSettings,
  log: Log,
): Promise<() => Promise<void>> {
  const config = parseConfig(settings.config);
  const aws = { region: config.region, endpoints: settings.endpoints, credentials: LOCAL_CREDENTIALS };
  const sqs = createSqsClient(aws);
  const dynamodb = createDynamoClient(aws);
  const s3 = createS3Client(aws);
  const { resources } = settings;
  const generation = settings.generation ?? 0;
  const accepted = new Map<string, number>();

  const markAccepted = (provider: string) => (jobId: string) => {
    accepted.set(jobId, Date.now());
    log.info(WINDOW_LOG.accepted, { jobId, generation, provider });
  };
  // Each transport with its own password (POSTROOM_SMTP_PASSWORD, POSTROOM_SMTP_PASSWORD_<ID>).
  const providers = createProviders(config.transports, aws, {
    smtpPassword: (id) => process.env[smtpSecretVariable('POSTROOM_SMTP_PASSWORD', id)],
  }).map((provider) => ({
    ...provider,
    transport: marksAcceptance(provider.transport, markAccepted(provider.id)),
  }));
  const transport: Transport = {
    send: () => Promise.reject(new Error('the worker sends through its providers')),
    close: async () => {
      await Promise.all(providers.map((provider) => provider.transport.close?.()));
    },
  };
  // More than one provider: the breakers, in the emulated table, through the adapter AWS uses.
  const breakers =
    config.transports.length > 1
      ? new ProviderBreakers(
          new DynamoBreakerStore(dynamodb, resources.tableName),
          config.breaker,
          systemClock,
          config.relay.timeoutSeconds * 1000,
        )
      : undefined;
  const claims = marksCompletion(
    new DynamoClaimStore(dynamodb, resources.tableName, config.relay.recordTtlDays),
    (jobId) => {
      const at = accepted.get(jobId);
      accepted.delete(jobId);
      log.info(WINDOW_LOG.completed, {
        jobId,
        generation,
        ...(at === undefined ? {} : { windowMs: Date.now() - at }),
      });
    },
  );
  const relay = await startLocalRelay({
    deps: {
      config,
      providers,
      ...(breakers ? { breakers } : {}),
      claims,
      clock: systemClock,
      log,
      metrics: noMetrics,
      blobs: new S3BlobStore(s3, resources.attachmentsBucket),
      messages: new DynamoMessageStore(dynamodb, resources.tableName, config.relay.recordTtlDays),
      schedules: new DynamoScheduleStore(dynamodb, resources.tableName, config.relay.recordTtlDays),
    },
    sqs,
    resources,
    visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
    onTimeout: () => {
      // Written synchronously: the process ends on the next line, and a piped stdout write is asynchronous.
      writeSync(
        1,
        `${JSON.stringify({ level: 'ERROR', message: WINDOW_LOG.timedOut, generation, timeoutSeconds: config.relay.timeoutSeconds })}\n`,
      );
      process.kill(process.pid, 'SIGKILL');
    },
  });
  return async () => {
    await relay.stop();
    await transport.close?.();
    sqs.destroy();
    dynamodb.destroy();
    s3.destroy();
  };
}

function marksAcceptance(transport: Transport, accepted: (jobId: string) => void): Transport {
  return {
    async send(mail) {
      const result = await transport.send(mail);
      accepted(mail.jobId);
      return result;
    },
    close: () => transport.close?.() ?? Promise.resolve(),
  };
}

function marksCompletion(claims: ClaimStore, completed: (jobId: string) => void): ClaimStore {
  return {
    claim: (jobId, nowMs, leaseUntilMs) => claims.claim(jobId, nowMs, leaseUntilMs),
    async complete(jobId, providerMessageId, nowMs) {
      await claims.complete(jobId, providerMessageId, nowMs);
      completed(jobId);
    },
    release: (...args) => claims.release(...args),
    fail: (...args) => claims.fail(...args),
  };
}

async function main(): Promise<void> {
  const { log } = createLogger('postroom-relay-worker');
  const raw = process.env[RELAY_WORKER_ENV];
  if (!raw) throw new Error(`${RELAY_WORKER_ENV} must hold the worker settings as JSON`);
  const stop = await startRelayWorker(JSON.parse(raw) as RelayWorkerSettings, log);
  log.info('relay worker ready');
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

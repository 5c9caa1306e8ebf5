import { randomUUID } from 'node:crypto';
import { GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { DynamoWebhookStore } from '../functions/adapters/dynamodb-webhooks';
import { createSqsClient } from '../functions/adapters/sqs-client';
import { SqsWebhookQueue } from '../functions/adapters/sqs-webhook-queue';
import type { PostroomConfig } from '../functions/core/config/config';
import { parseSince, replayEndpointSince, replayWebhookEvent } from '../functions/core/webhooks/replay';
import { type WebhookMessage, webhookEventId } from '../functions/core/webhooks/webhook-event';
import { localConfig, readPostroomContext } from '../local/config-file';
import { LOCAL_WEBHOOK_NAMES } from '../local/webhooks';
import type { CliIo } from './command';
import { answered } from './errors';
import { type TableValues, withRecordTable } from './keys';
import { table } from './queues';
import { resolveTarget, TargetError, unreachable } from './target';

export interface WebhooksValues extends TableValues {
  readonly json?: boolean | undefined;
  readonly config?: string | undefined;
  /** `--endpoint ID` in webhooks commands (cli/main.ts): a webhook endpoint, for `replay --since`. */
  readonly webhookEndpoint?: string | undefined;
  readonly since?: string | undefined;
}

/**
 * `postroom webhooks list|attempts|replay|enable|test`: the endpoints of the configuration (`--config`, default
 * cdk.json) with their state in the record table, each event's attempts, and putting an event (back) on the
 * webhook queue. Exit 1 is a finding: an endpoint disabled (list), no such event (attempts, replay).
 */
export async function runWebhooksCommand(
  command: string,
  rest: ReadonlyArray<string>,
  values: WebhooksValues,
  io: CliIo,
  usage: string,
): Promise<number> {
  const configPath = values.config ?? 'cdk.json';
  let config: PostroomConfig;
  try {
    config = localConfig(readPostroomContext(configPath), io.env);
  } catch (error) {
    io.err(`${configPath}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const endpointArg = (index: number) => {
    const id = rest[index];
    return id === undefined ? undefined : config.webhooks.find((endpoint) => endpoint.id === id);
  };
  const needsOne = (what: string): number => {
    io.err(`webhooks ${command} needs ${what}.\n\n${usage}`);
    return 2;
  };
  const windowed = values.webhookEndpoint !== undefined || values.since !== undefined;
  if (windowed && command !== 'replay')
    return needsOne('no --endpoint or --since (only webhooks replay --endpoint ID --since 2h takes them)');
  return withRecordTable(values, io.env, async ({ dynamodb, table: tableName }) => {
    const store = new DynamoWebhookStore(dynamodb, tableName);
    switch (command) {
      case 'list': {
        const states = await Promise.all(
          config.webhooks.map(async (endpoint) => ({
            endpoint,
            state: await store.endpointState(endpoint.id),
          })),
        );
        if (values.json) {
          io.out(
            `${JSON.stringify({ webhooks: states.map(({ endpoint, state }) => ({ id: endpoint.id, url: endpoint.url, events: endpoint.events, ...state })) })}\n`,
          );
        } else if (states.length === 0) {
          io.out(`No webhooks in ${configPath}.\n`);
        } else {
          const rows = states.map(({ endpoint, state }) => [
            endpoint.id,
            state.disabled ? `disabled: ${state.disabledReason ?? ''}` : 'enabled',
            state.lastSuccessAt ?? '-',
            state.lastFailureAt ?? '-',
            endpoint.url,
          ]);
          io.out(table([['ID', 'STATE', 'LAST SUCCESS', 'LAST FAILURE', 'URL'], ...rows]));
        }
        return states.some(({ state }) => state.disabled) ? 1 : 0;
      }
      case 'attempts': {
        const eventId = rest[0];
        if (eventId === undefined || rest.length > 1) return needsOne('one event id (the webhook-id header)');
        const records = await Promise.all(
          config.webhooks.map((endpoint) => store.event(eventId, endpoint.id)),
        );
        const attempts = records.flatMap((record) => record?.attempts ?? []);
        if (values.json) io.out(`${JSON.stringify({ eventId, attempts })}\n`);
        else if (attempts.length > 0) {
          const rows = attempts.map((a) => [
            a.endpointId,
            a.at,
            a.status === undefined ? '-' : String(a.status),
            `${a.latencyMs} ms`,
            a.outcome,
            a.answer.replace(/\s+/g, ' ').slice(0, 60),
          ]);
          io.out(table([['ENDPOINT', 'AT', 'STATUS', 'LATENCY', 'OUTCOME', 'ANSWER'], ...rows]));
        }
        if (attempts.length === 0) {
          io.err(`No attempts recorded for ${eventId} (kept 14 days).\n`);
          return 1;
        }
        return 0;
      }
      case 'replay': {
        if (windowed) return replaySince(config, store, values, rest, io, usage);
        const eventId = rest[0];
        if (eventId === undefined || rest.length > 2)
          return needsOne('an event id, and optionally an endpoint id');
        if (rest[1] !== undefined && endpointArg(1) === undefined)
          return needsOne(`a configured endpoint id ("${rest[1]}" is not one)`);
        const queue = await webhookQueue(values, io.env);
        const queued = await replayWebhookEvent(
          eventId,
          {
            webhooks: config.webhooks,
            read: (event, endpoint) => store.event(event, endpoint).then((record) => record?.message),
            queue: queue.queue,
          },
          rest[1],
        ).finally(queue.close);
        if (queued.length === 0) {
          io.err(`No event ${eventId} recorded${rest[1] ? ` for ${rest[1]}` : ''} (kept 14 days).\n`);
          return 1;
        }
        for (const message of queued)
          io.out(
            `Queued ${message.id} (${message.type}) for ${message.endpointId}: same webhook-id, new timestamp.\n`,
          );
        return 0;
      }
      case 'enable': {
        const endpoint = endpointArg(0);
        if (endpoint === undefined || rest.length > 1) return needsOne('one configured endpoint id');
        await store.enable(endpoint.id, new Date().toISOString());
        io.out(
          `Enabled ${endpoint.id}: new events are sent to it. Replay what it missed with webhooks replay.\n`,
        );
        return 0;
      }
      case 'test': {
        const endpoint = endpointArg(0);
        if (endpoint === undefined || rest.length > 1) return needsOne('one configured endpoint id');
        const message: WebhookMessage = {
          v: 1,
          endpointId: endpoint.id,
          id: webhookEventId(randomUUID()),
          type: 'webhook.test',
          timestamp: new Date().toISOString(),
          data: { endpointId: endpoint.id, message: 'A test event from postroom webhooks test.' },
        };
        const queue = await webhookQueue(values, io.env);
        await queue.queue.enqueue([message]).finally(queue.close);
        io.out(
          `Queued ${message.id} (webhook.test) for ${endpoint.id}; see it with webhooks attempts ${message.id}.\n`,
        );
        return 0;
      }
      default:
        io.err(`Unknown command "webhooks ${command}".\n\n${usage}`);
        return 2;
    }
  });
}

/** `webhooks replay --endpoint ID --since 2h`: every event of one endpoint since then, oldest first. */
async function replaySince(
  config: PostroomConfig,
  store: DynamoWebhookStore,
  values: WebhooksValues,
  rest: ReadonlyArray<string>,
  io: CliIo,
  usage: string,
): Promise<number> {
  const usageError = (message: string) => {
    io.err(`webhooks replay ${message}\n\n${usage}`);
    return 2;
  };
  const endpointId = values.webhookEndpoint;
  if (rest.length > 0) return usageError('takes an event id or --endpoint ID --since WHEN, not both.');
  if (endpointId === undefined || values.since === undefined)
    return usageError('--since needs --endpoint ID, and --endpoint needs --since WHEN (2h, 30m, 7d...).');
  const endpoint = config.webhooks.find((candidate) => candidate.id === endpointId);
  if (endpoint === undefined) {
    const known = config.webhooks.map((candidate) => candidate.id).join(', ') || 'none';
    return usageError(`--endpoint: "${endpointId}" is not a configured endpoint (configured: ${known}).`);
  }
  const since = parseSince(values.since, Date.now());
  if (!since.ok) return usageError(`--since: ${since.reason}.`);
  const state = await store.endpointState(endpoint.id);
  if (state.disabled) {
    io.err(
      `${endpoint.id} is disabled (${state.disabledReason ?? 'by the operator'}): its events would go to the dead-letter queue again. Enable it first: postroom webhooks enable ${endpoint.id}\n`,
    );
    return 1;
  }
  const queue = await webhookQueue(values, io.env);
  const queued = await replayEndpointSince(endpoint.id, since.sinceMs, {
    recorded: (id, sinceMs) => store.eventsSince(id, sinceMs),
    queue: queue.queue,
  }).finally(queue.close);
  const from = new Date(since.sinceMs).toISOString();
  if (values.json) {
    io.out(
      `${JSON.stringify({ endpoint: endpoint.id, since: from, queued: queued.map((m) => ({ id: m.id, type: m.type, timestamp: m.timestamp })) })}\n`,
    );
  } else if (queued.length === 0) {
    io.err(`No event of ${endpoint.id} recorded since ${from}.\n`);
  } else {
    for (const message of queued) io.out(`Queued ${message.id} (${message.type}, ${message.timestamp}).\n`);
    io.out(
      `${queued.length} event${queued.length === 1 ? '' : 's'} of ${endpoint.id} since ${from} queued again: same webhook-id each, new timestamp.\n`,
    );
  }
  return queued.length === 0 ? 1 : 0;
}

/** The webhook queue: the local stack's by name, a deployed stack's from its WebhookQueueUrl output. */
export async function webhookQueue(values: WebhooksValues, env: NodeJS.ProcessEnv) {
  const target = await resolveTarget(values, env, values.stack === undefined ? [] : ['webhookQueueUrl']);
  const sqs = createSqsClient(target.aws);
  const close = async () => sqs.destroy();
  let url: string | undefined = target.webhookQueueUrl;
  if (url === undefined) {
    try {
      url = (await sqs.send(new GetQueueUrlCommand({ QueueName: LOCAL_WEBHOOK_NAMES.queue }))).QueueUrl;
    } catch (error) {
      sqs.destroy();
      if (!answered(error)) throw unreachable(target, 'sqs', target.aws.endpoints?.sqs, error);
      throw new TargetError(
        `The local stack has no queue ${LOCAL_WEBHOOK_NAMES.queue}: it is made when the configuration has webhooks; restart it (npm start).`,
      );
    }
  }
  return { queue: new SqsWebhookQueue(sqs, url ?? ''), close };
}

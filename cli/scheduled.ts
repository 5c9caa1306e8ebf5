import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoMessageStore } from '../functions/adapters/dynamodb-messages';
import { DynamoScheduleStore } from '../functions/adapters/dynamodb-schedules';
import type { PostroomConfig } from '../functions/core/config/config';
import { noMetrics } from '../functions/core/metrics';
import type { Log } from '../functions/core/ports';
import {
  announceSchedule,
  announces,
  type ScheduleAnnouncer,
  scheduledRecipients,
} from '../functions/core/scheduling/scheduled-send';
import { localConfig, readPostroomContext } from '../local/config-file';
import type { CliIo } from './command';
import { table } from './queues';
import { type WebhooksValues, webhookQueue } from './webhooks';

const MESSAGE_ID = /^[0-9a-f-]{36}$/;

export interface ScheduledValues extends WebhooksValues {
  readonly json?: boolean | undefined;
}

/**
 * `postroom scheduled list|cancel <id>`: the messages waiting for their time, and canceling one as its sender
 * could (POST /v1/messages/{id}/cancel): the same conditional write on the message's state, so a mail whose
 * cancel succeeded is never sent, and the same `email.canceled` webhook event, with the same webhook-id
 * (core/webhooks/producers.ts scheduleEvent), to the endpoints of the configuration (`--config`, default
 * cdk.json) that take it. The schedule itself is left to fire: the relay drops it as canceled
 * (docs/scheduling.md), which needs no access to EventBridge Scheduler from the operator's machine.
 */
export async function runScheduledCommand(
  command: string,
  rest: ReadonlyArray<string>,
  store: { dynamodb: DynamoDBClient; table: string },
  values: ScheduledValues,
  io: CliIo,
  usage: string,
): Promise<number> {
  const schedules = new DynamoScheduleStore(store.dynamodb, store.table, 30);
  switch (command) {
    case 'list': {
      const entries = await schedules.listScheduled();
      if (values.json) {
        io.out(`${JSON.stringify({ scheduled: entries })}\n`);
        return 0;
      }
      if (entries.length === 0) {
        io.out('No scheduled messages.\n');
        return 0;
      }
      const rows = entries.map((e) => [e.id, e.scheduledAt, e.keyId ?? '-']);
      io.out(table([['MESSAGE ID', 'SCHEDULED AT', 'API KEY'], ...rows]));
      return 0;
    }
    case 'cancel': {
      const id = rest[0];
      if (id === undefined || rest.length > 1 || !MESSAGE_ID.test(id)) {
        io.err(`scheduled cancel needs one message id (as POST /v1/send answered it).\n\n${usage}`);
        return 2;
      }
      // The endpoints come from the configuration, as for `postroom webhooks`: without it the cancel would
      // go unannounced, so an unreadable one stops here, before anything changes.
      const configPath = values.config ?? 'cdk.json';
      let config: PostroomConfig;
      try {
        config = localConfig(readPostroomContext(configPath), io.env);
      } catch (error) {
        io.err(
          `${configPath}: ${error instanceof Error ? error.message : String(error)}\n` +
            'scheduled cancel reads the webhook endpoints from the configuration: give it with --config PATH.\n',
        );
        return 2;
      }
      const failures: string[] = [];
      const log: Log = {
        info: () => {},
        warn: () => {},
        error: (message, attributes) =>
          failures.push(`${message}${attributes?.error ? ` (${String(attributes.error)})` : ''}`),
      };
      const quiet: ScheduleAnnouncer = { config, log, metrics: noMetrics };
      // The webhook queue is found before the cancel: a stack without it stops the command unchanged (exit 3).
      const queue = announces({ ...quiet, webhookQueue: { enqueue: async () => {} } }, 'canceled')
        ? await webhookQueue(values, io.env)
        : undefined;
      try {
        const announcer: ScheduleAnnouncer = { ...quiet, webhookQueue: queue?.queue };
        // Read before the cancel, which removes the job (and with it the recipients) from the record.
        const recipients = await scheduledRecipients(id, { ...announcer, scheduling: { schedules } });
        const record = announces(announcer, 'canceled')
          ? await new DynamoMessageStore(store.dynamodb, store.table, 30).get(id)
          : undefined;
        const at = new Date(io.now?.() ?? Date.now()).toISOString();
        const result = await schedules.cancel(id, {
          status: 'canceled',
          at,
          detail: 'canceled by the operator (postroom scheduled cancel)',
        });
        if (!result.ok) {
          io.err(
            result.status === undefined
              ? `There is no message ${id}.\n`
              : `Message ${id} is ${result.status}, not scheduled: nothing to cancel.\n`,
          );
          return 1;
        }
        await announceSchedule(announcer, 'canceled', at, {
          messageId: id,
          scheduledAt: record?.scheduledAt ?? '',
          recipients,
        });
        io.out(`Canceled ${id}: it will not be sent.\n`);
        if (failures.length > 0) {
          io.err(
            `Its email.canceled webhook event could not be queued: ${failures.join('; ')}. The message status says canceled (GET /v1/messages/${id}).\n`,
          );
          return 1;
        }
        if (queue !== undefined) io.out('Queued its email.canceled webhook event.\n');
        return 0;
      } finally {
        await queue?.close();
      }
    }
    default:
      io.err(`Unknown command "scheduled ${command}".\n\n${usage}`);
      return 2;
  }
}

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoScheduleStore } from '../functions/adapters/dynamodb-schedules';
import type { CliIo } from './command';
import { table } from './queues';

const MESSAGE_ID = /^[0-9a-f-]{36}$/;

/**
 * `postroom scheduled list|cancel <id>`: the messages waiting for their time, and canceling one as its sender
 * could (POST /v1/messages/{id}/cancel): the same conditional write on the message's state, so a mail whose
 * cancel succeeded is never sent. The schedule itself is left to fire: the relay drops it as canceled
 * (docs/scheduling.md), which needs no access to EventBridge Scheduler from the operator's machine.
 */
export async function runScheduledCommand(
  command: string,
  rest: ReadonlyArray<string>,
  store: { dynamodb: DynamoDBClient; table: string },
  values: { json?: boolean | undefined },
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
      const result = await schedules.cancel(id, {
        status: 'canceled',
        at: new Date().toISOString(),
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
      io.out(`Canceled ${id}: it will not be sent.\n`);
      return 0;
    }
    default:
      io.err(`Unknown command "scheduled ${command}".\n\n${usage}`);
      return 2;
  }
}

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoSuppressionList } from '../functions/adapters/dynamodb-suppression';
import { suppressionKey } from '../functions/core/events/suppression';
import { maskAddress } from '../functions/core/mail/address';
import type { CliIo } from './command';
import { table } from './queues';

/**
 * `postroom suppression list|remove <address>`: the addresses Postroom no longer sends to (hard bounces and
 * complaints), and lifting one, for example after its owner fixed the mailbox. Addresses are masked in the
 * list as in every other output; `remove` takes the full address.
 */
export async function runSuppressionCommand(
  command: string,
  rest: ReadonlyArray<string>,
  store: { dynamodb: DynamoDBClient; table: string },
  values: { json?: boolean | undefined },
  io: CliIo,
  usage: string,
): Promise<number> {
  const list = new DynamoSuppressionList(store.dynamodb, store.table);
  switch (command) {
    case 'list': {
      const entries = (await list.list()).map((entry) => ({ ...entry, address: maskAddress(entry.address) }));
      if (values.json) {
        io.out(`${JSON.stringify({ suppressed: entries })}\n`);
        return 0;
      }
      if (entries.length === 0) {
        io.out('No suppressed addresses.\n');
        return 0;
      }
      const rows = entries.map((e) => [e.address, e.reason, e.at, e.messageId ?? '-']);
      io.out(table([['ADDRESS', 'REASON', 'SINCE', 'MESSAGE ID'], ...rows]));
      return 0;
    }
    case 'remove': {
      const address = rest[0];
      if (address === undefined || rest.length > 1) {
        io.err(`suppression remove needs one address.\n\n${usage}`);
        return 2;
      }
      // The list compares addresses lowercased; say which entry that was.
      const shown = maskAddress(suppressionKey(address));
      if (!(await list.remove(address))) {
        io.err(`${shown} is not on the suppression list.\n`);
        return 1;
      }
      io.out(`Removed ${shown} from the suppression list: mail to it is sent again.\n`);
      return 0;
    }
    default:
      io.err(`Unknown command "suppression ${command}".\n\n${usage}`);
      return 2;
  }
}

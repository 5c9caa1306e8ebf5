import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../functions/adapters/aws-clients';
import { DynamoApiKeyStore } from '../functions/adapters/dynamodb-api-keys';
import { generateApiKey, unknownScope } from '../functions/core/api/api-keys';
import { LOCAL_HOST, LOCAL_NAMES } from '../local/emulators';
import type { CliIo } from './command';
import { answered } from './errors';
import { table } from './queues';
import {
  LOCAL_SERVICE,
  networkReason,
  reachHint,
  resolveTarget,
  TargetError,
  type TargetValues,
} from './target';

/**
 * `postroom keys create|list|revoke`, and the table that it and `suppression` work on: the local stack's,
 * a deployed stack's (`--stack`), or a deployed table by name (`--table`).
 */

export interface TableValues extends TargetValues {
  readonly table?: string | undefined;
  readonly name?: string | undefined;
  /** keys create: the key's scopes (core/api/api-keys.ts). */
  readonly scope?: ReadonlyArray<string> | undefined;
}

/**
 * Where the keys live. `--table` without `--endpoint` means a deployed stack's table: the SDK then finds
 * credentials and region the usual way (profile, environment, --region). Anything else is the local stack.
 */
export function clientOptions(
  values: { endpoint?: string | undefined; table?: string | undefined; region?: string | undefined },
  env: NodeJS.ProcessEnv,
): Parameters<typeof createDynamoClient>[0] {
  if (values.table !== undefined && values.endpoint === undefined) {
    return { region: values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1' };
  }
  return {
    region: values.region ?? 'us-east-1',
    endpoints: {
      dynamodb:
        values.endpoint ??
        `http://${LOCAL_HOST}:${env.POSTROOM_DYNAMODB_PORT || LOCAL_SERVICE.dynamodb.port}`,
    },
    // The local emulator accepts any credentials.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
}

/** The record table a command works on, and what to say when it cannot be reached. */
export interface RecordTable {
  readonly dynamodb: DynamoDBClient;
  readonly table: string;
  /** The TargetError (exit 3) for an error that never reached DynamoDB. */
  unreachable(error: unknown): TargetError;
}

/** The table: the deployed stack's (its TableName output) with --stack, else as clientOptions says. */
export async function openRecordTable(values: TableValues, env: NodeJS.ProcessEnv): Promise<RecordTable> {
  if (values.stack !== undefined) {
    const target = await resolveTarget(values, env, ['tableName']);
    return {
      dynamodb: createDynamoClient(target.aws),
      table: target.tableName,
      unreachable: (error) =>
        new TargetError(
          `Could not reach table ${target.tableName} of ${target.label} (${networkReason(error)}). ` +
            reachHint(target, 'dynamodb'),
        ),
    };
  }
  const options = clientOptions(values, env);
  const endpoint = options.endpoints?.dynamodb;
  const name = values.table ?? LOCAL_NAMES.table;
  return {
    dynamodb: createDynamoClient(options),
    table: name,
    unreachable: (error) =>
      new TargetError(
        endpoint === undefined
          ? `Could not reach table ${name} in ${options.region} (${networkReason(error)}). ` +
              'Check your AWS credentials, --region and --table.'
          : `Could not reach DynamoDB at ${endpoint} (${networkReason(error)}). ` +
              reachHint({ kind: 'local' }, 'dynamodb'),
      ),
  };
}

/**
 * Runs `body` against the record table. An error that never reached DynamoDB, or a table that does not
 * exist, becomes a TargetError (exit 3); any other is rethrown.
 */
export async function withRecordTable(
  values: TableValues,
  env: NodeJS.ProcessEnv,
  body: (records: RecordTable) => Promise<number>,
): Promise<number> {
  const records = await openRecordTable(values, env);
  try {
    return await body(records);
  } catch (error) {
    if (error instanceof TargetError) throw error;
    if (!answered(error)) throw records.unreachable(error);
    if ((error as Error).name === 'ResourceNotFoundException') {
      throw new TargetError(
        `There is no table ${records.table} (${(error as Error).message}). ${
          values.stack === undefined && values.table === undefined
            ? 'Restart the local stack (npm start), which creates it.'
            : 'Check --table, --stack and --region.'
        }`,
      );
    }
    throw error;
  } finally {
    records.dynamodb.destroy();
  }
}

export async function runKeysCommand(
  command: string,
  rest: ReadonlyArray<string>,
  values: TableValues,
  io: CliIo,
  usage: string,
): Promise<number> {
  if (!['create', 'list', 'revoke'].includes(command)) {
    io.err(`Unknown command "keys ${command}".\n\n${usage}`);
    return 2;
  }
  const keyId = rest[0];
  if (command === 'revoke' && keyId === undefined) {
    io.err(`keys revoke needs a key id.\n\n${usage}`);
    return 2;
  }
  return withRecordTable(values, io.env, async ({ dynamodb, table: name }) => {
    const store = new DynamoApiKeyStore(dynamodb, name);
    try {
      switch (command) {
        case 'create': {
          const scopes = values.scope ?? ['send'];
          const unknown = unknownScope(scopes);
          if (unknown !== undefined) {
            io.err(
              `--scope ${unknown} is not a scope: send, submissions:read or submissions:read:<formId>.\n`,
            );
            return 2;
          }
          const { key, record } = generateApiKey(new Date(), values.name, undefined, scopes);
          await store.create(record);
          io.out(
            `Created API key ${record.keyId}${record.name ? ` (${record.name})` : ''}.\n` +
              'Copy it now: it is stored only as a hash and cannot be shown again.\n\n' +
              `Scopes: ${scopes.join(', ')}\n\n${key}\n`,
          );
          return 0;
        }
        case 'list': {
          const keys = await store.list();
          if (keys.length === 0) {
            io.out('No API keys.\n');
            return 0;
          }
          const rows = keys.map((k) => [
            k.keyId,
            k.name ?? '-',
            k.createdAt,
            k.revoked ? 'revoked' : 'active',
          ]);
          io.out(table([['KEY ID', 'NAME', 'CREATED', 'STATUS'], ...rows]));
          return 0;
        }
        default: {
          if (!(await store.revoke(keyId ?? '', new Date().toISOString()))) {
            io.err(`There is no API key ${keyId}.\n`);
            return 1;
          }
          io.out(`Revoked API key ${keyId}.\n`);
          return 0;
        }
      }
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        io.err('A key with this hash already exists; run the command again.\n');
        return 1;
      }
      if (!answered(error) || (error as Error).name === 'ResourceNotFoundException') throw error;
      io.err(`The keys could not be read or written (${networkReason(error)}) in table ${name}.\n`);
      return 1;
    }
  });
}

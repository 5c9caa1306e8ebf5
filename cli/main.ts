import { parseArgs } from 'node:util';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../functions/adapters/aws-clients';
import { DynamoApiKeyStore } from '../functions/adapters/dynamodb-api-keys';
import { generateApiKey } from '../functions/core/api-keys';
import type { CliIo } from './command';
import { runDoctor } from './doctor';
import { runQueueCommand } from './queue-commands';
import { table } from './queues';
import { DEFAULT_TIMEOUT_SECONDS, runSendTest } from './send-test';
import { runSuppressionCommand } from './suppression';
import { resolveTarget, TargetError, type TargetValues } from './target';

export type { CliIo } from './command';

import { LOCAL_HOST, LOCAL_NAMES } from '../local/emulators';

const USAGE = `Usage: postroom <command> [--stack NAME] [options]

Commands:
  keys create [--name NAME]   create an API key and print it (it is shown this once)
  keys list                   list keys: id, name, created, revoked (never the keys or their hashes)
  keys revoke <keyId>         revoke a key; requests with it get 401 at once
  suppression list [--json]   the addresses mail is no longer sent to (hard bounces, complaints), masked,
                              with the reason, since when and the message that caused it
  suppression remove <address>
                              lift an address's suppression (after its owner fixed the mailbox); exit 1
                              when it was not suppressed
  status [--json]             mail queue visible / in flight / delayed, dead-letter queue depth, recent
                              failures by reason. Exit 0 when the dead-letter queue is empty, 1 when not
  dlq list [--json]           each dead letter: job id, age, form or API key, masked recipients, reason
  dlq redrive --all | --id JOB_ID ... | --reason TEXT
                              move the matching dead letters back to the mail queue; safe to run twice.
                              On a terminal, a progress line (redriving 120/500) on stderr
  dlq purge [--yes]           delete every dead letter (asks first on a terminal; --yes without one)
  send-test --form FORM_ID [--json] [--timeout SECONDS]
                              submit a test message to the form and follow its status until sent,
                              delivered or failed (default timeout ${DEFAULT_TIMEOUT_SECONDS}s)
  doctor [--json] [--config PATH]
                              check the configuration (cdk.json), the SES account (sandbox, send rate
                              against queue.batchSize x queue.maxConcurrency), the sender's SES identity
                              and its DKIM (deployed), the queues, the redrive policy, the dead-letter
                              queue and the stack's alarms (deployed); print each finding with its fix

Which stack:
  --stack NAME        a deployed stack: its queues, table and API come from its CloudFormation outputs
                      (QueueUrl, DeadLetterQueueUrl, TableName, ApiUrl, AlarmTopicArn), reached with your
                      AWS credentials (environment, AWS_PROFILE, SSO...: the SDK's default chain)
  --region REGION     the deployed stack's region (default: $AWS_REGION, else your profile's); locally us-east-1
  (no --stack)        the local stack (npm start), its queues ${LOCAL_NAMES.queue} and ${LOCAL_NAMES.deadLetterQueue},
                      its table ${LOCAL_NAMES.table}

Endpoints (defaults: the local stack's ports; with --stack, AWS's):
  --sqs-endpoint URL  SQS (local: http://127.0.0.1:$POSTROOM_SQS_PORT or 9324)
  --ses-endpoint URL  SES (local: http://127.0.0.1:$POSTROOM_SES_PORT or 8005)
  --endpoint URL      DynamoDB (local: http://127.0.0.1:$POSTROOM_DYNAMODB_PORT or 8000)
  --api URL           send-test, local: the API (http://127.0.0.1:$POSTROOM_API_PORT or 3000)
  --cloudformation-endpoint URL, --cloudwatch-endpoint URL
                      CloudFormation and CloudWatch (with --stack), e.g. for a test double
  --table NAME        keys, suppression: a deployed table by name, without --stack (with --endpoint: a local table)
  --config PATH       doctor: the cdk.json to check (default: cdk.json)

Keys are stored only as SHA-256 hashes.

Exit codes: 0 done (status: healthy; send-test: sent or delivered; doctor: no check failed); 1 failed, or
status: dead letters waiting, or send-test: refused, failed or timed out, or doctor: a check failed; 2 usage
error or refused (a selector is missing, purge without confirmation); 3 the stack cannot be used: the local
stack is not running, or the --stack does not exist or lacks an output the command needs.
`;

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
      dynamodb: values.endpoint ?? `http://${LOCAL_HOST}:${env.POSTROOM_DYNAMODB_PORT || '8000'}`,
    },
    // The local emulator accepts any credentials.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
}

/** The key table: the deployed stack's (its TableName output) with --stack, else as clientOptions says. */
async function keyTable(
  values: Parameters<typeof clientOptions>[0] & TargetValues,
  env: NodeJS.ProcessEnv,
): Promise<{ options: Parameters<typeof createDynamoClient>[0]; table: string; where: string }> {
  if (values.stack !== undefined) {
    const target = await resolveTarget(values, env, ['tableName']);
    return {
      options: target.aws,
      table: target.tableName,
      where: `table ${target.tableName} of ${target.label}. Check your AWS credentials and region.`,
    };
  }
  const options = clientOptions(values, env);
  return {
    options,
    table: values.table ?? LOCAL_NAMES.table,
    where: options.endpoints?.dynamodb
      ? `${options.endpoints.dynamodb}. Is the local stack running (npm start)?`
      : `table ${values.table} in ${options.region}. Check your AWS credentials and region.`,
  };
}

/**
 * `postroom keys create|list|revoke`, `status`, `dlq list|redrive|purge`, `send-test`, `doctor`, against the
 * local stack or, with `--stack`, a deployed one. Returns the exit code: 3, naming what is missing, when the
 * target cannot be used (TargetError, from any command).
 */
export async function runCli(argv: ReadonlyArray<string>, io: CliIo): Promise<number> {
  try {
    return await runCommand(argv, io);
  } catch (error) {
    if (!(error instanceof TargetError)) throw error;
    io.err(`${error.message}\n`);
    return 3;
  }
}

async function runCommand(argv: ReadonlyArray<string>, io: CliIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [group, command, ...rest] = positionals;
  if (!values.help && (group === 'status' || group === 'dlq')) {
    return runQueueCommand(group, command, values, io, USAGE);
  }
  if (!values.help && group === 'doctor') {
    if (command !== undefined) {
      io.err(`Unexpected argument "${command}".\n\n${USAGE}`);
      return 2;
    }
    return runDoctor(values, io);
  }
  if (!values.help && group === 'send-test') {
    if (command !== undefined) {
      io.err(`Unexpected argument "${command}".\n\n${USAGE}`);
      return 2;
    }
    return runSendTest(values, io, USAGE);
  }
  if (values.help || (group !== 'keys' && group !== 'suppression') || command === undefined) {
    (values.help ? io.out : io.err)(USAGE);
    return values.help ? 0 : 2;
  }
  const keys = await keyTable(values, io.env);
  const dynamodb = createDynamoClient(keys.options);
  const { where } = keys;
  const store = new DynamoApiKeyStore(dynamodb, keys.table);
  try {
    if (group === 'suppression') {
      return await runSuppressionCommand(command, rest, { dynamodb, table: keys.table }, values, io, USAGE);
    }
    switch (command) {
      case 'create': {
        const { key, record } = generateApiKey(new Date(), values.name);
        await store.create(record);
        io.out(
          `Created API key ${record.keyId}${record.name ? ` (${record.name})` : ''}.\n` +
            'Copy it now: it is stored only as a hash and cannot be shown again.\n\n' +
            `${key}\n`,
        );
        return 0;
      }
      case 'list': {
        const keys = await store.list();
        if (keys.length === 0) {
          io.out('No API keys.\n');
          return 0;
        }
        const rows = keys.map((k) => [k.keyId, k.name ?? '-', k.createdAt, k.revoked ? 'revoked' : 'active']);
        io.out(table([['KEY ID', 'NAME', 'CREATED', 'STATUS'], ...rows]));
        return 0;
      }
      case 'revoke': {
        const keyId = rest[0];
        if (keyId === undefined) {
          io.err(`keys revoke needs a key id.\n\n${USAGE}`);
          return 2;
        }
        if (!(await store.revoke(keyId, new Date().toISOString()))) {
          io.err(`There is no API key ${keyId}.\n`);
          return 1;
        }
        io.out(`Revoked API key ${keyId}.\n`);
        return 0;
      }
      default:
        io.err(`Unknown command "keys ${command}".\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConditionalCheckFailedException) {
      io.err('A key with this hash already exists; run the command again.\n');
      return 1;
    }
    const name = error instanceof Error ? error.name : String(error);
    io.err(`Could not reach the ${group === 'keys' ? 'keys' : 'suppression list'} (${name}) at ${where}\n`);
    return 1;
  } finally {
    dynamodb.destroy();
  }
}

function parse(argv: ReadonlyArray<string>) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      endpoint: { type: 'string' },
      table: { type: 'string' },
      region: { type: 'string' },
      'sqs-endpoint': { type: 'string' },
      json: { type: 'boolean' },
      id: { type: 'string', multiple: true },
      reason: { type: 'string' },
      all: { type: 'boolean' },
      form: { type: 'string' },
      timeout: { type: 'string' },
      api: { type: 'string' },
      config: { type: 'string' },
      'ses-endpoint': { type: 'string' },
      stack: { type: 'string' },
      'cloudformation-endpoint': { type: 'string' },
      'cloudwatch-endpoint': { type: 'string' },
      yes: { type: 'boolean', short: 'y' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

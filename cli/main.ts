import { parseArgs } from 'node:util';
import { LOCAL_NAMES } from '../local/emulators';
import type { CliIo } from './command';
import { runDoctor } from './doctor';
import { answered } from './errors';
import { runKeysCommand, withRecordTable } from './keys';
import { runQueueCommand } from './queue-commands';
import { runScheduledCommand } from './scheduled';
import { DEFAULT_TIMEOUT_SECONDS, runSendTest } from './send-test';
import { runSubmissionsCommand } from './submissions';
import { runSuppressionCommand } from './suppression';
import { networkReason, TargetError } from './target';
import { runWebhooksCommand } from './webhooks';

const USAGE = `Usage: postroom <command> [--stack NAME] [options]

Commands:
  keys create [--name NAME] [--scope SCOPE]...
                              create an API key and print it (it is shown this once); scopes: send (the
                              default), submissions:read, submissions:read:<formId>
  keys list                   list keys: id, name, created, revoked (never the keys or their hashes)
  submissions list --form ID [--status inbox|spam] [--since 30d] [--json]
                              a form's archived submissions, newest first
  submissions list|export --email ADDRESS [--format csv|ndjson]
                              every submission of one address, in every form (an access request)
  submissions show <id>       one submission, as JSON
  submissions export --form ID --format csv|ndjson [--status spam] [--since 30d]
                              CSV (UTF-8 with BOM, formula cells neutralized) or NDJSON on stdout; on AWS
                              file columns are links valid 15 minutes
  submissions release <id>    mark a spam submission not spam: it moves to the inbox, its notification is sent once
  submissions erase --email ADDRESS [--lift-suppression] | --id ID
                              erase every submission of an address (or one), with its files and message
                              records; a tombstone keeps when and how many, nothing else
  keys revoke <keyId>         revoke a key; requests with it get 401 at once
  suppression list [--json]   the addresses mail is no longer sent to (hard bounces, complaints), masked,
                              with the reason, since when and the message that caused it
  suppression remove <address>
                              lift an address's suppression (after its owner fixed the mailbox); exit 1
                              when it was not suppressed
  scheduled list [--json]     messages waiting for their scheduledAt: id, time, API key
  scheduled cancel <id> [--config PATH]
                              cancel a scheduled message: it is never sent, and the endpoints of the
                              configuration (default cdk.json) that take email.canceled get it, as for an
                              API cancel; exit 1 when it is not scheduled any more (sent, canceled) or
                              does not exist, or when its event could not be queued
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
  templates list [--json]     the templates in templates/ with their version and variables, compiled and
                              checked as cdk synth does (exit 1, naming file and line, when one fails)
  templates render <id> [--data FILE.json] [--out DIR] [--json]
                              render a template with its preview data or the variables in FILE.json:
                              print its subject and text part, or write DIR/<id>.html and DIR/<id>.txt
  webhooks list [--json]      the configured endpoints: state (enabled, or disabled after a 410), last
                              success and failure. Exit 1 when one is disabled
  webhooks attempts <event-id> [--json]
                              each attempt of an event (the webhook-id header): endpoint, status, latency,
                              the start of the answer
  webhooks replay <event-id> [ENDPOINT_ID]
                              send an event again (same webhook-id, new timestamp), to every endpoint that
                              had it or to one
  webhooks replay --endpoint ID --since 2h
                              send again every event of endpoint ID that happened since then (90s, 30m, 2h,
                              7d, or a time such as 2026-12-03T09:00:00Z; 14 days at most), each with its
                              webhook-id and a new timestamp. Exit 1 when the endpoint is disabled (enable
                              it first) or had no event since then
  webhooks enable <id>        re-enable an endpoint disabled by a 410
  webhooks test <id>          send a webhook.test event to an endpoint
                              (webhooks: endpoints from --config PATH, default cdk.json)
  cost [--messages N] [--recipients R] [--config PATH] [--level essential|full] [--json]
                              the monthly bill of the stack the configuration (default cdk.json) would
                              deploy, line by line, from its synthesized template, infra/cost/prices.json
                              and the bench's per-message figures (default 1,000 messages, 1 recipient)
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
  --dynamodb-endpoint URL
                      DynamoDB (local: http://127.0.0.1:$POSTROOM_DYNAMODB_PORT or 8000). Its older
                      spelling --endpoint URL still works, except in webhooks commands, where --endpoint
                      is a webhook endpoint's id
  --api URL           send-test, local: the API (http://127.0.0.1:$POSTROOM_API_PORT or 3000)
  --cloudformation-endpoint URL, --cloudwatch-endpoint URL
                      CloudFormation and CloudWatch (with --stack), e.g. for a test double
  --table NAME        keys, suppression, scheduled: a deployed table by name, without --stack (with
                      --dynamodb-endpoint: a local table)
  --config PATH       doctor: the cdk.json to check (default: cdk.json)
  --templates DIR     templates: the templates folder (default: the project's templates/)

Keys are stored only as SHA-256 hashes.

Exit codes: 0 done (status: healthy; send-test: sent or delivered; doctor: no check failed); 1 failed, or
status: dead letters waiting, or send-test: refused, failed or timed out, or doctor: a check failed; 2 usage
error or refused (a selector is missing, purge without confirmation); 3 the stack cannot be reached or used:
the local stack is not running or listens elsewhere (the message names the POSTROOM_*_PORT variable and the
flag to set), or the --stack does not exist or lacks an output the command needs. doctor still runs every
check it can and shows each part it could not reach as a FAIL line with its fix; send-test checks that it can
follow the message before it submits one.
`;

/**
 * `postroom keys create|list|revoke`, `status`, `dlq list|redrive|purge`, `send-test`, `doctor`, `templates`, against the
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
  const { positionals } = parsed;
  const [group, command, ...rest] = positionals;
  const endpoints = dynamodbEndpoint(parsed.values, group);
  if (!endpoints.ok) {
    io.err(`${endpoints.message}\n\n${USAGE}`);
    return 2;
  }
  // From here `endpoint` is the DynamoDB endpoint (TargetValues), whichever flag gave it.
  const values = { ...parsed.values, endpoint: endpoints.dynamodb };
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
  if (!values.help && group === 'templates' && command !== undefined) {
    // Loaded only here: the compiler (Handlebars, juice, html-to-text) is not for the other commands.
    const { runTemplatesCommand } = await import('./templates');
    return runTemplatesCommand(command, rest, values, io, USAGE);
  }
  if (!values.help && group === 'cost') {
    if (command !== undefined) {
      io.err(`Unexpected argument "${command}".\n\n${USAGE}`);
      return 2;
    }
    const { runCost } = await import('./cost');
    return runCost(values, io, USAGE);
  }
  if (!values.help && group === 'send-test') {
    if (command !== undefined) {
      io.err(`Unexpected argument "${command}".\n\n${USAGE}`);
      return 2;
    }
    return runSendTest(values, io, USAGE);
  }
  if (!values.help && group === 'submissions' && command !== undefined) {
    return runSubmissionsCommand(command, rest, values, io, USAGE);
  }
  if (!values.help && group === 'webhooks' && command !== undefined) {
    return runWebhooksCommand(
      command,
      rest,
      { ...values, webhookEndpoint: endpoints.webhookEndpoint },
      io,
      USAGE,
    );
  }
  if (values.help || !['keys', 'suppression', 'scheduled'].includes(group ?? '') || command === undefined) {
    (values.help ? io.out : io.err)(USAGE);
    return values.help ? 0 : 2;
  }
  if (group === 'keys') return runKeysCommand(command, rest, values, io, USAGE);
  if (group === 'scheduled') {
    return withRecordTable(values, io.env, async ({ dynamodb, table }) => {
      try {
        return await runScheduledCommand(command, rest, { dynamodb, table }, values, io, USAGE);
      } catch (error) {
        if (!answered(error) || (error as Error).name === 'ResourceNotFoundException') throw error;
        io.err(`Scheduled messages could not be read (${networkReason(error)}) in table ${table}.
`);
        return 1;
      }
    });
  }
  return withRecordTable(values, io.env, async ({ dynamodb, table }) => {
    try {
      return await runSuppressionCommand(command, rest, { dynamodb, table }, values, io, USAGE);
    } catch (error) {
      if (!answered(error) || (error as Error).name === 'ResourceNotFoundException') throw error;
      io.err(`The suppression list could not be read (${networkReason(error)}) in table ${table}.\n`);
      return 1;
    }
  });
}

/**
 * `--dynamodb-endpoint URL` is the DynamoDB endpoint everywhere. `--endpoint` is its older spelling, kept
 * where it clashes with nothing; in `webhooks` commands it is the webhook endpoint's id, as the issue writes
 * `postroom webhooks replay --endpoint ID --since 2h`. A URL given there, or both spellings at once, is a
 * usage error naming the flag to use, never a guess.
 */
function dynamodbEndpoint(
  values: { endpoint?: string | undefined; 'dynamodb-endpoint'?: string | undefined },
  group: string | undefined,
):
  | { ok: true; dynamodb: string | undefined; webhookEndpoint: string | undefined }
  | { ok: false; message: string } {
  const specific = values['dynamodb-endpoint'];
  if (group === 'webhooks') {
    if (values.endpoint !== undefined && /^[a-z][a-z0-9+.-]*:\/\//i.test(values.endpoint)) {
      return {
        ok: false,
        message: `In webhooks commands --endpoint names a webhook endpoint (an id from the configuration), not a URL; give DynamoDB's URL as --dynamodb-endpoint ${values.endpoint}.`,
      };
    }
    return { ok: true, dynamodb: specific, webhookEndpoint: values.endpoint };
  }
  if (specific !== undefined && values.endpoint !== undefined && specific !== values.endpoint) {
    return {
      ok: false,
      message:
        '--endpoint is the older spelling of --dynamodb-endpoint: give one of them, not both with different URLs.',
    };
  }
  return { ok: true, dynamodb: specific ?? values.endpoint, webhookEndpoint: undefined };
}

function parse(argv: ReadonlyArray<string>) {
  return parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      name: { type: 'string' },
      endpoint: { type: 'string' },
      'dynamodb-endpoint': { type: 'string' },
      since: { type: 'string' },
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
      messages: { type: 'string' },
      recipients: { type: 'string' },
      level: { type: 'string' },
      data: { type: 'string' },
      out: { type: 'string' },
      templates: { type: 'string' },
      'ses-endpoint': { type: 'string' },
      stack: { type: 'string' },
      'cloudformation-endpoint': { type: 'string' },
      'cloudwatch-endpoint': { type: 'string' },
      yes: { type: 'boolean', short: 'y' },
      format: { type: 'string' },
      status: { type: 'string' },
      email: { type: 'string' },
      'lift-suppression': { type: 'boolean' },
      scope: { type: 'string', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

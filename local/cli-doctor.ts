import { GetAccountCommand, type GetAccountCommandOutput } from '@aws-sdk/client-sesv2';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { createSesClient, createSqsClient } from '../functions/adapters/aws-clients';
import type { PostroomConfig } from '../functions/core/config';
import { ConfigError } from '../functions/core/errors';
import type { CliIo } from './cli';
import { localQueueUrls, type QueueUrls, queueCounts, sqsEndpoint, table } from './cli-queues';
import { localConfig, readPostroomContext } from './config-file';
import { LOCAL_HOST, LOCAL_NAMES } from './emulators';

/**
 * `postroom doctor`: checks the configuration, the SES account, the queues and the dead-letter queue of the
 * local stack, and prints each finding with its fix. Exit 0 when nothing fails (warnings allowed), 1 when a
 * check fails, 3 when the stack cannot be reached.
 */

export type FindingStatus = 'ok' | 'warn' | 'fail';

export interface Finding {
  readonly check: string;
  readonly status: FindingStatus;
  readonly detail: string;
  readonly fix?: string;
}

interface DoctorValues {
  readonly json?: boolean | undefined;
  readonly config?: string | undefined;
  readonly region?: string | undefined;
  readonly 'sqs-endpoint'?: string | undefined;
  readonly 'ses-endpoint'?: string | undefined;
}

class Unreachable extends Error {}

/** An SDK error with an HTTP status came from the service; one without never reached it. */
function answered(error: unknown): boolean {
  return (
    typeof (error as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode === 'number'
  );
}

function message(error: unknown): string {
  if (error instanceof ConfigError) return error.problems.map((p) => `${p.field} ${p.message}`).join('; ');
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

export async function runDoctor(values: DoctorValues, io: CliIo): Promise<number> {
  const findings: Finding[] = [];
  const configPath = values.config ?? 'cdk.json';
  let config: PostroomConfig | undefined;
  try {
    config = localConfig(readPostroomContext(configPath), io.env);
    findings.push({ check: 'config', status: 'ok', detail: `${configPath} (context.postroom) is valid` });
  } catch (error) {
    findings.push({
      check: 'config',
      status: 'fail',
      detail: `${configPath}: ${message(error)}`,
      fix: `correct context.postroom in ${configPath}; the other checks use the defaults they can`,
    });
  }

  const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
  const region = values.region ?? 'us-east-1';
  const sesUrl = values['ses-endpoint'] ?? `http://${LOCAL_HOST}:${io.env.POSTROOM_SES_PORT || '8005'}`;
  const sqsUrl = sqsEndpoint(values['sqs-endpoint'], io.env);
  const ses = createSesClient({ region, endpoints: { ses: sesUrl }, credentials });
  const sqs = createSqsClient({ region, endpoints: { sqs: sqsUrl }, credentials });
  try {
    findings.push(...(await checkSes(ses, sesUrl, config)));
    findings.push(...(await checkQueues(sqs, sqsUrl, config)));
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    io.err(`${error.message} Is the local stack running (npm start)?\n`);
    return 3;
  } finally {
    ses.destroy();
    sqs.destroy();
  }

  const healthy = findings.every((f) => f.status !== 'fail');
  if (values.json) {
    io.out(`${JSON.stringify({ healthy, findings })}\n`);
  } else {
    const rows = findings.map((f) => [f.status.toUpperCase(), f.check, f.detail]);
    io.out(table([['STATUS', 'CHECK', 'FINDING'], ...rows]));
    const fixes = findings.filter((f) => f.fix !== undefined && f.status !== 'ok');
    if (fixes.length > 0) {
      io.out(`\nFixes:\n${fixes.map((f) => `  ${f.check}: ${f.fix}`).join('\n')}\n`);
    }
    const failed = findings.filter((f) => f.status === 'fail').length;
    io.out(`\n${healthy ? 'No check failed.' : `${failed} check${failed === 1 ? '' : 's'} failed.`}\n`);
  }
  return healthy ? 0 : 1;
}

async function checkSes(
  ses: ReturnType<typeof createSesClient>,
  url: string,
  config: PostroomConfig | undefined,
): Promise<Finding[]> {
  let account: GetAccountCommandOutput;
  try {
    account = await ses.send(new GetAccountCommand({}));
  } catch (error) {
    if (!answered(error)) throw new Unreachable(`Could not reach SES (${message(error)}) at ${url}.`);
    return [
      {
        check: 'ses account',
        status: 'warn',
        detail: `GetAccount refused (${message(error)}): sandbox and sending quota not checked`,
        fix:
          'locally, aws-ses-v2-local answers GetAccount only when npm start runs with AWS_SES_ACCOUNT set ' +
          '(a GetAccount response as JSON); on AWS, allow ses:GetAccount',
      },
    ];
  }
  const findings: Finding[] = [];
  if (account.SendingEnabled === false) {
    findings.push({
      check: 'ses sending',
      status: 'fail',
      detail: 'sending is disabled for the account',
      fix:
        'see the SES account dashboard: sending was paused (enforcement status ' +
        `${account.EnforcementStatus ?? 'unknown'}); resolve the review and re-enable sending`,
    });
  }
  findings.push(
    account.ProductionAccessEnabled
      ? { check: 'ses sandbox', status: 'ok', detail: 'production access: mail goes to any recipient' }
      : {
          check: 'ses sandbox',
          status: 'warn',
          detail: 'the account is in the SES sandbox: mail only to verified addresses, small quota',
          fix: 'request production access (SES console, Account dashboard, "Request production access")',
        },
  );
  const maxRate = account.SendQuota?.MaxSendRate;
  if (config !== undefined && maxRate !== undefined) {
    const inFlight = config.queue.batchSize * config.queue.maxConcurrency;
    findings.push(
      inFlight > maxRate
        ? {
            check: 'ses quota',
            status: 'warn',
            detail: `the relay may send ${inFlight} at once (queue.batchSize ${config.queue.batchSize} × queue.maxConcurrency ${config.queue.maxConcurrency}), above the max send rate ${maxRate}/s: expect throttling and retries`,
            fix: `lower queue.maxConcurrency or queue.batchSize so their product is at most ${maxRate}, or ask SES for a higher sending quota`,
          }
        : {
            check: 'ses quota',
            status: 'ok',
            detail: `the relay sends at most ${inFlight} at once, within the max send rate ${maxRate}/s`,
          },
    );
  }
  return findings;
}

async function checkQueues(
  sqs: ReturnType<typeof createSqsClient>,
  url: string,
  config: PostroomConfig | undefined,
): Promise<Finding[]> {
  let urls: QueueUrls;
  try {
    urls = await localQueueUrls(sqs);
  } catch (error) {
    if (!answered(error)) throw new Unreachable(`Could not reach the queues (${message(error)}) at ${url}.`);
    return [
      {
        check: 'queues',
        status: 'fail',
        detail: `${LOCAL_NAMES.queue} or ${LOCAL_NAMES.deadLetterQueue} is missing (${message(error)})`,
        fix: 'restart the local stack (npm start creates both queues)',
      },
    ];
  }
  const findings: Finding[] = [{ check: 'queues', status: 'ok', detail: 'the mail queue and its DLQ exist' }];
  const [mail, dlq] = await Promise.all([
    sqs.send(new GetQueueAttributesCommand({ QueueUrl: urls.queueUrl, AttributeNames: ['RedrivePolicy'] })),
    sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: urls.deadLetterQueueUrl, AttributeNames: ['QueueArn'] }),
    ),
  ]);
  const raw = mail.Attributes?.RedrivePolicy;
  let policy: { deadLetterTargetArn?: string; maxReceiveCount?: number | string } = {};
  try {
    policy = raw ? JSON.parse(raw) : {};
  } catch {
    // An unreadable policy is reported as missing below.
  }
  const expected = config?.queue.maxReceiveCount;
  const problems: string[] = [];
  if (policy.deadLetterTargetArn === undefined) problems.push('the mail queue has no redrive policy');
  else if (policy.deadLetterTargetArn !== dlq.Attributes?.QueueArn)
    problems.push(
      `the redrive policy targets ${policy.deadLetterTargetArn}, not ${LOCAL_NAMES.deadLetterQueue}`,
    );
  if (
    policy.deadLetterTargetArn !== undefined &&
    expected !== undefined &&
    Number(policy.maxReceiveCount) !== expected
  )
    problems.push(`maxReceiveCount is ${policy.maxReceiveCount}, the configuration says ${expected}`);
  findings.push(
    problems.length === 0
      ? {
          check: 'redrive policy',
          status: 'ok',
          detail: `to ${LOCAL_NAMES.deadLetterQueue} after ${policy.maxReceiveCount} receives`,
        }
      : {
          check: 'redrive policy',
          status: 'fail',
          detail: problems.join('; '),
          fix: 'restart the local stack so it recreates the queues from the configuration (on AWS: cdk deploy)',
        },
  );
  const counts = await queueCounts(sqs, urls.deadLetterQueueUrl);
  const depth = counts.visible + counts.inFlight + counts.delayed;
  findings.push(
    depth === 0
      ? { check: 'dead letters', status: 'ok', detail: 'the dead-letter queue is empty' }
      : {
          check: 'dead letters',
          status: 'fail',
          detail: `${depth} dead letter${depth === 1 ? '' : 's'} waiting`,
          fix: 'postroom dlq list to see why, then postroom dlq redrive (after fixing the cause) or dlq purge',
        },
  );
  return findings;
}

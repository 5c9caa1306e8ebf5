import { GetAccountCommand, type GetAccountCommandOutput } from '@aws-sdk/client-sesv2';
import { GetQueueAttributesCommand, type GetQueueAttributesCommandOutput } from '@aws-sdk/client-sqs';
import { createSesClient } from '../functions/adapters/ses-client';
import { createSqsClient } from '../functions/adapters/sqs-client';
import type { PostroomConfig } from '../functions/core/config';
import { localConfig, readPostroomContext } from '../local/config-file';
import type { CliIo, Finding } from './command';
import { checkAlarms, checkIdentities } from './doctor-aws';
import { answered, describeError as message } from './errors';
import { type QueueUrls, queueCounts, table } from './queues';
import { resolveTarget, type Target, type TargetValues } from './target';

/**
 * `postroom doctor`: checks the configuration, the SES account and identity, the queues, the dead-letter
 * queue and (deployed) the alarms of the local or a deployed stack, and prints each finding with its fix.
 * Exit 0 when nothing fails (warnings allowed), 1 when a check fails, 3 when the stack cannot be reached.
 */

interface DoctorValues extends TargetValues {
  readonly json?: boolean | undefined;
  readonly config?: string | undefined;
}

class Unreachable extends Error {}

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

  const target = await resolveTarget(values, io.env, ['queueUrl', 'deadLetterQueueUrl']);
  const ses = createSesClient(target.aws);
  const sqs = createSqsClient(target.aws);
  const local = target.kind === 'local';
  try {
    findings.push(...(await checkSes(ses, target, config)));
    findings.push(
      ...(local
        ? [
            {
              check: 'ses identity',
              status: 'skip',
              detail: 'not checked locally (the emulator has no identities)',
            } as const,
          ]
        : await checkIdentities(ses, config)),
    );
    findings.push(...(await checkQueues(sqs, target, config)));
    findings.push(
      ...(local
        ? [
            {
              check: 'alarms',
              status: 'skip',
              detail: 'no alarms locally (CloudWatch alarms exist on AWS only)',
            } as const,
          ]
        : await checkAlarms(target)),
    );
  } catch (error) {
    if (!(error instanceof Unreachable)) throw error;
    io.err(
      `${error.message} ${local ? 'Is the local stack running (npm start)?' : 'Check your AWS credentials and region.'}\n`,
    );
    return 3;
  } finally {
    ses.destroy();
    sqs.destroy();
  }

  const healthy = findings.every((f) => f.status !== 'fail');
  if (values.json) {
    io.out(`${JSON.stringify({ healthy, target: target.label, findings })}\n`);
  } else {
    io.out(`Checking ${target.label}.\n\n`);
    const rows = findings.map((f) => [f.status.toUpperCase(), f.check, f.detail]);
    io.out(table([['STATUS', 'CHECK', 'FINDING'], ...rows]));
    const fixes = findings.filter((f) => f.fix !== undefined && (f.status === 'warn' || f.status === 'fail'));
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
  target: Target,
  config: PostroomConfig | undefined,
): Promise<Finding[]> {
  let account: GetAccountCommandOutput;
  try {
    account = await ses.send(new GetAccountCommand({}));
  } catch (error) {
    if (!answered(error)) {
      const at = target.aws.endpoints?.ses ?? `SES in ${target.region}`;
      throw new Unreachable(`Could not reach SES (${message(error)}) at ${at}.`);
    }
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
  if (config !== undefined && maxRate !== undefined) findings.push(quotaFinding(config, maxRate));
  return findings;
}

async function checkQueues(
  sqs: ReturnType<typeof createSqsClient>,
  target: Target & QueueUrls,
  config: PostroomConfig | undefined,
): Promise<Finding[]> {
  const redeploy =
    target.kind === 'local' ? 'restart the local stack (npm start creates both queues)' : 'cdk deploy';
  let mail: GetQueueAttributesCommandOutput;
  let dlq: GetQueueAttributesCommandOutput;
  try {
    [mail, dlq] = await Promise.all([
      sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: target.queueUrl, AttributeNames: ['RedrivePolicy'] }),
      ),
      sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: target.deadLetterQueueUrl, AttributeNames: ['QueueArn'] }),
      ),
    ]);
  } catch (error) {
    if (!answered(error)) throw new Unreachable(`Could not reach the queues (${message(error)}).`);
    return [
      {
        check: 'queues',
        status: 'fail',
        detail: `the mail queue or its dead-letter queue cannot be read (${message(error)})`,
        fix: `${redeploy}; on AWS, allow sqs:GetQueueAttributes to the role running postroom doctor`,
      },
    ];
  }
  const findings: Finding[] = [{ check: 'queues', status: 'ok', detail: 'the mail queue and its DLQ exist' }];
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
      `the redrive policy targets ${policy.deadLetterTargetArn}, not ${dlq.Attributes?.QueueArn}`,
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
          detail: `to ${queueName(target.deadLetterQueueUrl)} after ${policy.maxReceiveCount} receives`,
        }
      : {
          check: 'redrive policy',
          status: 'fail',
          detail: problems.join('; '),
          fix:
            target.kind === 'local'
              ? 'restart the local stack so it recreates the queues from the configuration'
              : 'cdk deploy with this configuration',
        },
  );
  const counts = await queueCounts(sqs, target.deadLetterQueueUrl);
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

function queueName(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/**
 * The relay against SES's maximum send rate. With relay.maxSendRate the relay paces its sends, so the rate
 * itself must fit; without it, up to batchSize x maxConcurrency sends can leave at once.
 */
function quotaFinding(config: PostroomConfig, maxRate: number): Finding {
  const paced = config.relay.maxSendRate;
  if (paced !== undefined) {
    return paced > maxRate
      ? {
          check: 'ses quota',
          status: 'warn',
          detail: `relay.maxSendRate ${paced}/s is above the max send rate ${maxRate}/s: expect throttling and retries`,
          fix: `set relay.maxSendRate to at most ${maxRate} (about 90% of it leaves headroom), or ask SES for a higher sending quota`,
        }
      : {
          check: 'ses quota',
          status: 'ok',
          detail: `the relay paces its sends at ${paced}/s, within the max send rate ${maxRate}/s`,
        };
  }
  const inFlight = config.queue.batchSize * config.queue.maxConcurrency;
  return inFlight > maxRate
    ? {
        check: 'ses quota',
        status: 'warn',
        detail: `the relay may send ${inFlight} at once (queue.batchSize ${config.queue.batchSize} × queue.maxConcurrency ${config.queue.maxConcurrency}), above the max send rate ${maxRate}/s: expect throttling and retries`,
        fix: `set relay.maxSendRate to at most ${maxRate} so the relay paces its sends, or lower queue.maxConcurrency or queue.batchSize so their product is at most ${maxRate}, or ask SES for a higher sending quota`,
      }
    : {
        check: 'ses quota',
        status: 'ok',
        detail: `the relay sends at most ${inFlight} at once, within the max send rate ${maxRate}/s`,
      };
}

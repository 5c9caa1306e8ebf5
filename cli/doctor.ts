import { GetAccountCommand, type GetAccountCommandOutput } from '@aws-sdk/client-sesv2';
import { GetQueueAttributesCommand, type GetQueueAttributesCommandOutput } from '@aws-sdk/client-sqs';
import { createSesClient } from '../functions/adapters/ses-client';
import { createSqsClient } from '../functions/adapters/sqs-client';
import type { PostroomConfig } from '../functions/core/config/config';
import { findPlaceholders } from '../functions/core/config/placeholders';
import { localConfig, readPostroomContext } from '../local/config-file';
import { LOCAL_NAMES } from '../local/emulators';
import type { CliIo, Finding } from './command';
import { checkAlarms, checkIdentities } from './doctor-aws';
import { answered, describeError as message } from './errors';
import { checkSmtpRelays } from './failover';
import { localQueueUrls, type QueueUrls, queueCounts, table } from './queues';
import {
  LOCAL_SERVICE,
  type LocalService,
  networkReason,
  resolveTarget,
  type Target,
  TargetError,
  type TargetValues,
  unreachable,
} from './target';

/**
 * `postroom doctor`: checks the configuration, the SES account and identity, the queues, the dead-letter
 * queue and (deployed) the alarms of the local or a deployed stack, and prints each finding with its fix.
 * Exit 0 when nothing fails (warnings allowed), 1 when a check fails, 3 when a part of the stack cannot be
 * reached: every other check still runs, and the unreachable parts are FAIL lines with their fix.
 */

interface DoctorValues extends TargetValues {
  readonly json?: boolean | undefined;
  readonly config?: string | undefined;
}

/** What a check could not reach: a FAIL line in the report, its message on stderr, and exit 3. */
class Reach {
  readonly errors: TargetError[] = [];

  /** The FAIL finding for a part that could not be reached, with the flag or variable to fix it. */
  fail(
    check: string,
    target: Pick<Target, 'kind'>,
    service: LocalService,
    at: string | undefined,
    error: unknown,
  ) {
    const failure = unreachable(target, service, at, error);
    this.errors.push(failure);
    return {
      check,
      status: 'fail',
      detail: `could not reach ${LOCAL_SERVICE[service].name}${at === undefined ? '' : ` at ${at}`} (${networkReason(error)})`,
      fix: fixFor(target, service),
      unreachable: true,
    } as const satisfies Finding;
  }
}

function fixFor(target: Pick<Target, 'kind'>, service: LocalService): string {
  const { variable, flag, port } = LOCAL_SERVICE[service];
  return target.kind === 'local'
    ? `start the local stack (npm start); if it listens elsewhere, set ${variable} (default ${port}) or pass ${flag}`
    : `check your AWS credentials, --region and --stack (or ${flag})`;
}

export async function runDoctor(values: DoctorValues, io: CliIo): Promise<number> {
  const findings: Finding[] = [];
  const configPath = values.config ?? 'cdk.json';
  let config: PostroomConfig | undefined;
  try {
    config = localConfig(readPostroomContext(configPath), io.env);
    findings.push({ check: 'config', status: 'ok', detail: `${configPath} is valid` });
  } catch (error) {
    findings.push({
      check: 'config',
      status: 'fail',
      detail: `${configPath}: ${message(error)}`,
      fix: `correct the configuration in ${configPath} (docs/configuration.md); the other checks use the defaults they can`,
    });
  }

  const reach = new Reach();
  let target: Target | undefined;
  try {
    target = await resolveTarget(values, io.env, []);
    if (config !== undefined) findings.push(placeholderFinding(config, target));
  } catch (error) {
    if (!(error instanceof TargetError)) throw error;
    reach.errors.push(error);
    findings.push({
      check: 'stack',
      status: 'fail',
      detail: error.message,
      fix: 'check --stack and --region, and your AWS credentials; the other checks need the stack',
      unreachable: true,
    });
  }
  if (target !== undefined) findings.push(...(await checkTarget(target, config, reach)));
  // Each SMTP relay from here, local or deployed: the relay function must reach it too (docs/failover.md).
  if (config !== undefined) findings.push(...(await checkSmtpRelays(config, io.env)));

  const label = target?.label ?? `stack ${values.stack}`;
  const healthy = findings.every((f) => f.status !== 'fail');
  const reachable = !findings.some((f) => f.unreachable);
  if (values.json) {
    io.out(`${JSON.stringify({ healthy, reachable, target: label, findings })}\n`);
  } else {
    io.out(`Checking ${label}.\n\n`);
    const rows = findings.map((f) => [f.status.toUpperCase(), f.check, f.detail]);
    io.out(table([['STATUS', 'CHECK', 'FINDING'], ...rows]));
    const fixes = findings.filter((f) => f.fix !== undefined && (f.status === 'warn' || f.status === 'fail'));
    if (fixes.length > 0) {
      io.out(`\nFixes:\n${fixes.map((f) => `  ${f.check}: ${f.fix}`).join('\n')}\n`);
    }
    const failed = findings.filter((f) => f.status === 'fail').length;
    io.out(`\n${healthy ? 'No check failed.' : `${failed} check${failed === 1 ? '' : 's'} failed.`}\n`);
  }
  for (const error of reach.errors) io.err(`${error.message}\n`);
  for (const f of findings.filter((f) => f.unreachable && f.check === 'alarms')) {
    io.err(`Could not check the alarms: ${f.detail}. ${f.fix}.\n`);
  }
  if (!reachable) return 3;
  return healthy ? 0 : 1;
}

/**
 * Example addresses and loopback origins (functions/core/config/placeholders.ts): what `npm start` ships with, and
 * what `cdk synth` refuses. Locally they are expected; on a deployed stack they mean mail to nobody.
 */
function placeholderFinding(config: PostroomConfig, target: Target): Finding {
  const found = findPlaceholders(config);
  if (found.length === 0) {
    return { check: 'placeholders', status: 'ok', detail: 'no example addresses or loopback origins' };
  }
  const fields = found.map((p) => `${p.field} = ${p.value}`).join('; ');
  if (target.kind === 'local') {
    return {
      check: 'placeholders',
      status: 'skip',
      detail: `${found.length} example or loopback value${found.length === 1 ? '' : 's'}, fine locally (cdk synth refuses them): ${fields}`,
    };
  }
  return {
    check: 'placeholders',
    status: 'fail',
    detail: `${found.length} example or loopback value${found.length === 1 ? '' : 's'}: ${fields}`,
    fix: 'replace them with your own addresses, origins and pages (docs/configuration.md), then cdk deploy',
  };
}

/** Every check against the stack; a part that cannot be reached fails its own checks, not the others. */
async function checkTarget(
  target: Target,
  config: PostroomConfig | undefined,
  reach: Reach,
): Promise<Finding[]> {
  const findings: Finding[] = [];
  const ses = createSesClient(target.aws);
  const sqs = createSqsClient(target.aws);
  const local = target.kind === 'local';
  try {
    const account = await checkSes(ses, target, config, reach);
    findings.push(...account);
    if (local) {
      findings.push({
        check: 'ses identity',
        status: 'skip',
        detail: 'not checked locally (the emulator has no identities)',
      });
    } else if (account.some((f) => f.unreachable)) {
      findings.push({
        check: 'ses identity',
        status: 'skip',
        detail: 'not checked: SES could not be reached',
      });
    } else {
      findings.push(...(await checkIdentities(ses, config)));
    }
    findings.push(...(await checkQueues(sqs, target, config, reach)));
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
  } finally {
    ses.destroy();
    sqs.destroy();
  }
  return findings;
}

async function checkSes(
  ses: ReturnType<typeof createSesClient>,
  target: Target,
  config: PostroomConfig | undefined,
  reach: Reach,
): Promise<Finding[]> {
  let account: GetAccountCommandOutput;
  try {
    account = await ses.send(new GetAccountCommand({}));
  } catch (error) {
    if (!answered(error)) {
      return [
        reach.fail(
          'ses account',
          target,
          'ses',
          target.aws.endpoints?.ses ?? `SES in ${target.region}`,
          error,
        ),
      ];
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
  target: Target,
  config: PostroomConfig | undefined,
  reach: Reach,
): Promise<Finding[]> {
  const local = target.kind === 'local';
  const redeploy = local ? 'restart the local stack (npm start creates both queues)' : 'cdk deploy';
  const at = target.aws.endpoints?.sqs;
  let urls: QueueUrls;
  if (local) {
    try {
      urls = await localQueueUrls(sqs);
    } catch (error) {
      if (!answered(error)) return [reach.fail('queues', target, 'sqs', at, error)];
      return [
        {
          check: 'queues',
          status: 'fail',
          detail: `the local stack has no queue ${LOCAL_NAMES.queue} or ${LOCAL_NAMES.deadLetterQueue} (${message(error)})`,
          fix: redeploy,
        },
      ];
    }
  } else if (target.queueUrl === undefined || target.deadLetterQueueUrl === undefined) {
    return [
      {
        check: 'queues',
        status: 'fail',
        detail: `${target.label} has no output QueueUrl or DeadLetterQueueUrl`,
        fix: 'deploy this version of Postroom (cdk deploy), which adds them',
      },
    ];
  } else {
    urls = { queueUrl: target.queueUrl, deadLetterQueueUrl: target.deadLetterQueueUrl };
  }
  let mail: GetQueueAttributesCommandOutput;
  let dlq: GetQueueAttributesCommandOutput;
  try {
    [mail, dlq] = await Promise.all([
      sqs.send(new GetQueueAttributesCommand({ QueueUrl: urls.queueUrl, AttributeNames: ['RedrivePolicy'] })),
      sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: urls.deadLetterQueueUrl, AttributeNames: ['QueueArn'] }),
      ),
    ]);
  } catch (error) {
    if (!answered(error)) return [reach.fail('queues', target, 'sqs', at, error)];
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
          detail: `to ${queueName(urls.deadLetterQueueUrl)} after ${policy.maxReceiveCount} receives`,
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
  let counts: Awaited<ReturnType<typeof queueCounts>>;
  try {
    counts = await queueCounts(sqs, urls.deadLetterQueueUrl);
  } catch (error) {
    if (!answered(error)) return [...findings, reach.fail('dead letters', target, 'sqs', at, error)];
    throw error;
  }
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

import { CloudWatchClient, DescribeAlarmsCommand, type MetricAlarm } from '@aws-sdk/client-cloudwatch';
import {
  GetEmailIdentityCommand,
  type GetEmailIdentityCommandOutput,
  type SESv2Client,
} from '@aws-sdk/client-sesv2';
import type { PostroomConfig } from '../functions/core/config/config';
import type { Finding } from './command';
import { answered, describeError } from './errors';
import type { Target } from './target';

/**
 * The doctor's checks of what only a deployed stack has: the SES identity the relay sends as, and the
 * stack's CloudWatch alarms.
 */

/** The identities that let SES send as the sender, most specific last: a verified domain covers its addresses. */
export function senderIdentities(config: PostroomConfig): string[] {
  const address = config.sender.address;
  const domain = address.slice(address.lastIndexOf('@') + 1);
  const ses = config.transports.find((t) => t.kind === 'ses');
  const configured = ses?.kind === 'ses' ? ses.domainIdentity : undefined;
  return [...new Set([configured, domain, address].filter((i): i is string => i !== undefined))];
}

/**
 * SES sends as the sender when its domain (or a parent the stack verified) or the address itself is a
 * verified identity; DKIM signing needs the domain's CNAME records in DNS.
 * https://docs.aws.amazon.com/ses/latest/dg/creating-identities.html
 */
export async function checkIdentities(
  ses: SESv2Client,
  config: PostroomConfig | undefined,
): Promise<Finding[]> {
  if (config === undefined) {
    return [{ check: 'ses identity', status: 'warn', detail: 'not checked: the configuration is invalid' }];
  }
  // SES anywhere in the failover list must be able to send as the sender.
  if (!config.transports.some((t) => t.kind === 'ses')) {
    return [{ check: 'ses identity', status: 'skip', detail: 'the relay sends through SMTP, not SES' }];
  }
  const candidates = senderIdentities(config);
  for (const identity of candidates) {
    let found: GetEmailIdentityCommandOutput;
    try {
      found = await ses.send(new GetEmailIdentityCommand({ EmailIdentity: identity }));
    } catch (error) {
      if (answered(error) && (error as Error).name === 'NotFoundException') continue;
      return [
        {
          check: 'ses identity',
          status: 'warn',
          detail: `GetEmailIdentity ${identity} refused (${describeError(error)}): identity not checked`,
          fix: 'allow ses:GetEmailIdentity to the role running postroom doctor',
        },
      ];
    }
    return identityFindings(identity, found);
  }
  return [
    {
      check: 'ses identity',
      status: 'fail',
      detail: `no SES identity for ${candidates.join(' or ')}: SES refuses to send as the sender`,
      fix:
        'set transport.domainIdentity in cdk.json and cdk deploy (the stack creates the domain identity), ' +
        'or verify the sender address in the SES console',
    },
  ];
}

function identityFindings(identity: string, found: GetEmailIdentityCommandOutput): Finding[] {
  const domain = found.IdentityType === 'DOMAIN';
  const dnsFix =
    'publish the three DKIM CNAME records (the stack outputs DkimRecord1Name..DkimRecord3Value) in the ' +
    "domain's DNS; SES checks them for up to 72 hours, then the status turns SUCCESS";
  const findings: Finding[] = [];
  if (found.VerifiedForSendingStatus === true) {
    findings.push({ check: 'ses identity', status: 'ok', detail: `${identity} is verified for sending` });
  } else {
    findings.push({
      check: 'ses identity',
      status: 'fail',
      detail: `${identity} exists but is not verified for sending (verification ${found.VerificationStatus ?? 'unknown'})`,
      fix: domain
        ? dnsFix
        : `open the verification mail SES sent to ${identity} (or resend it from the SES console)`,
    });
  }
  const dkim = found.DkimAttributes?.Status ?? 'NOT_STARTED';
  if (dkim === 'SUCCESS') {
    findings.push({ check: 'ses dkim', status: 'ok', detail: `DKIM for ${identity}: SUCCESS` });
  } else {
    findings.push({
      check: 'ses dkim',
      // An address identity signs with its domain's DKIM only once the domain is verified too.
      status: domain ? 'fail' : 'warn',
      detail: `DKIM for ${identity}: ${dkim}`,
      fix: domain
        ? dnsFix
        : 'verify the sender domain as well (transport.domainIdentity) so mail is DKIM-signed',
    });
  }
  return findings;
}

/**
 * Every alarm of the stack notifies its alarm topic, so DescribeAlarms with the topic as ActionPrefix finds
 * them without knowing their generated names.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html
 */
export async function checkAlarms(target: Target): Promise<Finding[]> {
  const topic = target.alarmTopicArn;
  if (topic === undefined) {
    return [
      {
        check: 'alarms',
        status: 'fail',
        detail: `${target.label} has no output AlarmTopicArn`,
        fix: 'deploy this version of Postroom (cdk deploy)',
      },
    ];
  }
  const cloudwatch = new CloudWatchClient({
    region: target.region,
    endpoint: target.cloudwatchEndpoint,
    credentials: target.aws.credentials,
  });
  const alarms: MetricAlarm[] = [];
  try {
    let token: string | undefined;
    do {
      const page = await cloudwatch.send(
        new DescribeAlarmsCommand({ ActionPrefix: topic, AlarmTypes: ['MetricAlarm'], NextToken: token }),
      );
      alarms.push(...(page.MetricAlarms ?? []));
      token = page.NextToken;
    } while (token);
  } catch (error) {
    if (!answered(error)) {
      return [
        {
          check: 'alarms',
          status: 'fail',
          detail: `could not reach CloudWatch in ${target.region} (${describeError(error)})`,
          fix: 'check your AWS credentials and --region (or --cloudwatch-endpoint URL)',
          unreachable: true,
        },
      ];
    }
    return [
      {
        check: 'alarms',
        status: 'warn',
        detail: `DescribeAlarms failed (${describeError(error)}): alarms not checked`,
        fix: 'allow cloudwatch:DescribeAlarms to the role running postroom doctor',
      },
    ];
  } finally {
    cloudwatch.destroy();
  }
  if (alarms.length === 0) {
    return [
      {
        check: 'alarms',
        status: 'fail',
        detail: `no alarm notifies ${topic}: nobody hears of dead letters or a failing relay`,
        fix: 'cdk deploy the stack again, which creates the alarms',
      },
    ];
  }
  const firing = alarms.filter((a) => a.StateValue === 'ALARM');
  const unknown = alarms.filter((a) => a.StateValue === 'INSUFFICIENT_DATA');
  const findings: Finding[] = firing.map((alarm) => ({
    check: 'alarm',
    status: 'fail',
    detail: `${alarm.AlarmName} is in ALARM${since(alarm)}: ${alarm.StateReason ?? 'no reason given'}`,
    // Each alarm's description says what to do (infra/constructs/monitoring.ts).
    fix: alarm.AlarmDescription ?? `see ${alarm.AlarmName} in the CloudWatch console`,
  }));
  for (const alarm of unknown) {
    findings.push({
      check: 'alarm',
      status: 'warn',
      detail: `${alarm.AlarmName} has insufficient data`,
      fix: 'a new alarm waits for its first period; if it stays so, check that its metric is published',
    });
  }
  if (firing.length === 0) {
    const quiet = alarms.length - unknown.length;
    findings.push({
      check: 'alarms',
      status: 'ok',
      detail: `none of the ${alarms.length} alarms is in ALARM (${quiet} OK, ${unknown.length} without data)`,
    });
  }
  return findings;
}

function since(alarm: MetricAlarm): string {
  return alarm.StateUpdatedTimestamp ? ` since ${alarm.StateUpdatedTimestamp.toISOString()}` : '';
}

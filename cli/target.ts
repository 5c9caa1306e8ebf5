import { CloudFormationClient, DescribeStacksCommand, type Output } from '@aws-sdk/client-cloudformation';
import type { AwsClientOptions } from '../functions/adapters/aws-clients';
import { createSqsClient } from '../functions/adapters/sqs-client';
import { LOCAL_HOST, LOCAL_NAMES } from '../local/emulators';
import { answered } from './errors';
import { localQueueUrls, sqsEndpoint } from './queues';

/**
 * What a command operates on: the local stack (npm start) or a deployed stack, found by name through its
 * CloudFormation outputs. Every command takes `--stack NAME`; without it, the local stack.
 */

export interface TargetValues {
  readonly stack?: string | undefined;
  readonly region?: string | undefined;
  readonly 'cloudformation-endpoint'?: string | undefined;
  readonly 'sqs-endpoint'?: string | undefined;
  readonly 'ses-endpoint'?: string | undefined;
  readonly 'cloudwatch-endpoint'?: string | undefined;
  /** The DynamoDB endpoint. */
  readonly endpoint?: string | undefined;
  readonly api?: string | undefined;
}

/** The resources a command may need, and the stack output each comes from. */
export const OUTPUT_OF = {
  queueUrl: 'QueueUrl',
  deadLetterQueueUrl: 'DeadLetterQueueUrl',
  tableName: 'TableName',
  apiUrl: 'ApiUrl',
  alarmTopicArn: 'AlarmTopicArn',
  sesConfigurationSet: 'SesConfigurationSet',
} as const;

export type TargetResource = keyof typeof OUTPUT_OF;

export interface Target extends Partial<Record<TargetResource, string>> {
  readonly kind: 'local' | 'deployed';
  /** For messages: `the local stack` or `stack NAME (REGION)`. */
  readonly label: string;
  readonly region: string;
  /** Client options: the emulators' endpoints and credentials locally; on AWS only explicit overrides. */
  readonly aws: AwsClientOptions;
  readonly cloudwatchEndpoint?: string | undefined;
}

/** The target cannot be used: no such stack, an output missing, the local stack not running. Exit 3. */
export class TargetError extends Error {
  override readonly name = 'TargetError';
}

// The local emulators accept any credentials; these never leave the machine.
const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * Resolves the target, with `needs` present (a named TargetError otherwise). A deployed stack's other
 * outputs are filled in when it has them.
 */
export async function resolveTarget<K extends TargetResource>(
  values: TargetValues,
  env: NodeJS.ProcessEnv,
  needs: ReadonlyArray<K>,
): Promise<Target & Readonly<Record<K, string>>> {
  const target =
    values.stack === undefined ? await localTarget(values, env, needs) : await deployed(values, env);
  if (target.kind === 'deployed') {
    const missing = needs.filter((need) => target[need] === undefined).map((need) => OUTPUT_OF[need]);
    if (missing.length > 0) {
      throw new TargetError(
        `${capitalised(target.label)} has no output ${missing.join(', ')}: deploy this version of Postroom ` +
          '(cdk deploy), which adds it.',
      );
    }
  }
  return target as Target & Readonly<Record<K, string>>;
}

async function localTarget(
  values: TargetValues,
  env: NodeJS.ProcessEnv,
  needs: ReadonlyArray<TargetResource>,
): Promise<Target> {
  const aws: AwsClientOptions = {
    region: values.region ?? 'us-east-1',
    endpoints: {
      sqs: sqsEndpoint(values['sqs-endpoint'], env),
      ses: values['ses-endpoint'] ?? `http://${LOCAL_HOST}:${env.POSTROOM_SES_PORT || '8005'}`,
      dynamodb: values.endpoint ?? `http://${LOCAL_HOST}:${env.POSTROOM_DYNAMODB_PORT || '8000'}`,
    },
    credentials: LOCAL_CREDENTIALS,
  };
  const base = {
    kind: 'local' as const,
    label: 'the local stack',
    region: aws.region,
    aws,
    tableName: LOCAL_NAMES.table,
    apiUrl: (values.api ?? `http://${LOCAL_HOST}:${env.POSTROOM_API_PORT || '3000'}`).replace(/\/+$/, ''),
  };
  if (!needs.includes('queueUrl') && !needs.includes('deadLetterQueueUrl')) return base;
  const sqs = createSqsClient(aws);
  try {
    return { ...base, ...(await localQueueUrls(sqs)) };
  } catch (error) {
    const what = error instanceof Error ? error.name : String(error);
    throw new TargetError(
      answered(error)
        ? `The local stack has no queue ${LOCAL_NAMES.queue} or ${LOCAL_NAMES.deadLetterQueue} (${what}): restart it (npm start).`
        : `Could not reach the queues (${what}) at ${aws.endpoints?.sqs}. Is the local stack running (npm start)?`,
    );
  } finally {
    sqs.destroy();
  }
}

async function deployed(values: TargetValues, env: NodeJS.ProcessEnv): Promise<Target> {
  const stackName = values.stack ?? '';
  // Region and credentials come from the SDK's default chain (AWS_REGION, AWS_PROFILE, ~/.aws/config, SSO,
  // instance roles) unless --region says otherwise.
  const cloudformation = new CloudFormationClient({
    region: values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION,
    endpoint: values['cloudformation-endpoint'],
  });
  let region = values.region ?? 'the default region';
  try {
    region = await cloudformation.config.region();
    const result = await cloudformation.send(new DescribeStacksCommand({ StackName: stackName }));
    const outputs = outputsOf(result.Stacks?.[0]?.Outputs);
    const resources = Object.fromEntries(
      Object.entries(OUTPUT_OF).flatMap(([field, key]) => (outputs[key] ? [[field, outputs[key]]] : [])),
    ) as Partial<Record<TargetResource, string>>;
    return {
      ...resources,
      kind: 'deployed',
      label: `stack ${stackName} (${region})`,
      region,
      aws: {
        region,
        endpoints: {
          sqs: values['sqs-endpoint'],
          ses: values['ses-endpoint'],
          dynamodb: values.endpoint,
        },
      },
      cloudwatchEndpoint: values['cloudwatch-endpoint'],
    };
  } catch (error) {
    const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    // CloudFormation answers a missing stack with a ValidationError "Stack with id NAME does not exist".
    // https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_DescribeStacks.html
    if (answered(error) && /does not exist/i.test(text)) {
      throw new TargetError(`There is no stack ${stackName} in ${region}: check --stack and --region.`);
    }
    throw new TargetError(
      `Could not read stack ${stackName} in ${region} (${text}). Check your AWS credentials, --region and --stack.`,
    );
  } finally {
    cloudformation.destroy();
  }
}

function outputsOf(outputs: ReadonlyArray<Output> | undefined): Record<string, string> {
  return Object.fromEntries(
    (outputs ?? []).flatMap((o) => (o.OutputKey && o.OutputValue ? [[o.OutputKey, o.OutputValue]] : [])),
  );
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

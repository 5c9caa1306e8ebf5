import { createHash } from 'node:crypto';
import path from 'node:path';
import { AssetHashType, DockerImage, type Duration, Token, Validations } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Code, Function as LambdaFunction, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { PostroomConfig } from '../../functions/core/config/config';
import { atLevel } from '../../functions/core/monitoring';
import { bundleFunction, type FunctionEntry, HANDLER } from '../bundling';
import { REPO_ROOT } from '../paths';

/**
 * Lambda limits all environment variables of a function to 4 KB together. The configuration is not among
 * them (it is built into the code package), but queue URLs and names are; checked at synth so an
 * oversized environment fails here, not halfway through a deploy.
 * https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
 */
const MAX_ENVIRONMENT_BYTES = 4 * 1024;
/** What an unresolved value (a queue URL, a table name) may grow to at deploy time; table names go to 255. */
const MAX_TOKEN_BYTES = 256;

export interface MailFunctionProps {
  /** The folder under `functions/` whose `index.ts` exports `handler`: `send`, `relay` or `events`. */
  readonly entry: FunctionEntry;
  readonly description: string;
  /**
   * The validated configuration: built into the code package as `config.json`, which the function reads at
   * cold start without validating it again (functions/adapters/function-env.ts).
   */
  readonly config: PostroomConfig;
  readonly timeout: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  /** The function's environment variables. */
  readonly environment?: Readonly<Record<string, string>>;
  /**
   * How long the function's log group keeps its events (`monitoring.logRetentionDays`).
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
}

/**
 * A Postroom function: bundled locally with esbuild as ESM (infra/bundling.ts), on ARM64, traced, with its
 * own log group and its own role, which may write to that log group and nothing else until a grant adds to it.
 */
export class MailFunction extends Construct {
  readonly function: LambdaFunction;
  readonly logGroup: LogGroup;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: MailFunctionProps) {
    super(scope, id);

    // No NODE_OPTIONS=--enable-source-maps: the asset has no maps, as reading them slows every cold start
    // (infra/bundling.ts says how to decode a stack).
    const environment = { ...props.environment };
    const environmentBytes = Object.entries(environment).reduce(
      (sum, [name, value]) =>
        sum +
        Buffer.byteLength(name) +
        (Token.isUnresolved(value) ? MAX_TOKEN_BYTES : Buffer.byteLength(value)),
      0,
    );
    if (environmentBytes > MAX_ENVIRONMENT_BYTES) {
      throw new Error(
        `${this.node.path}: the environment is ${environmentBytes} bytes, over Lambda's ${MAX_ENVIRONMENT_BYTES}; ` +
          'shorten the names of the resources it is given',
      );
    }

    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention ?? RetentionDays.ONE_MONTH });
    // Not AWSLambdaBasicExecutionRole: it allows creating and writing any log group in the account. The
    // function's log group exists before the function does, so streams and events in it are all it needs.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${this.node.path}`,
    });
    this.logGroup.grantWrite(this.role);

    // Not NodejsFunction: it bundles to a single file, and the functions load their rarely used parts from
    // chunks of their own (code splitting needs an output folder). esbuild runs in this process; the image
    // is never pulled, as local bundling always succeeds or throws.
    const { entry, config } = props;
    const code = Code.fromAsset(path.join(REPO_ROOT, 'functions', entry), {
      assetHashType: AssetHashType.OUTPUT,
      bundling: {
        image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
        // CDK reuses a bundle within one app by a key made of the source path and the bundling options, and
        // the local hook below is not part of it: the configuration's digest is, here, so two stacks with
        // different configurations in one app never share a bundle.
        environment: {
          POSTROOM_CONFIG_SHA256: createHash('sha256').update(JSON.stringify(config)).digest('hex'),
        },
        local: {
          tryBundle(outputDir) {
            bundleFunction(entry, outputDir, config);
            return true;
          },
        },
      },
    });
    this.function = new LambdaFunction(this, 'Function', {
      description: props.description,
      code,
      handler: HANDLER,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout,
      tracing: tracingOf(props.entry, props.config.monitoring),
      role: this.role,
      logGroup: this.logGroup,
      environment,
    });

    // cdk-nag (AwsSolutions) findings that are decisions, not oversights (the X-Ray one applies only when the
    // function traces):
    Validations.of(this.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'Only X-Ray tracing (xray:PutTraceSegments, xray:PutTelemetryRecords), which CDK adds for active ' +
        'tracing: these actions have no resource-level permissions, so * is the only possible scope.',
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'nodejs22.x is a supported Lambda runtime (deprecation scheduled for 2027). Moving to a newer ' +
        'runtime is a deliberate, tested change, not one a build should be forced into when a runtime ships.',
    });
  }
}

/**
 * How a function traces (`monitoring.traceSamplePercent`, `monitoring.level`). The send function follows the
 * API's sampling decision (an X-Ray sampling rule on the stage, infra/constructs/api.ts), so its traces cost
 * what the rule allows. Lambda's own rule for a function that starts traces (1 a second, then 5 %) cannot be
 * changed, and at low volume it traces nearly every invocation (USD 5 per million): the functions that
 * queues and topics invoke trace at `full` only.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html
 */
export function tracingOf(entry: FunctionEntry, monitoring: PostroomConfig['monitoring']): Tracing {
  if (monitoring.traceSamplePercent === 0) return Tracing.DISABLED;
  if (entry === 'send') return Tracing.PASS_THROUGH;
  return atLevel(monitoring.level, 'full') ? Tracing.ACTIVE : Tracing.DISABLED;
}

/**
 * Resolves the intrinsic functions of a synthesized CloudFormation template into the concrete values a
 * deployment in one fixed account and region would have, so a policy simulator can evaluate the stack's IAM,
 * topic, key and bucket policies against real ARNs. Physical names are the logical ids: what matters to IAM
 * is that every reference to a resource resolves to the same ARN, and to no other resource's.
 *
 * Only the intrinsics and attributes the stack's policies use are known; anything else throws, so a policy
 * that starts to use one cannot be simulated against a guess.
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html
 */

export const ACCOUNT = '123456789012';
export const PARTITION = 'aws';

export interface CfnTemplate {
  readonly Resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

export class UnresolvableError extends Error {
  constructor(what: string) {
    super(`cannot resolve ${what}`);
    this.name = 'UnresolvableError';
  }
}

export class TemplateResolver {
  constructor(
    private readonly template: CfnTemplate,
    readonly region: string,
    readonly account: string = ACCOUNT,
  ) {}

  /** `value` with every intrinsic function replaced by its value. */
  resolve(value: unknown): unknown {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item));
    if (value === null || typeof value !== 'object') return value;
    const entries = Object.entries(value);
    const [first] = entries;
    if (entries.length === 1 && first !== undefined && isIntrinsic(first[0])) {
      return this.intrinsic(first[0], first[1]);
    }
    return Object.fromEntries(entries.map(([key, item]) => [key, this.resolve(item)]));
  }

  /** `value` resolved, which must be a string. */
  string(value: unknown): string {
    const resolved = this.resolve(value);
    if (typeof resolved !== 'string') throw new UnresolvableError(`${JSON.stringify(value)} to a string`);
    return resolved;
  }

  /** The logical ids of the resources of `type`, whose id starts with `prefix`. */
  logicalIds(type: string, prefix = ''): string[] {
    return Object.entries(this.template.Resources)
      .filter(([id, resource]) => resource.Type === type && id.startsWith(prefix))
      .map(([id]) => id);
  }

  /** The one resource of `type` whose logical id starts with `prefix`. */
  only(type: string, prefix = ''): string {
    const ids = this.logicalIds(type, prefix);
    if (ids.length !== 1) throw new Error(`${ids.length} ${type} resources start with "${prefix}"`);
    return ids[0] as string;
  }

  properties(logicalId: string): Record<string, unknown> {
    return this.template.Resources[logicalId]?.Properties ?? {};
  }

  /** What `{ Ref: logicalId }` resolves to. */
  ref(logicalId: string): string {
    const pseudo: Record<string, string> = {
      'AWS::AccountId': this.account,
      'AWS::Partition': PARTITION,
      'AWS::Region': this.region,
      'AWS::URLSuffix': 'amazonaws.com',
    };
    const known = pseudo[logicalId];
    if (known !== undefined) return known;
    const type = this.typeOf(logicalId);
    switch (type) {
      case 'AWS::SQS::Queue':
        return `https://sqs.${this.region}.amazonaws.com/${this.account}/${logicalId}`;
      case 'AWS::SNS::Topic':
        return this.arn('sns', logicalId);
      case 'AWS::KMS::Key':
        return `${logicalId.toLowerCase()}-0000-4000-8000-000000000000`;
      case 'AWS::DynamoDB::Table':
      case 'AWS::S3::Bucket':
      case 'AWS::SES::ConfigurationSet':
      case 'AWS::Lambda::Function':
      case 'AWS::IAM::Role':
      case 'AWS::Logs::LogGroup':
      case 'AWS::ApiGateway::RestApi':
      case 'AWS::ApiGateway::Stage':
        return logicalId;
      case 'AWS::SES::EmailIdentity':
        return this.string(this.properties(logicalId).EmailIdentity);
      // A generated secret's ARN ends in a random suffix, as a named one's does.
      case 'AWS::SecretsManager::Secret':
        return this.arn('secretsmanager', `secret:${logicalId}-Ab12Cd`);
      case 'AWS::IAM::ManagedPolicy':
        return `arn:${PARTITION}:iam::${this.account}:policy/${logicalId}`;
      default:
        throw new UnresolvableError(`Ref to ${logicalId} (${type})`);
    }
  }

  /** What `{ 'Fn::GetAtt': [logicalId, attribute] }` resolves to. */
  getAtt(logicalId: string, attribute: string): string {
    const type = this.typeOf(logicalId);
    const name = this.ref(logicalId);
    const key = `${type}.${attribute}`;
    switch (key) {
      case 'AWS::DynamoDB::Table.Arn':
        return this.arn('dynamodb', `table/${name}`);
      case 'AWS::SQS::Queue.Arn':
        return this.arn('sqs', logicalId);
      case 'AWS::SQS::Queue.QueueName':
        return logicalId;
      case 'AWS::SNS::Topic.TopicArn':
        return name;
      case 'AWS::KMS::Key.Arn':
        return this.arn('kms', `key/${name}`);
      case 'AWS::S3::Bucket.Arn':
        return `arn:${PARTITION}:s3:::${name}`;
      case 'AWS::Lambda::Function.Arn':
        return this.arn('lambda', `function:${name}`);
      case 'AWS::IAM::Role.Arn':
        return `arn:${PARTITION}:iam::${this.account}:role/${name}`;
      case 'AWS::Logs::LogGroup.Arn':
        return this.arn('logs', `log-group:${name}:*`);
      case 'AWS::WAFv2::WebACL.Arn':
        return this.arn('wafv2', `regional/webacl/${logicalId}/${logicalId.toLowerCase()}`);
      default:
        throw new UnresolvableError(`Fn::GetAtt ${logicalId}.${attribute} (${type})`);
    }
  }

  /** An ARN of this account and region. */
  arn(service: string, resource: string): string {
    return `arn:${PARTITION}:${service}:${this.region}:${this.account}:${resource}`;
  }

  private typeOf(logicalId: string): string {
    const resource = this.template.Resources[logicalId];
    if (resource === undefined) throw new UnresolvableError(`${logicalId}: no such resource`);
    return resource.Type;
  }

  private intrinsic(name: string, argument: unknown): unknown {
    switch (name) {
      case 'Ref':
        return this.ref(String(argument));
      case 'Fn::GetAtt': {
        const [logicalId, attribute] = Array.isArray(argument) ? argument : String(argument).split('.');
        return this.getAtt(String(logicalId), String(attribute));
      }
      case 'Fn::Join': {
        const [separator, parts] = argument as [string, unknown[]];
        return parts.map((part) => this.string(part)).join(separator);
      }
      case 'Fn::Select': {
        const [index, list] = argument as [number | string, unknown];
        const values = this.resolve(list);
        if (!Array.isArray(values)) throw new UnresolvableError(`Fn::Select over ${JSON.stringify(list)}`);
        return values[Number(index)];
      }
      case 'Fn::Split': {
        const [separator, source] = argument as [string, unknown];
        return this.string(source).split(separator);
      }
      case 'Fn::Sub': {
        const [text, variables = {}] = (Array.isArray(argument) ? argument : [argument]) as [
          string,
          Record<string, unknown>?,
        ];
        return text.replace(/\$\{([^}!][^}]*)\}/g, (_, variable: string) => {
          if (variable in variables) return this.string(variables[variable]);
          const [logicalId, attribute] = variable.split('.');
          return attribute === undefined
            ? this.ref(String(logicalId))
            : this.getAtt(String(logicalId), attribute);
        });
      }
      default:
        throw new UnresolvableError(name);
    }
  }
}

function isIntrinsic(key: string): boolean {
  return key === 'Ref' || key.startsWith('Fn::');
}

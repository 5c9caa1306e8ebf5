import { runSimulation } from '@cloud-copilot/iam-simulate';
import type { Template } from 'aws-cdk-lib/assertions';
import { type CfnTemplate, TemplateResolver } from './cfn-resolve';

/**
 * The policies of a synthesized Postroom stack, resolved to concrete ARNs (cfn-resolve.ts), and a request
 * evaluated against them by @cloud-copilot/iam-simulate, an offline implementation of AWS's policy
 * evaluation logic: identity policies, the resource's policy, and conditions with the request's context keys.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 */

export type Decision = 'Allowed' | 'ImplicitlyDenied' | 'ExplicitlyDenied';

interface PolicyDocument {
  Version?: string;
  Statement: unknown[];
}

/** A Postroom function as deployed: its role and what the role is granted. */
export interface DeployedFunction {
  readonly functionArn: string;
  readonly roleArn: string;
  readonly logGroupName: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly identityPolicies: ReadonlyArray<{ name: string; policy: PolicyDocument }>;
}

export interface SimulatedRequest {
  /** A role ARN, or a service principal such as `ses.amazonaws.com`. */
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly context?: Readonly<Record<string, string | string[]>>;
}

export class SimulationInputError extends Error {
  constructor(request: SimulatedRequest, detail: string) {
    super(`${request.action} on ${request.resource} by ${request.principal}: ${detail}`);
    this.name = 'SimulationInputError';
  }
}

export class StackPolicies {
  readonly resolver: TemplateResolver;
  private readonly resourcePolicies = new Map<string, PolicyDocument>();

  constructor(template: Template, region: string) {
    const json = template.toJSON() as CfnTemplate;
    this.resolver = new TemplateResolver(json, region);
    this.collectResourcePolicies();
  }

  get account(): string {
    return this.resolver.account;
  }

  /** The function whose description starts with `descriptionPrefix` (`Postroom relay`, ...). */
  deployedFunction(descriptionPrefix: string): DeployedFunction {
    const r = this.resolver;
    const [logicalId, ...others] = r
      .logicalIds('AWS::Lambda::Function')
      .filter((id) => String(r.properties(id).Description ?? '').startsWith(descriptionPrefix));
    if (logicalId === undefined || others.length > 0) {
      throw new Error(`expected one function described "${descriptionPrefix}..."`);
    }
    const properties = r.properties(logicalId);
    const roleId = (properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const role = r.properties(roleId);
    if (role.ManagedPolicyArns !== undefined) throw new Error(`${roleId} has managed policies`);
    const inline = ((role.Policies ?? []) as Array<{ PolicyName: string; PolicyDocument: unknown }>).map(
      (policy) => ({ name: policy.PolicyName, policy: r.resolve(policy.PolicyDocument) as PolicyDocument }),
    );
    const attached = r
      .logicalIds('AWS::IAM::Policy')
      .filter((id) =>
        ((r.properties(id).Roles ?? []) as Array<{ Ref?: string }>).some((ref) => ref.Ref === roleId),
      )
      .map((id) => ({ name: id, policy: r.resolve(r.properties(id).PolicyDocument) as PolicyDocument }));
    const variables = ((properties.Environment as { Variables?: Record<string, unknown> } | undefined)
      ?.Variables ?? {}) as Record<string, unknown>;
    const logging = properties.LoggingConfig as { LogGroup?: unknown } | undefined;
    return {
      functionArn: r.getAtt(logicalId, 'Arn'),
      roleArn: r.getAtt(roleId, 'Arn'),
      logGroupName: r.string(logging?.LogGroup),
      environment: Object.fromEntries(
        Object.entries(variables).map(([name, value]) => [name, r.string(value)]),
      ),
      identityPolicies: [...inline, ...attached],
    };
  }

  /**
   * A role no function runs as (the scheduler's), found by the start of its description, as a
   * DeployedFunction without function, logs or environment: what decide needs is its policies.
   */
  deployedRole(descriptionPrefix: string): DeployedFunction {
    const r = this.resolver;
    const [roleId, ...others] = r
      .logicalIds('AWS::IAM::Role')
      .filter((id) => String(r.properties(id).Description ?? '').startsWith(descriptionPrefix));
    if (roleId === undefined || others.length > 0) {
      throw new Error(`expected one role described "${descriptionPrefix}..."`);
    }
    const role = r.properties(roleId);
    if (role.ManagedPolicyArns !== undefined) throw new Error(`${roleId} has managed policies`);
    const attached = r
      .logicalIds('AWS::IAM::Policy')
      .filter((id) =>
        ((r.properties(id).Roles ?? []) as Array<{ Ref?: string }>).some((ref) => ref.Ref === roleId),
      )
      .map((id) => ({ name: id, policy: r.resolve(r.properties(id).PolicyDocument) as PolicyDocument }));
    return {
      functionArn: '',
      roleArn: r.getAtt(roleId, 'Arn'),
      logGroupName: '',
      environment: {},
      identityPolicies: attached,
    };
  }

  /**
   * A customer-managed policy (found by the start of its description) as an operator's role holds it once
   * attached: ArchiveOperatorPolicy, which the stack makes for people, not for a function.
   */
  operatorWith(descriptionPrefix: string): DeployedFunction {
    const r = this.resolver;
    const [policyId, ...others] = r
      .logicalIds('AWS::IAM::ManagedPolicy')
      .filter((id) => String(r.properties(id).Description ?? '').startsWith(descriptionPrefix));
    if (policyId === undefined || others.length > 0) {
      throw new Error(`expected one managed policy described "${descriptionPrefix}..."`);
    }
    return {
      functionArn: '',
      roleArn: `arn:aws:iam::${this.account}:role/postroom-operator`,
      logGroupName: '',
      environment: {},
      identityPolicies: [
        { name: policyId, policy: r.resolve(r.properties(policyId).PolicyDocument) as PolicyDocument },
      ],
    };
  }

  /**
   * A key made outside the stack (`archive.kmsKeyArn`) with the key policy AWS gives a new key: the account
   * may use it through IAM policies. https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
   */
  assumeDefaultKeyPolicy(keyArn: string): void {
    this.resourcePolicies.set(keyArn, {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'Enable IAM User Permissions',
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${this.account}:root` },
          Action: 'kms:*',
          Resource: '*',
        },
      ],
    });
  }

  /** The resource policy that governs `resourceArn` (a topic, key, queue, bucket or its objects, function). */
  resourcePolicyOf(resourceArn: string): PolicyDocument | undefined {
    const exact = this.resourcePolicies.get(resourceArn);
    if (exact !== undefined) return exact;
    // An object is governed by its bucket's policy.
    const bucket = /^(arn:aws:s3:::[^/]+)\//.exec(resourceArn)?.[1];
    return bucket === undefined ? undefined : this.resourcePolicies.get(bucket);
  }

  /**
   * The decision AWS would make on `request` by `fn`'s role (or, for a service principal, by the resource
   * policy alone). Requests are made over TLS unless the context says otherwise, as the SDK and AWS
   * services do.
   */
  async decide(request: SimulatedRequest, fn?: DeployedFunction): Promise<Decision> {
    const context = { 'aws:SecureTransport': 'true', ...request.context };
    const result = await runSimulation(
      {
        request: {
          principal: request.principal,
          action: request.action,
          resource: { resource: request.resource, accountId: this.account },
          contextVariables: context,
        },
        identityPolicies: (fn?.identityPolicies ?? []).map((policy) => ({ ...policy })),
        serviceControlPolicies: [],
        resourceControlPolicies: [],
        resourcePolicy: this.resourcePolicyOf(request.resource),
      },
      { simulationMode: 'Strict' },
    );
    if (result.resultType === 'error') {
      throw new SimulationInputError(request, JSON.stringify(result.errors));
    }
    if (result.resultType !== 'single') {
      throw new SimulationInputError(request, 'a wildcard resource; simulate one concrete ARN at a time');
    }
    // A condition key the simulator drops for this action would make `ForAllValues` conditions vacuously
    // true: refuse to decide rather than report a permission that rests on a missing key.
    const ignored = result.result.ignoredContextKeys ?? [];
    if (ignored.length > 0)
      throw new SimulationInputError(request, `context keys ignored: ${ignored.join(', ')}`);
    return result.overallResult as Decision;
  }

  private collectResourcePolicies(): void {
    const r = this.resolver;
    const add = (arn: string, document: unknown) => {
      if (this.resourcePolicies.has(arn)) throw new Error(`two resource policies for ${arn}`);
      this.resourcePolicies.set(arn, r.resolve(document) as PolicyDocument);
    };
    for (const id of r.logicalIds('AWS::SNS::TopicPolicy')) {
      const { Topics, PolicyDocument } = r.properties(id);
      for (const topic of Topics as unknown[]) add(r.string(topic), PolicyDocument);
    }
    for (const id of r.logicalIds('AWS::KMS::Key')) add(r.getAtt(id, 'Arn'), r.properties(id).KeyPolicy);
    for (const id of r.logicalIds('AWS::SQS::QueuePolicy')) {
      const { Queues, PolicyDocument } = r.properties(id);
      for (const queue of Queues as unknown[]) add(queueArnOf(r.string(queue)), PolicyDocument);
    }
    for (const id of r.logicalIds('AWS::S3::BucketPolicy')) {
      const { Bucket, PolicyDocument } = r.properties(id);
      add(`arn:aws:s3:::${r.string(Bucket)}`, PolicyDocument);
    }
    // A function's resource policy is the sum of its Lambda permissions.
    const permissions = new Map<string, unknown[]>();
    for (const id of r.logicalIds('AWS::Lambda::Permission')) {
      const p = r.properties(id);
      const functionArn = r.string(p.FunctionName);
      const statement = {
        Sid: id,
        Effect: 'Allow',
        Principal: { Service: r.string(p.Principal) },
        Action: r.string(p.Action),
        Resource: functionArn,
        ...(p.SourceArn === undefined
          ? {}
          : { Condition: { ArnLike: { 'AWS:SourceArn': r.string(p.SourceArn) } } }),
      };
      permissions.set(functionArn, [...(permissions.get(functionArn) ?? []), statement]);
    }
    for (const [functionArn, statements] of permissions) {
      add(functionArn, { Version: '2012-10-17', Statement: statements });
    }
  }
}

/** `https://sqs.<region>.amazonaws.com/<account>/<name>` -> `arn:aws:sqs:<region>:<account>:<name>`. */
export function queueArnOf(queueUrl: string): string {
  const match = /^https:\/\/sqs\.([^.]+)\.amazonaws\.com\/(\d+)\/(.+)$/.exec(queueUrl);
  if (!match) throw new Error(`not a queue URL: ${queueUrl}`);
  return `arn:aws:sqs:${match[1]}:${match[2]}:${match[3]}`;
}

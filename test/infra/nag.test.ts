import { App, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/postroom-stack';
import { defaultConfig, fullConfig, SYNTH_TIMEOUT_MS, smtpConfig } from './stack-fixture';

/** The stack as `cdk synth` checks it (infra/app.ts): cdk-nag's AwsSolutions pack as a validation plugin. */
function checkedStack(rawConfig: unknown) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return buildApp(rawConfig, app);
}

/** Every acknowledgement in the tree: rule id -> reason, with CDK's `annotation::` prefix removed. */
function acknowledgements(root: IConstruct): Map<string, string> {
  const found = new Map<string, string>();
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        found.set(id.replace(/^annotation::/i, ''), reason);
      }
    }
  }
  return found;
}

describe('cdk-nag: AwsSolutions', { timeout: SYNTH_TIMEOUT_MS }, () => {
  for (const [name, rawConfig] of [
    ['the default config', defaultConfig],
    ['every optional feature (WAF, domain identity, captcha, file uploads)', fullConfig],
    ['the SMTP transport', smtpConfig],
    [
      'webhooks',
      {
        ...defaultConfig,
        webhooks: [
          {
            id: 'crm',
            url: 'https://crm.example.com/h',
            events: ['email.sent'],
            secret: 'postroom/webhooks/crm',
          },
        ],
      },
    ],
  ] as const) {
    it(`reports no unacknowledged error or warning for ${name}`, () => {
      // Prepare
      const { app, stack } = checkedStack(rawConfig);

      // Act: synthesis throws on an error finding; the direct run also lists warnings.
      app.synth();
      const report = new AwsSolutionsChecks().validateScope(stack);

      // Assess
      expect(report.violations.map((violation) => violation.ruleName)).toEqual([]);
    });
  }

  it('fails synthesis on a finding nobody acknowledged', () => {
    // Prepare
    const { app, stack } = checkedStack(defaultConfig);
    stack.relay.function.addToRolePolicy(
      new PolicyStatement({ actions: ['sqs:*'], resources: [stack.queueing.mailQueue.queueArn] }),
    );

    // Act & Assess
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5\[Action::sqs:\*\]/);
  });

  it('acknowledges only the reviewed rules, each with a written reason', () => {
    // Prepare
    const { stack } = checkedStack(defaultConfig);

    // Act
    const acknowledged = acknowledgements(stack);

    // Assess
    expect([...acknowledged.keys()].sort()).toEqual([
      'AwsSolutions-APIG2',
      'AwsSolutions-APIG3',
      'AwsSolutions-APIG4',
      'AwsSolutions-APIG6',
      'AwsSolutions-COG4',
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      'AwsSolutions-IAM5[Resource::*]',
      expect.stringMatching(
        /^AwsSolutions-IAM5\[Resource::<AttachmentsBucket[0-9A-F]+\.Arn>\/attachments\/\*\]$/,
      ),
      expect.stringMatching(
        /^AwsSolutions-IAM5\[Resource::arn:aws:scheduler:[a-z0-9-]+:<AWS::AccountId>:schedule\/[A-Za-z0-9-]+\/\*\]$/,
      ),
      'AwsSolutions-L1',
      'AwsSolutions-S1',
      'AwsSolutions-SNS2',
    ]);
    for (const reason of acknowledged.values()) expect(reason.length).toBeGreaterThan(60);
  });
});

import { App, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/postroom-stack';
import { defaultConfig, SYNTH_TIMEOUT_MS } from './stack-fixture';

const KEY_ARN = 'arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const archiveConfig = {
  ...defaultConfig,
  archive: { kmsKeyArn: KEY_ARN },
  akismet: { secret: 'postroom/akismet' },
  forms: [
    {
      id: 'contact',
      recipients: ['owner@example.com'],
      subject: 'New message',
      files: { allowedTypes: ['application/pdf'] },
      archive: { retentionDays: 120, spamRetentionDays: 10, storeFiles: true },
      akismet: { blog: 'https://www.example.com' },
    },
    { id: 'quote', recipients: ['sales@example.com'], subject: 'Quote', archive: {} },
  ],
};

describe('Infra: the submission archive', { timeout: SYNTH_TIMEOUT_MS }, () => {
  let template: Template;
  let violations: string[];

  beforeAll(() => {
    // One synth, checked by cdk-nag as `cdk synth` does (infra/app.ts).
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    const { stack } = buildApp(archiveConfig, app);
    app.synth();
    template = Template.fromStack(stack);
    violations = new AwsSolutionsChecks().validateScope(stack).violations.map((v) => v.ruleName);
  }, SYNTH_TIMEOUT_MS);

  it('keeps submissions in a table of their own, paged by sort key, expired by TTL, under the customer-managed key', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: KEY_ARN },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('expires archived files with their form and folder retention, only where files are kept', () => {
    const rules = Object.values(template.findResources('AWS::S3::Bucket'))
      .flatMap((bucket) => bucket.Properties?.LifecycleConfiguration?.Rules ?? [])
      .filter((rule: { Prefix?: string }) => rule.Prefix?.startsWith('archive/'))
      .map((rule: { Prefix: string; ExpirationInDays: number }) => [rule.Prefix, rule.ExpirationInDays]);
    expect(rules).toEqual([
      ['archive/contact/inbox/', 120],
      ['archive/contact/spam/', 10],
    ]);
  });

  it('serves GET /v1/forms/{formId}/submissions from the send function, which gets the table and secret names', () => {
    template.hasResourceProperties('AWS::ApiGateway::Resource', { PathPart: 'submissions' });
    template.hasResourceProperties('AWS::ApiGateway::Method', {
      HttpMethod: 'GET',
      ResourceId: { Ref: Match.stringLikeRegexp('formIdsubmissions') },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          ARCHIVE_TABLE: { Ref: Match.stringLikeRegexp('^ArchiveTable') },
          ARCHIVE_HASH_KEY_SECRET: { Ref: Match.stringLikeRegexp('^ArchiveHashKey') },
        }),
      },
    });
  });

  it('generates the erasure index key in Secrets Manager, encrypted with the same key', () => {
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({ PasswordLength: 64 }),
      KmsKeyId: KEY_ARN,
    });
  });

  it('publishes the operator policy and what the CLI needs to find the archive', () => {
    const outputs = Object.keys(template.findOutputs('*'));
    expect(outputs).toEqual(
      expect.arrayContaining([
        'ArchiveTableName',
        'AttachmentsBucketName',
        'ArchiveHashKeySecretArn',
        'ArchiveOperatorPolicyArn',
      ]),
    );
    template.hasResourceProperties('AWS::IAM::ManagedPolicy', {
      Description: Match.stringLikeRegexp('^Postroom: read, export, release and erase'),
    });
  });

  it('passes cdk-nag with every finding fixed or acknowledged with a reason', () => {
    expect(violations).toEqual([]);
  });
});

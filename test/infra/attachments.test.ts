import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  actionsOf,
  defaultConfig,
  fullConfig,
  SYNTH_TIMEOUT_MS,
  statementsOfRole,
  synthesize,
} from './stack-fixture';

describe('Construct: Attachments', { timeout: SYNTH_TIMEOUT_MS }, () => {
  let withFiles: Template;
  let withoutFiles: Template;

  beforeAll(() => {
    withFiles = synthesize(fullConfig).template;
    withoutFiles = synthesize(defaultConfig).template;
  }, SYNTH_TIMEOUT_MS);

  it('creates the claim-check bucket even when no form accepts files: API messages may carry attachments', () => {
    withoutFiles.resourceCountIs('AWS::S3::Bucket', 1);
  });

  it('keeps the claim-check bucket private, encrypted and TLS-only', () => {
    withFiles.hasResourceProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
    withFiles.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('expires attachments after 15 days, longer than the dead-letter queue keeps a job', () => {
    withFiles.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: [
          Match.objectLike({
            Prefix: 'attachments/',
            ExpirationInDays: 15,
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
            Status: 'Enabled',
          }),
        ],
      },
    });
  });

  it('lets the send function only put objects under attachments/', () => {
    const s3 = statementsOfRole(withFiles, 'ApiSend').filter((st) =>
      actionsOf(st).some((a) => a.startsWith('s3:')),
    );
    expect(s3.map(actionsOf)).toEqual([['s3:PutObject']]);
    expect(JSON.stringify(s3[0]?.Resource)).toContain('/attachments/*');
  });

  it('lets the relay only get objects under attachments/ and list that prefix', () => {
    const s3 = statementsOfRole(withFiles, 'RelayRole').filter((st) =>
      actionsOf(st).some((a) => a.startsWith('s3:')),
    );
    expect(s3.map(actionsOf).sort()).toEqual([['s3:GetObject'], ['s3:ListBucket']]);
    expect(JSON.stringify(s3)).toContain('/attachments/*');
    expect(JSON.stringify(s3)).toContain('"s3:prefix":["attachments/*"]');
  });

  it('names the bucket to both functions', () => {
    for (const description of ['^Postroom send', '^Postroom relay']) {
      withFiles.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp(description),
        Environment: {
          Variables: Match.objectLike({
            ATTACHMENTS_BUCKET: { Ref: Match.stringLikeRegexp('^AttachmentsBucket') },
          }),
        },
      });
    }
  });
});

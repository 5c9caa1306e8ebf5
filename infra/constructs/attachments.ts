import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { BlockPublicAccess, Bucket, BucketEncryption, type CfnBucket } from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ATTACHMENT_KEY_PREFIX } from '../../functions/core/mail/attachments';

export interface AttachmentsProps {
  /**
   * How long an attachment is kept. Longer than the dead-letter queue's 14 days, so a redriven job still
   * finds its files.
   * @default 15 days
   */
  readonly expiry?: Duration;
}

/**
 * The claim-check bucket: files too large to travel inside a MailJob wait here for the relay. Private,
 * encrypted, TLS only, and every object expires.
 */
export class Attachments extends Construct {
  readonly bucket: Bucket;

  constructor(scope: Construct, id: string, props: AttachmentsProps = {}) {
    super(scope, id);
    this.bucket = new Bucket(this, 'Bucket', {
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      encryption: BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      versioned: false,
      // Visitors' files: kept no longer than a redrive needs them.
      lifecycleRules: [
        {
          prefix: ATTACHMENT_KEY_PREFIX,
          expiration: props.expiry ?? Duration.days(15),
          abortIncompleteMultipartUploadAfter: Duration.days(1),
        },
      ],
      // Objects expire on their own; emptying the bucket by hand is the price of never deleting mail in flight.
      removalPolicy: RemovalPolicy.RETAIN,
    });
    Validations.of(this.bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'Objects are short-lived claim checks written and read only by the two functions, whose every call ' +
        'is in their logs; server access logs would need a second bucket and would record visitors\u2019 file keys.',
    });
  }

  /** The send function stores uploads, under the attachments prefix only. */
  grantUpload(fn: IFunction): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [this.bucket.arnForObjects(`${ATTACHMENT_KEY_PREFIX}*`)],
      }),
    );
    this.acknowledgePrefixWildcard(fn);
  }

  /**
   * The relay reads them back. ListBucket lets S3 answer a missing object with 404 (a permanent failure)
   * instead of 403, which the relay would retry until the job dead-letters.
   */
  grantFetch(fn: IFunction): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [this.bucket.arnForObjects(`${ATTACHMENT_KEY_PREFIX}*`)],
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:ListBucket'],
        resources: [this.bucket.bucketArn],
        conditions: { StringLike: { 's3:prefix': [`${ATTACHMENT_KEY_PREFIX}*`] } },
      }),
    );
    this.acknowledgePrefixWildcard(fn);
  }

  /** cdk-nag flags any `*` in a resource; object keys are per job, so the prefix is the narrowest scope. */
  private acknowledgePrefixWildcard(fn: IFunction): void {
    const bucketId = Stack.of(this).getLogicalId(this.bucket.node.defaultChild as CfnBucket);
    Validations.of(fn.role ?? fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${ATTACHMENT_KEY_PREFIX}*]`,
      reason:
        'Attachment keys are attachments/<job id>/<n>, made per submission: the attachments/ prefix of this ' +
        'one bucket is the narrowest scope that can name them.',
    });
  }
}

import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AttributeType, BillingMode, type ITable, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type IKey, Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { CfnBucket } from 'aws-cdk-lib/aws-s3';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ARCHIVE_READ_PREFIXES, ARCHIVE_WRITE_PREFIXES } from '../../functions/core/archive/archive-keys';
import { ARCHIVE_KEY_PREFIX, archiveFilePrefix } from '../../functions/core/archive/submission-archive';
import type { PostroomConfig } from '../../functions/core/config/config';
import { ATTACHMENT_KEY_PREFIX } from '../../functions/core/mail/attachments';
import { KEY_PREFIX } from '../../functions/core/table-keys';
import type { Attachments } from './attachments';

export interface SubmissionArchiveProps {
  readonly config: PostroomConfig;
  /** Archived files go to this bucket, under archive/. */
  readonly attachments: Attachments;
  /** The record table: erasure deletes the message status records (`msg#`) and may lift suppression (`supp#`). */
  readonly recordTable: ITable;
  /** A submission marked not spam has its notification queued here. */
  readonly mailQueue: IQueue;
}

/**
 * The submission archive (docs/privacy.md): its table, the erasure index's key, the files' lifecycle rules,
 * and the operator policy. Who may do what:
 * - the send function adds submissions and their files (grantWrite) and reads a form's list for the
 *   submissions API (grantRead); it can neither delete nor change them, nor read a file back;
 * - only an operator with ArchiveOperatorPolicy attached (the CLI's credentials) exports files, marks not
 *   spam and erases.
 */
export class SubmissionArchive extends Construct {
  readonly table: Table;
  /** The HMAC key of the erasure index: generated here, never in configuration or code. */
  readonly hashKey: Secret;
  readonly kmsKey: IKey | undefined;
  readonly operatorPolicy: ManagedPolicy;
  private readonly attachments: Attachments;

  constructor(scope: Construct, id: string, props: SubmissionArchiveProps) {
    super(scope, id);
    const { config } = props;
    this.attachments = props.attachments;
    this.kmsKey = config.archive?.kmsKeyArn
      ? Key.fromKeyArn(this, 'Key', config.archive?.kmsKeyArn)
      : undefined;

    this.table = new Table(this, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(this.kmsKey
        ? { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: this.kmsKey }
        : { encryption: TableEncryption.AWS_MANAGED }),
      // Deleting the stack must not silently destroy what an owner may have to answer an access request with;
      // retention still applies (TTL), and `postroom submissions erase` removes a person's data.
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.hashKey = new Secret(this, 'HashKey', {
      description: 'Postroom: HMAC key of the submission archive\u2019s erasure index',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
      ...(this.kmsKey ? { encryptionKey: this.kmsKey } : {}),
    });
    Validations.of(this.hashKey).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The key indexes stored submissions by address: rotating it would orphan the index, so erasure ' +
        'requests could no longer find what they must delete. It never leaves AWS and is read only by the send ' +
        'function and the operator policy.',
    });

    // One rule per form and folder: files live as long as their submission.
    for (const form of config.forms) {
      if (!form.archive?.storeFiles) continue;
      props.attachments.bucket.addLifecycleRule({
        id: `archive-${form.id}-inbox`,
        prefix: archiveFilePrefix(form.id, 'inbox'),
        expiration: Duration.days(form.archive.retentionDays),
      });
      props.attachments.bucket.addLifecycleRule({
        id: `archive-${form.id}-spam`,
        prefix: archiveFilePrefix(form.id, 'spam'),
        expiration: Duration.days(form.archive.spamRetentionDays),
      });
    }

    const bucket = props.attachments.bucket;
    const leadingKeys = (prefixes: ReadonlyArray<string>) => ({
      'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((prefix) => `${prefix}*`) },
    });
    this.operatorPolicy = new ManagedPolicy(this, 'OperatorPolicy', {
      description:
        'Postroom: read, export, release and erase archived submissions (postroom submissions); attach to operators',
      statements: [
        new PolicyStatement({
          actions: [
            'dynamodb:Query',
            'dynamodb:GetItem',
            'dynamodb:PutItem',
            'dynamodb:UpdateItem',
            'dynamodb:DeleteItem',
          ],
          resources: [this.table.tableArn],
        }),
        new PolicyStatement({
          actions: ['dynamodb:DeleteItem'],
          resources: [props.recordTable.tableArn],
          conditions: leadingKeys([KEY_PREFIX.msg, KEY_PREFIX.supp]),
        }),
        new PolicyStatement({
          actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
          resources: [bucket.arnForObjects(`${ARCHIVE_KEY_PREFIX}*`)],
        }),
        // A released submission's notification carries its files as the form path's does: those too large
        // for the queue message are put under attachments/ (core/mail/attachments.ts), never read back here.
        new PolicyStatement({
          actions: ['s3:PutObject'],
          resources: [bucket.arnForObjects(`${ATTACHMENT_KEY_PREFIX}*`)],
        }),
        new PolicyStatement({
          actions: ['sqs:SendMessage'],
          resources: [props.mailQueue.queueArn],
        }),
        new PolicyStatement({
          actions: ['secretsmanager:GetSecretValue'],
          resources: [this.hashKey.secretArn],
        }),
        ...(this.kmsKey
          ? [
              new PolicyStatement({
                actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
                resources: [this.kmsKey.keyArn],
              }),
            ]
          : []),
      ],
    });
    Validations.of(this.operatorPolicy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(bucket.node.defaultChild as CfnBucket)}.Arn>/${ARCHIVE_KEY_PREFIX}*]`,
      reason:
        'Archived files are archive/<form>/<folder>/<submission>/<n>: the prefix is the narrowest scope.',
    });
    Validations.of(this.operatorPolicy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(bucket.node.defaultChild as CfnBucket)}.Arn>/${ATTACHMENT_KEY_PREFIX}*]`,
      reason:
        'A released notification puts its large files at attachments/<message id>/<n>, as the send function does: the prefix is the narrowest scope.',
    });
    Validations.of(this.operatorPolicy).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::<*>]',
      reason: 'Not used: every statement names its resource.',
    });
  }

  /** The send function: PutItem of submissions, their pointer and index items; PutObject under archive/. */
  grantWrite(fn: IFunction): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:PutItem'],
        resources: [this.table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ARCHIVE_WRITE_PREFIXES.map((p) => `${p}*`) },
        },
      }),
    );
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['s3:PutObject'],
        resources: [this.attachments.bucket.arnForObjects(`${ARCHIVE_KEY_PREFIX}*`)],
      }),
    );
    this.hashKey.grantRead(fn);
    if (this.kmsKey) {
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: [this.kmsKey.keyArn],
        }),
      );
    }
    const bucketId = Stack.of(this).getLogicalId(this.attachments.bucket.node.defaultChild as CfnBucket);
    Validations.of(fn.role ?? fn).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketId}.Arn>/${ARCHIVE_KEY_PREFIX}*]`,
      reason:
        'Archived files are archive/<form>/<folder>/<submission>/<n>: the prefix is the narrowest scope.',
    });
  }

  /** The submissions API (in the send function): GetItem and Query of submissions, never the erasure index. */
  grantRead(fn: IFunction): void {
    fn.addToRolePolicy(
      new PolicyStatement({
        actions: ['dynamodb:GetItem', 'dynamodb:Query'],
        resources: [this.table.tableArn],
        conditions: {
          'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ARCHIVE_READ_PREFIXES.map((p) => `${p}*`) },
        },
      }),
    );
  }

  /** The send function's environment. */
  environment(): Record<string, string> {
    return { ARCHIVE_TABLE: this.table.tableName, ARCHIVE_HASH_KEY_SECRET: this.hashKey.secretArn };
  }
}

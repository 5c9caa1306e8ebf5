import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';

/**
 * The table of idempotency records (one per mail job, claimed before sending), message status and
 * rate-limit counters. Items carry `expiresAt` in epoch seconds, which DynamoDB TTL deletes after.
 */
export class Store extends Construct {
  readonly table: Table;

  constructor(scope: Construct, id: string) {
    super(scope, id);

    this.table = new Table(this, 'Table', {
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      billingMode: BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'expiresAt',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      // The records are what stop a redriven job from being sent twice: never delete them with the stack.
      removalPolicy: RemovalPolicy.RETAIN,
    });
  }
}

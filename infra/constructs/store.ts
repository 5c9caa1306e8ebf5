import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, type ITable, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
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

/**
 * Grants `actions` on the table's items whose keys start with one of `prefixes` only: each function reaches
 * its own kinds of item (functions/core/table-keys.ts) and no other.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html
 */
export function grantItems(
  fn: IFunction,
  table: ITable,
  actions: ReadonlyArray<string>,
  prefixes: ReadonlyArray<string>,
): void {
  fn.addToRolePolicy(
    new PolicyStatement({
      actions: [...actions],
      resources: [table.tableArn],
      conditions: {
        'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': prefixes.map((prefix) => `${prefix}*`) },
      },
    }),
  );
}

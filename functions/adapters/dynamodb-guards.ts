import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { GuardStore } from '../core/ports';

/**
 * Rate-limit counters and duplicate fingerprints, in the same table as the claims. Keys start with
 * `rate#` or `dup#`, so the send function's IAM policy can be limited to those items
 * (dynamodb:LeadingKeys).
 */
export class DynamoGuardStore implements GuardStore {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async increment(key: string, expiresAtSeconds: number, by = 1): Promise<number> {
    const result = await this.dynamodb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: key } },
        UpdateExpression: 'ADD hits :by SET expiresAt = if_not_exists(expiresAt, :ttl)',
        ExpressionAttributeValues: { ':by': { N: String(by) }, ':ttl': { N: String(expiresAtSeconds) } },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(result.Attributes?.hits?.N ?? '1');
  }

  async remember(
    key: string,
    value: string,
    nowSeconds: number,
    expiresAtSeconds: number,
  ): Promise<string | undefined> {
    try {
      await this.dynamodb.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: { pk: { S: key }, firstValue: { S: value }, expiresAt: { N: String(expiresAtSeconds) } },
          ConditionExpression: 'attribute_not_exists(pk) OR expiresAt <= :now',
          ExpressionAttributeValues: { ':now': { N: String(nowSeconds) } },
        }),
      );
      return undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const current = await this.dynamodb.send(
      new GetItemCommand({ TableName: this.tableName, Key: { pk: { S: key } }, ConsistentRead: true }),
    );
    return current.Item?.firstValue?.S;
  }

  async forget(key: string): Promise<void> {
    await this.dynamodb.send(new DeleteItemCommand({ TableName: this.tableName, Key: { pk: { S: key } } }));
  }
}

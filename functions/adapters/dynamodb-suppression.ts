import { type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { type SuppressionEntry, type SuppressionList, suppressionKey } from '../core/suppression';
import { KEY_PREFIX } from '../core/table-keys';

/**
 * The suppression list in the record table: one `supp#<lowercased address>` item per address, with the
 * reason and time of the event that put it there. No TTL: an address stays suppressed until an operator
 * deletes its item. A later event overwrites the item (PutItem), which keeps the latest reason.
 */
export class DynamoSuppressionList implements SuppressionList {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async add(entry: SuppressionEntry): Promise<void> {
    await this.dynamodb.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          pk: { S: `${KEY_PREFIX.supp}${suppressionKey(entry.address)}` },
          reason: { S: entry.reason },
          at: { S: entry.at },
          ...(entry.messageId === undefined ? {} : { messageId: { S: entry.messageId } }),
        },
      }),
    );
  }

  async has(address: string): Promise<boolean> {
    const result = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${KEY_PREFIX.supp}${suppressionKey(address)}` } },
        ProjectionExpression: 'pk',
      }),
    );
    return result.Item !== undefined;
  }
}

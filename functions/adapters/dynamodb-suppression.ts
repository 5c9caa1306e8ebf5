import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import {
  type SuppressionEntry,
  type SuppressionList,
  type SuppressionReason,
  suppressionKey,
} from '../core/events/suppression';
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

  /**
   * Every suppressed address, for an operator (`postroom suppression list`). A Scan of the `supp#` items:
   * the table has no index by prefix, and the list is read rarely and by hand.
   */
  async list(): Promise<SuppressionEntry[]> {
    const entries: SuppressionEntry[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.dynamodb.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'begins_with(pk, :prefix)',
          ExpressionAttributeValues: { ':prefix': { S: KEY_PREFIX.supp } },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) {
        const address = item.pk?.S?.slice(KEY_PREFIX.supp.length);
        if (address === undefined) continue;
        entries.push({
          address,
          reason: (item.reason?.S ?? 'bounce') as SuppressionReason,
          at: item.at?.S ?? '',
          ...(item.messageId?.S === undefined ? {} : { messageId: item.messageId.S }),
        });
      }
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return entries.sort((a, b) => a.at.localeCompare(b.at));
  }

  /** Lifts the suppression of `address`; false when it was not suppressed. */
  async remove(address: string): Promise<boolean> {
    const result = await this.dynamodb.send(
      new DeleteItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${KEY_PREFIX.supp}${suppressionKey(address)}` } },
        ReturnValues: 'ALL_OLD',
      }),
    );
    return result.Attributes !== undefined;
  }
}

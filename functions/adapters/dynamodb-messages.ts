import { type DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import {
  MESSAGE_STATUSES,
  type MessageRecord,
  type MessageStatus,
  type MessageStore,
  type StatusChange,
} from '../core/messages';
import { KEY_PREFIX } from '../core/table-keys';

/**
 * Message status in the record table: `pk = msg#<id>`, `status`, and `history`, a list appended to with
 * one UpdateItem per change (list_append), so concurrent writers never overwrite each other's entries.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.UpdateExpressions.html
 */
export class DynamoMessageStore implements MessageStore {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
    private readonly ttlDays: number,
  ) {}

  async record(id: string, change: StatusChange, owner?: { keyId: string }): Promise<void> {
    const entry: Record<string, { S: string }> = { status: { S: change.status }, at: { S: change.at } };
    if (change.detail !== undefined) entry.detail = { S: change.detail };
    const expiresAt = Math.floor(Date.parse(change.at) / 1000) + this.ttlDays * 86_400;
    await this.dynamodb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${KEY_PREFIX.msg}${id}` } },
        UpdateExpression: `SET #st = :st, history = list_append(if_not_exists(history, :empty), :entry), expiresAt = :ttl${owner ? ', keyId = if_not_exists(keyId, :keyId)' : ''}`,
        ExpressionAttributeNames: { '#st': 'status' },
        ExpressionAttributeValues: {
          ':st': { S: change.status },
          ':empty': { L: [] },
          ':entry': { L: [{ M: entry }] },
          ':ttl': { N: String(expiresAt) },
          ...(owner ? { ':keyId': { S: owner.keyId } } : {}),
        },
      }),
    );
  }

  async get(id: string): Promise<MessageRecord | undefined> {
    const result = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${KEY_PREFIX.msg}${id}` } },
        ConsistentRead: true,
      }),
    );
    const item = result.Item;
    if (!item) return undefined;
    const history = (item.history?.L ?? []).map((value) => {
      const entry = value.M ?? {};
      const detail = entry.detail?.S;
      return {
        status: asStatus(entry.status?.S),
        at: entry.at?.S ?? '',
        ...(detail === undefined ? {} : { detail }),
      };
    });
    const keyId = item.keyId?.S;
    return { id, status: asStatus(item.status?.S), history, ...(keyId === undefined ? {} : { keyId }) };
  }
}

function asStatus(value: string | undefined): MessageStatus {
  return MESSAGE_STATUSES.find((status) => status === value) ?? 'queued';
}

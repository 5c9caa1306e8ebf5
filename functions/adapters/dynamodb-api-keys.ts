import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { type ApiKeyAdmin, type ApiKeyRecord, apiKeyItemKey } from '../core/api/api-keys';
import { KEY_PREFIX } from '../core/table-keys';

/**
 * API keys in the record table: `pk = apikey#<sha256>`, with keyId, name, createdAt and revoked. The send
 * function only calls findByHash (GetItem); create, list and revoke are the CLI's, run with an operator's
 * credentials. list and revoke scan the `apikey#` items: a handful of keys, an operator's command.
 */
export class DynamoApiKeyStore implements ApiKeyAdmin {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    const result = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: apiKeyItemKey(hash) } },
        ConsistentRead: true,
      }),
    );
    return result.Item ? toRecord(result.Item) : undefined;
  }

  async create(record: ApiKeyRecord): Promise<void> {
    await this.dynamodb.send(
      new PutItemCommand({
        TableName: this.tableName,
        Item: {
          pk: { S: apiKeyItemKey(record.hash) },
          keyId: { S: record.keyId },
          ...(record.name === undefined ? {} : { name: { S: record.name } }),
          createdAt: { S: record.createdAt },
          revoked: { BOOL: record.revoked },
          ...(record.scopes === undefined
            ? {}
            : { scopes: { L: record.scopes.map((scope) => ({ S: scope })) } }),
        },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  }

  async list(): Promise<ApiKeyRecord[]> {
    const records: ApiKeyRecord[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.dynamodb.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'begins_with(pk, :prefix)',
          ExpressionAttributeValues: { ':prefix': { S: KEY_PREFIX.apikey } },
          ExclusiveStartKey: start,
        }),
      );
      records.push(...(page.Items ?? []).map(toRecord));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return records.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async revoke(keyId: string, nowIso: string): Promise<boolean> {
    // The local stack's earlier POSTROOM_API_KEY records share one key id: the active one is meant.
    const records = (await this.list()).filter((candidate) => candidate.keyId === keyId);
    const record = records.find((candidate) => !candidate.revoked) ?? records[0];
    if (!record) return false;
    await this.revokeHash(record.hash, nowIso);
    return true;
  }

  /** Revokes the key with this hash (the local stack's POSTROOM_API_KEY records share one key id). */
  async revokeHash(hash: string, nowIso: string): Promise<void> {
    await this.dynamodb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: apiKeyItemKey(hash) } },
        UpdateExpression: 'SET revoked = :yes, revokedAt = :now',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeValues: { ':yes': { BOOL: true }, ':now': { S: nowIso } },
      }),
    );
  }
}

function toRecord(item: Record<string, AttributeValue>): ApiKeyRecord {
  const pk = item.pk?.S ?? '';
  return {
    keyId: item.keyId?.S ?? '',
    name: item.name?.S,
    hash: pk.slice(KEY_PREFIX.apikey.length),
    createdAt: item.createdAt?.S ?? '',
    revoked: item.revoked?.BOOL === true,
    scopes: item.scopes?.L?.flatMap((scope) => (scope.S === undefined ? [] : [scope.S])),
  };
}

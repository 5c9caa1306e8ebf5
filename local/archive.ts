import { randomBytes } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';

/**
 * The erasure index's key on the local stack. On AWS it is a Secrets Manager secret the stack generates
 * (infra/constructs/archive.ts); locally it is made once and kept in the local record table, so it lives as
 * long as the submissions it indexes (in the state folder or in memory) and the CLI finds it where it finds
 * them. A local table is on this machine only: nothing here is a production secret.
 */
const LOCAL_KEY_ITEM = { pk: { S: 'localkey#archive-hash' } };

/**
 * The name the bundled send function reads the key by (its ARCHIVE_HASH_KEY_SECRET locally): the local secrets
 * endpoint answers it with the key above, so the bundles index submissions under the key the CLI erases with.
 */
export const LOCAL_ARCHIVE_HASH_KEY_SECRET = 'postroom-local/archive-hash-key';

export async function localArchiveHashKey(dynamodb: DynamoDBClient, tableName: string): Promise<string> {
  const read = async () =>
    (
      await dynamodb.send(
        new GetItemCommand({ TableName: tableName, Key: LOCAL_KEY_ITEM, ConsistentRead: true }),
      )
    ).Item?.key?.S;
  const existing = await read();
  if (existing !== undefined) return existing;
  try {
    await dynamodb.send(
      new PutItemCommand({
        TableName: tableName,
        Item: { ...LOCAL_KEY_ITEM, key: { S: randomBytes(32).toString('base64url') } },
        ConditionExpression: 'attribute_not_exists(pk)',
      }),
    );
  } catch (error) {
    if (!(error instanceof ConditionalCheckFailedException)) throw error;
  }
  const made = await read();
  if (made === undefined) throw new Error('the local archive key could not be stored');
  return made;
}

import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { ClaimResult, ClaimStore, SettledRecipients } from '../core/ports';

/**
 * Idempotency records in DynamoDB, one item per job: `pk = job#<id>`, `st` in sending | sent | retry | failed,
 * two string sets of recipient keys an attempt settled: `delivered` and `refused` (ADD, so a set only grows),
 * and `uncertain`, the provider of an attempt whose outcome is unknown (core/failover).
 * The claim is one conditional UpdateItem, so two attempts can never both hold it.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
 */
export class DynamoClaimStore implements ClaimStore {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
    private readonly ttlDays: number,
  ) {}

  async claim(jobId: string, nowMs: number, leaseUntilMs: number): Promise<ClaimResult> {
    try {
      const result = await this.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key(jobId),
          UpdateExpression:
            'SET #st = :sending, leaseUntil = :lease, updatedAt = :now, expiresAt = :ttl ADD attempts :one',
          ConditionExpression:
            'attribute_not_exists(pk) OR #st IN (:retry, :failed) OR (#st = :sending AND leaseUntil < :now)',
          ExpressionAttributeNames: { '#st': 'st' },
          ExpressionAttributeValues: {
            ':sending': { S: 'sending' },
            ':retry': { S: 'retry' },
            ':failed': { S: 'failed' },
            ':lease': { N: String(leaseUntilMs) },
            ':now': { N: String(nowMs) },
            ':ttl': { N: String(this.expiresAt(nowMs)) },
            ':one': { N: '1' },
          },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return {
        kind: 'claimed',
        attempt: Number(result.Attributes?.attempts?.N ?? '1'),
        settled: {
          delivered: result.Attributes?.delivered?.SS ?? [],
          refused: result.Attributes?.refused?.SS ?? [],
        },
        ...(result.Attributes?.uncertain?.S ? { uncertainProvider: result.Attributes.uncertain.S } : {}),
        ...(result.Attributes?.reason?.S ? { reason: result.Attributes.reason.S } : {}),
      };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
    const current = await this.dynamodb.send(
      new GetItemCommand({ TableName: this.tableName, Key: key(jobId), ConsistentRead: true }),
    );
    if (current.Item?.st?.S === 'sent') return { kind: 'sent' };
    // Held by a live attempt, or changed between the two calls: look again when the lease ends.
    return { kind: 'busy', leaseUntil: Number(current.Item?.leaseUntil?.N ?? nowMs + 1000) };
  }

  async complete(jobId: string, providerMessageId: string, nowMs: number): Promise<void> {
    await this.update(jobId, nowMs, 'sent', { providerMessageId: { S: providerMessageId } });
  }

  async release(
    jobId: string,
    reason: string,
    nowMs: number,
    settled?: SettledRecipients,
    uncertainProvider?: string,
  ): Promise<void> {
    // `uncertain` is only ever set: once an attempt may have sent the mail, every later one goes there.
    const uncertain: Record<string, { S: string }> =
      uncertainProvider === undefined ? {} : { uncertain: { S: uncertainProvider } };
    await this.update(jobId, nowMs, 'retry', { reason: { S: reason }, ...uncertain }, settled);
  }

  async fail(jobId: string, reason: string, nowMs: number, settled?: SettledRecipients): Promise<void> {
    await this.update(jobId, nowMs, 'failed', { reason: { S: reason } }, settled);
  }

  private async update(
    jobId: string,
    nowMs: number,
    state: string,
    extra: Record<string, { S: string }>,
    settled?: SettledRecipients,
  ): Promise<void> {
    const names = Object.keys(extra);
    // A string set cannot be empty: only the sets this attempt adds to are named.
    const sets = Object.entries(settled ?? {}).filter(
      (entry): entry is [string, ReadonlyArray<string>] => entry[1].length > 0,
    );
    const add = sets.length > 0 ? ` ADD ${sets.map(([n]) => `${n} :${n}`).join(', ')}` : '';
    await this.dynamodb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: key(jobId),
        UpdateExpression: `SET #st = :st, updatedAt = :now, expiresAt = :ttl${names.map((n) => `, ${n} = :${n}`).join('')}${add}`,
        ExpressionAttributeNames: { '#st': 'st' },
        ExpressionAttributeValues: {
          ':st': { S: state },
          ':now': { N: String(nowMs) },
          ':ttl': { N: String(this.expiresAt(nowMs)) },
          ...Object.fromEntries(names.map((n) => [`:${n}`, extra[n] as { S: string }])),
          ...Object.fromEntries(sets.map(([n, values]) => [`:${n}`, { SS: [...new Set(values)] }])),
        },
      }),
    );
  }

  /** DynamoDB TTL is in epoch seconds. */
  private expiresAt(nowMs: number): number {
    return Math.floor(nowMs / 1000) + this.ttlDays * 86_400;
  }
}

function key(jobId: string) {
  return { pk: { S: `job#${jobId}` } };
}

import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { BreakerState, BreakerStore, WindowCounts } from '../core/failover/breaker';
import { KEY_PREFIX } from '../core/table-keys';

/**
 * The providers' circuit breakers in the record table, shared by every relay (core/failover/breaker.ts):
 * - `brk#<provider>`: `st` (closed | open | half-open), `gen` (the generation, one more at each close),
 *   `openedAt`, `openUntil`, `probeUntil`. Every change is a conditional UpdateItem on the state it leaves,
 *   so two relays never both open it, and exactly one takes the probe.
 * - `brk#<provider>#<gen>#<window start>`: `requests` and `failures`, atomic ADDs (no conflicts), expiring
 *   by TTL shortly after the window ends.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
 */
export class DynamoBreakerStore implements BreakerStore {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async read(provider: string): Promise<BreakerState> {
    const result = await this.dynamodb.send(
      new GetItemCommand({ TableName: this.tableName, Key: stateKey(provider), ConsistentRead: true }),
    );
    return stateOf(result.Item);
  }

  async count(
    provider: string,
    window: { generation: number; start: number },
    failed: boolean,
    expiresAtMs: number,
  ): Promise<WindowCounts> {
    const result = await this.dynamodb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${KEY_PREFIX.brk}${provider}#${window.generation}#${window.start}` } },
        UpdateExpression: 'ADD requests :one, failures :failed SET expiresAt = :ttl',
        ExpressionAttributeValues: {
          ':one': { N: '1' },
          ':failed': { N: failed ? '1' : '0' },
          ':ttl': { N: String(Math.ceil(expiresAtMs / 1000)) },
        },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return {
      requests: Number(result.Attributes?.requests?.N ?? '0'),
      failures: Number(result.Attributes?.failures?.N ?? '0'),
    };
  }

  async open(
    provider: string,
    from: { state: 'closed' | 'half-open'; generation: number },
    openedAt: number,
    openUntil: number,
  ): Promise<boolean> {
    // A provider never seen has no item: it is closed, generation 0.
    const condition =
      from.state === 'closed'
        ? '(attribute_not_exists(pk) AND :gen = :zero) OR (#st = :from AND gen = :gen)'
        : '#st = :from AND gen = :gen';
    return this.change(provider, {
      UpdateExpression:
        'SET #st = :open, gen = :gen, openedAt = :openedAt, openUntil = :openUntil REMOVE probeUntil',
      ConditionExpression: condition,
      ExpressionAttributeValues: {
        ':open': { S: 'open' },
        ':from': { S: from.state },
        ':gen': { N: String(from.generation) },
        ':openedAt': { N: String(openedAt) },
        ':openUntil': { N: String(openUntil) },
        ...(from.state === 'closed' ? { ':zero': { N: '0' } } : {}),
      },
    });
  }

  async takeProbe(provider: string, nowMs: number, probeUntil: number): Promise<boolean> {
    return this.change(provider, {
      UpdateExpression: 'SET #st = :half, probeUntil = :probeUntil',
      ConditionExpression: '(#st = :open AND openUntil <= :now) OR (#st = :half AND probeUntil <= :now)',
      ExpressionAttributeValues: {
        ':half': { S: 'half-open' },
        ':open': { S: 'open' },
        ':now': { N: String(nowMs) },
        ':probeUntil': { N: String(probeUntil) },
      },
    });
  }

  async close(provider: string, generation: number): Promise<boolean> {
    return this.change(provider, {
      UpdateExpression: 'SET #st = :closed, gen = :next REMOVE probeUntil, openUntil, openedAt',
      ConditionExpression: '#st = :half AND gen = :gen',
      ExpressionAttributeValues: {
        ':closed': { S: 'closed' },
        ':half': { S: 'half-open' },
        ':gen': { N: String(generation) },
        ':next': { N: String(generation + 1) },
      },
    });
  }

  /** One conditional state change; false when another relay changed the state first. */
  private async change(
    provider: string,
    update: {
      UpdateExpression: string;
      ConditionExpression: string;
      ExpressionAttributeValues: Record<string, AttributeValue>;
    },
  ): Promise<boolean> {
    try {
      await this.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: stateKey(provider),
          ExpressionAttributeNames: { '#st': 'st' },
          ...update,
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

function stateKey(provider: string) {
  return { pk: { S: `${KEY_PREFIX.brk}${provider}` } };
}

function stateOf(item: Record<string, AttributeValue> | undefined): BreakerState {
  const generation = Number(item?.gen?.N ?? '0');
  const number = (value: AttributeValue | undefined) => Number(value?.N ?? '0');
  switch (item?.st?.S) {
    case 'open':
      return {
        state: 'open',
        generation,
        openedAt: number(item.openedAt),
        openUntil: number(item.openUntil),
      };
    case 'half-open':
      return { state: 'half-open', generation, probeUntil: number(item.probeUntil) };
    default:
      return { state: 'closed', generation };
  }
}

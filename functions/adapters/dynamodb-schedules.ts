import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { MESSAGE_STATUSES, type MessageStatus, type StatusChange } from '../core/messages';
import type {
  ScheduledMessage,
  ScheduleStore,
  StartResult,
  Transition,
} from '../core/scheduling/schedule-store';
import { KEY_PREFIX } from '../core/table-keys';

const APPEND = 'history = list_append(if_not_exists(history, :empty), :entry), expiresAt = :ttl';
const IS_SCHEDULED = '#st = :scheduled';

/**
 * Scheduled messages on their `msg#<id>` record (the item DynamoMessageStore writes): `status`,
 * `scheduledAt`, `job`, and the same `history` list. Every transition is one conditional UpdateItem.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.ConditionExpressions.html
 */
export class DynamoScheduleStore implements ScheduleStore {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
    private readonly ttlDays: number,
  ) {}

  async recordScheduled(
    id: string,
    change: StatusChange,
    entry: { keyId: string; scheduledAt: string; job: string },
  ): Promise<void> {
    await this.update(
      id,
      change,
      `SET #st = :st, scheduledAt = :at, job = :job, keyId = if_not_exists(keyId, :keyId), ${APPEND}`,
      {
        ':at': { S: entry.scheduledAt },
        ':job': { S: entry.job },
        ':keyId': { S: entry.keyId },
      },
      entry.scheduledAt,
    );
  }

  async cancel(id: string, change: StatusChange): Promise<Transition> {
    return this.transition(id, () =>
      this.update(id, change, `SET #st = :st, ${APPEND} REMOVE job`, {}, undefined, IS_SCHEDULED),
    );
  }

  async move(id: string, from: string, to: string, job: string, change: StatusChange): Promise<Transition> {
    return this.transition(id, () =>
      this.update(
        id,
        change,
        `SET scheduledAt = :to, job = :job, ${APPEND}`,
        { ':from': { S: from }, ':to': { S: to }, ':job': { S: job } },
        to,
        `${IS_SCHEDULED} AND scheduledAt = :from`,
      ),
    );
  }

  async start(id: string, scheduledAt: string, change: StatusChange): Promise<StartResult> {
    try {
      await this.update(
        id,
        change,
        `SET #st = :st, ${APPEND} REMOVE job`,
        { ':at': { S: scheduledAt } },
        undefined,
        `${IS_SCHEDULED} AND scheduledAt = :at`,
      );
      return { started: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = await this.item(id, 'pk, #st, scheduledAt');
      if (item === undefined) return { started: false, record: undefined };
      return {
        started: false,
        record: { status: asStatus(item.status?.S), scheduledAt: item.scheduledAt?.S },
      };
    }
  }

  async job(id: string): Promise<string | undefined> {
    return (await this.item(id, 'job'))?.job?.S;
  }

  async listScheduled(keyId?: string): Promise<ReadonlyArray<ScheduledMessage>> {
    const found: ScheduledMessage[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      // An operator's listing: a Scan, filtered. The send path never scans.
      const page = await this.dynamodb.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: `begins_with(pk, :msg) AND ${IS_SCHEDULED}${keyId ? ' AND keyId = :keyId' : ''}`,
          ProjectionExpression: 'pk, scheduledAt, keyId',
          ExpressionAttributeNames: { '#st': 'status' },
          ExpressionAttributeValues: {
            ':msg': { S: KEY_PREFIX.msg },
            ':scheduled': { S: 'scheduled' },
            ...(keyId ? { ':keyId': { S: keyId } } : {}),
          },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        found.push({
          id: (item.pk?.S ?? '').slice(KEY_PREFIX.msg.length),
          scheduledAt: item.scheduledAt?.S ?? '',
          keyId: item.keyId?.S,
        });
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return found.sort((a, b) => a.scheduledAt.localeCompare(b.scheduledAt));
  }

  private async transition(id: string, write: () => Promise<void>): Promise<Transition> {
    try {
      await write();
      return { ok: true };
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      const item = await this.item(id, '#st, scheduledAt');
      const scheduledAt = item?.scheduledAt?.S;
      return {
        ok: false,
        status: item?.status?.S === undefined ? undefined : asStatus(item.status.S),
        ...(scheduledAt === undefined ? {} : { scheduledAt }),
      };
    }
  }

  private async item(id: string, projection: string): Promise<Record<string, AttributeValue> | undefined> {
    const result = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${KEY_PREFIX.msg}${id}` } },
        ConsistentRead: true,
        ProjectionExpression: projection,
        ...(projection.includes('#st') ? { ExpressionAttributeNames: { '#st': 'status' } } : {}),
      }),
    );
    return result.Item;
  }

  private async update(
    id: string,
    change: StatusChange,
    expression: string,
    values: Record<string, AttributeValue>,
    keepUntil: string | undefined,
    condition?: string,
  ): Promise<void> {
    const entry: Record<string, AttributeValue> = { status: { S: change.status }, at: { S: change.at } };
    if (change.detail !== undefined) entry.detail = { S: change.detail };
    // A scheduled message's record must outlive its schedule: the TTL counts from its time.
    const from = Math.max(Date.parse(change.at), keepUntil === undefined ? 0 : Date.parse(keepUntil));
    const expiresAt = Math.floor(from / 1000) + this.ttlDays * 86_400;
    const usesStatus = expression.includes('#st') || condition?.includes('#st');
    await this.dynamodb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${KEY_PREFIX.msg}${id}` } },
        UpdateExpression: expression,
        ...(condition ? { ConditionExpression: condition } : {}),
        ...(usesStatus ? { ExpressionAttributeNames: { '#st': 'status' } } : {}),
        ExpressionAttributeValues: {
          ...(expression.includes(':st') ? { ':st': { S: change.status } } : {}),
          ...(condition?.includes(':scheduled') ? { ':scheduled': { S: 'scheduled' } } : {}),
          ':empty': { L: [] },
          ':entry': { L: [{ M: entry }] },
          ':ttl': { N: String(expiresAt) },
          ...values,
        },
      }),
    );
  }
}

function asStatus(value: string | undefined): MessageStatus {
  return MESSAGE_STATUSES.find((status) => status === value) ?? 'queued';
}

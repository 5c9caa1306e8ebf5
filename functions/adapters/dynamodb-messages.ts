import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import {
  inTimeOrder,
  isOutcome,
  MESSAGE_STATUSES,
  type MessageRecord,
  type MessageStatus,
  type MessageStore,
  OUTCOME_STATUSES,
  type OutcomeStatus,
  type StatusChange,
} from '../core/messages';
import { KEY_PREFIX } from '../core/table-keys';

const OUTCOME_VALUES = Object.fromEntries(
  OUTCOME_STATUSES.map((status, index) => [`:o${index}`, { S: status }]),
) as Record<string, AttributeValue>;
/** The current status is not an outcome: only then may a relay status replace it. */
const NOT_AN_OUTCOME = `attribute_not_exists(#st) OR NOT (#st IN (${Object.keys(OUTCOME_VALUES).join(', ')}))`;

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
    const { ownerSet, ownerValue } = ownerClause(owner);
    if (isOutcome(change.status)) {
      await this.update(id, change, `SET #st = :st, ${APPEND}${ownerSet}`, ownerValue);
      return;
    }
    try {
      await this.update(id, change, `SET #st = :st, ${APPEND}${ownerSet}`, ownerValue, {
        condition: NOT_AN_OUTCOME,
        values: OUTCOME_VALUES,
      });
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      // The provider's outcome came first (events are asynchronous): keep it, append this change.
      await this.update(id, change, `SET ${APPEND}${ownerSet}`, ownerValue);
    }
  }

  async recordInitial(id: string, change: StatusChange, owner?: { keyId: string }): Promise<void> {
    const { ownerSet, ownerValue } = ownerClause(owner);
    // if_not_exists keeps a status the relay wrote first; the entry is appended either way.
    await this.update(id, change, `SET #st = if_not_exists(#st, :st), ${APPEND}${ownerSet}`, ownerValue);
  }

  async recordOutcome(id: string, change: StatusChange & { status: OutcomeStatus }): Promise<boolean> {
    try {
      await this.update(id, change, `SET #st = :st, ${APPEND}`, {}, { condition: 'attribute_exists(pk)' });
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  private async update(
    id: string,
    change: StatusChange,
    expression: string,
    extraValues: Record<string, AttributeValue>,
    condition?: { condition: string; values?: Record<string, AttributeValue> },
  ): Promise<void> {
    const entry: Record<string, AttributeValue> = { status: { S: change.status }, at: { S: change.at } };
    if (change.detail !== undefined) entry.detail = { S: change.detail };
    if (change.provider !== undefined) entry.provider = { S: change.provider };
    if (change.refused !== undefined && change.refused.length > 0)
      entry.refused = {
        L: change.refused.map((r) => ({ M: { recipient: { S: r.recipient }, reply: { S: r.reply } } })),
      };
    const expiresAt = Math.floor(Date.parse(change.at) / 1000) + this.ttlDays * 86_400;
    const usesStatus = expression.includes('#st') || condition?.condition.includes('#st');
    await this.dynamodb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${KEY_PREFIX.msg}${id}` } },
        UpdateExpression: expression,
        ...(condition ? { ConditionExpression: condition.condition } : {}),
        ...(usesStatus ? { ExpressionAttributeNames: { '#st': 'status' } } : {}),
        ExpressionAttributeValues: {
          ...(expression.includes(':st') ? { ':st': { S: change.status } } : {}),
          ':empty': { L: [] },
          ':entry': { L: [{ M: entry }] },
          ':ttl': { N: String(expiresAt) },
          ...extraValues,
          ...(condition?.values ?? {}),
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
    // Writers append in the order they arrive, not the order things happened (recordInitial).
    const stored = (item.history?.L ?? []).map((value) => {
      const entry = value.M ?? {};
      const detail = entry.detail?.S;
      const provider = entry.provider?.S;
      const refused = entry.refused?.L?.map((r) => ({
        recipient: r.M?.recipient?.S ?? '',
        reply: r.M?.reply?.S ?? '',
      }));
      return {
        status: asStatus(entry.status?.S),
        at: entry.at?.S ?? '',
        ...(detail === undefined ? {} : { detail }),
        ...(provider === undefined ? {} : { provider }),
        ...(refused === undefined ? {} : { refused }),
      };
    });
    const history = inTimeOrder(stored);
    const keyId = item.keyId?.S;
    const scheduledAt = item.scheduledAt?.S;
    return {
      id,
      status: asStatus(item.status?.S),
      history,
      ...(keyId === undefined ? {} : { keyId }),
      ...(scheduledAt === undefined ? {} : { scheduledAt }),
    };
  }
}

/** The first writer that knows the owning key sets it; nobody changes it afterwards. */
function ownerClause(owner: { keyId: string } | undefined): {
  ownerSet: string;
  ownerValue: Record<string, AttributeValue>;
} {
  if (owner === undefined) return { ownerSet: '', ownerValue: {} };
  return { ownerSet: ', keyId = if_not_exists(keyId, :keyId)', ownerValue: { ':keyId': { S: owner.keyId } } };
}

const APPEND = 'history = list_append(if_not_exists(history, :empty), :entry), expiresAt = :ttl';

function asStatus(value: string | undefined): MessageStatus {
  return MESSAGE_STATUSES.find((status) => status === value) ?? 'queued';
}

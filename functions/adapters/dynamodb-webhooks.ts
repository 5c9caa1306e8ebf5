import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { KEY_PREFIX } from '../core/table-keys';
import type { EndpointState, WebhookAttempt, WebhookStore } from '../core/webhooks/dispatch';
import type { WebhookMessage } from '../core/webhooks/webhook-event';

/** A webhook event's record as `postroom webhooks attempts|replay` read it. */
export interface WebhookEventRecord {
  readonly message: WebhookMessage;
  readonly attempts: ReadonlyArray<WebhookAttempt>;
}

/**
 * Webhook attempts and endpoint state in the record table. One item per event and endpoint (`whevt#<event
 * id>#<endpoint id>`) keeps the message, for replay, and every attempt, appended; it expires with the webhook
 * queue's retention (14 days), as the issue asks. One item per endpoint (`whep#<id>`) keeps its state.
 */
export class DynamoWebhookStore implements WebhookStore {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
    private readonly retentionSeconds = 14 * 86_400,
  ) {}

  async recordAttempt(message: WebhookMessage, attempt: WebhookAttempt): Promise<void> {
    const expiresAt = Math.floor(Date.parse(attempt.at) / 1000) + this.retentionSeconds;
    await this.dynamodb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: eventKey(message.id, message.endpointId) } },
        // endpointId and eventAt (the event's time, epoch seconds) let `replay --since` find an endpoint's events.
        UpdateExpression:
          'SET message = :message, endpointId = :endpoint, eventAt = :eventAt, ' +
          'attempts = list_append(if_not_exists(attempts, :none), :attempt), expiresAt = :ttl',
        ExpressionAttributeValues: {
          ':message': { S: JSON.stringify(message) },
          ':endpoint': { S: message.endpointId },
          ':eventAt': { N: String(Math.floor((Date.parse(message.timestamp) || 0) / 1000)) },
          ':attempt': { L: [{ S: JSON.stringify(attempt) }] },
          ':none': { L: [] },
          ':ttl': { N: String(expiresAt) },
        },
      }),
    );
  }

  async event(eventId: string, endpointId: string): Promise<WebhookEventRecord | undefined> {
    const result = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: eventKey(eventId, endpointId) } },
        ConsistentRead: true,
      }),
    );
    const message = result.Item?.message?.S;
    if (message === undefined) return undefined;
    return {
      message: JSON.parse(message) as WebhookMessage,
      attempts: (result.Item?.attempts?.L ?? []).map(
        (entry) => JSON.parse(entry.S ?? '{}') as WebhookAttempt,
      ),
    };
  }

  /**
   * The messages of an endpoint's events that happened at or after `sinceMs` (`postroom webhooks replay
   * --since`). An operator's command: a Scan, filtered, as `postroom scheduled list` does; no function scans.
   */
  async eventsSince(endpointId: string, sinceMs: number): Promise<WebhookMessage[]> {
    const found: WebhookMessage[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.dynamodb.send(
        new ScanCommand({
          TableName: this.tableName,
          FilterExpression: 'begins_with(pk, :prefix) AND endpointId = :endpoint AND eventAt >= :since',
          ProjectionExpression: 'message',
          ExpressionAttributeValues: {
            ':prefix': { S: KEY_PREFIX.whevt },
            ':endpoint': { S: endpointId },
            // Whole seconds, rounded down: the core keeps only what happened at or after sinceMs.
            ':since': { N: String(Math.floor(sinceMs / 1000)) },
          },
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        const message = item.message?.S;
        if (message !== undefined) found.push(JSON.parse(message) as WebhookMessage);
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return found;
  }

  async endpointState(endpointId: string): Promise<EndpointState> {
    const result = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${KEY_PREFIX.whep}${endpointId}` } },
        ConsistentRead: true,
      }),
    );
    const item = result.Item ?? {};
    return {
      disabled: item.disabled?.BOOL === true,
      ...(item.disabledReason?.S ? { disabledReason: item.disabledReason.S } : {}),
      ...(item.disabledAt?.S ? { disabledAt: item.disabledAt.S } : {}),
      ...(item.lastSuccessAt?.S ? { lastSuccessAt: item.lastSuccessAt.S } : {}),
      ...(item.lastFailureAt?.S ? { lastFailureAt: item.lastFailureAt.S } : {}),
    };
  }

  async recordResult(endpointId: string, result: 'success' | 'failure', at: string): Promise<void> {
    await this.dynamodb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${KEY_PREFIX.whep}${endpointId}` } },
        UpdateExpression: `SET ${result === 'success' ? 'lastSuccessAt' : 'lastFailureAt'} = :at`,
        ExpressionAttributeValues: { ':at': { S: at } },
      }),
    );
  }

  async disable(endpointId: string, reason: string, at: string): Promise<void> {
    await this.setDisabled(endpointId, { disabled: true, reason, at });
  }

  /** `postroom webhooks enable`. */
  async enable(endpointId: string, at: string): Promise<void> {
    await this.setDisabled(endpointId, { disabled: false, reason: `enabled by the operator at ${at}`, at });
  }

  private async setDisabled(
    endpointId: string,
    change: { disabled: boolean; reason: string; at: string },
  ): Promise<void> {
    await this.dynamodb.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${KEY_PREFIX.whep}${endpointId}` } },
        UpdateExpression: 'SET disabled = :disabled, disabledReason = :reason, disabledAt = :at',
        ExpressionAttributeValues: {
          ':disabled': { BOOL: change.disabled },
          ':reason': { S: change.reason },
          ':at': { S: change.at },
        },
      }),
    );
  }
}

function eventKey(eventId: string, endpointId: string): string {
  return `${KEY_PREFIX.whevt}${eventId}#${endpointId}`;
}

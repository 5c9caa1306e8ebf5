import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  PutItemCommand,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { errorName } from '../functions/core/errors';
import type { Clock, Log } from '../functions/core/ports';
import { type Scheduler, scheduleName } from '../functions/core/scheduling/schedule';

/**
 * Local schedules live in the local table under this prefix, so they are kept across restarts with the rest
 * of the local state (local/state.ts). It is the local stack's own: no function on AWS reads it.
 */
export const LOCAL_SCHEDULE_PREFIX = 'sched#';

export interface LocalSchedulerOptions {
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly clock: Clock;
  readonly log: Log;
  /** How often due schedules are looked for: the local precision. @default 200 */
  readonly pollMs?: number;
}

/**
 * EventBridge Scheduler's one-time schedules, locally: each schedule is an item in the local table, and a copy
 * in memory (read back from the table at start, so the poller never scans the table while it runs); the poller
 * puts every due one on the mail queue, then deletes it (as ActionAfterCompletion DELETE). At least once, as
 * on AWS: a stop between the two fires it again at the next start, and the relay sends it once.
 */
export class LocalScheduler implements Scheduler {
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly schedules = new Map<string, { id: string; atMs: number; body: string }>();

  constructor(private readonly options: LocalSchedulerOptions) {}

  async createSchedule(id: string, atMs: number, body: string): Promise<void> {
    try {
      await this.options.dynamodb.send(
        new PutItemCommand({
          TableName: this.options.tableName,
          Item: {
            pk: { S: `${LOCAL_SCHEDULE_PREFIX}${scheduleName(id, atMs)}` },
            messageId: { S: id },
            at: { N: String(atMs) },
            body: { S: body },
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
      this.schedules.set(`${LOCAL_SCHEDULE_PREFIX}${scheduleName(id, atMs)}`, { id, atMs, body });
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async deleteSchedule(id: string, atMs: number): Promise<void> {
    const pk = `${LOCAL_SCHEDULE_PREFIX}${scheduleName(id, atMs)}`;
    this.schedules.delete(pk);
    await this.options.dynamodb.send(
      new DeleteItemCommand({ TableName: this.options.tableName, Key: { pk: { S: pk } } }),
    );
  }

  /** The schedules not fired yet: message id and time. */
  pending(): Array<{ id: string; atMs: number }> {
    return [...this.schedules.values()].map(({ id, atMs }) => ({ id, atMs }));
  }

  /** Reads the schedules kept from an earlier run, then fires each at its time. */
  async start(): Promise<void> {
    for (const schedule of await this.stored()) this.schedules.set(schedule.pk, schedule);
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  /** Fires every schedule due now; returns how many. */
  async fireDue(): Promise<number> {
    const now = this.options.clock.now();
    const due = [...this.schedules.entries()].filter(([, schedule]) => schedule.atMs <= now);
    for (const [pk, schedule] of due) {
      await this.options.sqs.send(
        new SendMessageCommand({ QueueUrl: this.options.queueUrl, MessageBody: schedule.body }),
      );
      await this.options.dynamodb.send(
        new DeleteItemCommand({ TableName: this.options.tableName, Key: { pk: { S: pk } } }),
      );
      this.schedules.delete(pk);
    }
    return due.length;
  }

  private async run(): Promise<void> {
    const pollMs = this.options.pollMs ?? 200;
    while (!this.abort.signal.aborted) {
      try {
        await this.fireDue();
      } catch (error) {
        // The emulators stop before this loop does at shutdown; otherwise the next poll tries again.
        if (!this.abort.signal.aborted)
          this.options.log.warn('local scheduler poll failed', { error: errorName(error) });
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          this.abort.signal.removeEventListener('abort', wake);
          resolve();
        }, pollMs);
        this.abort.signal.addEventListener('abort', wake, { once: true });
      });
    }
  }

  private async stored() {
    const found: Array<{ pk: string; id: string; atMs: number; body: string }> = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.options.dynamodb.send(
        new ScanCommand({
          TableName: this.options.tableName,
          FilterExpression: 'begins_with(pk, :prefix)',
          ExpressionAttributeValues: { ':prefix': { S: LOCAL_SCHEDULE_PREFIX } },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      for (const item of page.Items ?? []) {
        found.push({
          pk: item.pk?.S ?? '',
          id: item.messageId?.S ?? '',
          atMs: Number(item.at?.N ?? 0),
          body: item.body?.S ?? '',
        });
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return found.sort((a, b) => a.atMs - b.atMs);
  }
}

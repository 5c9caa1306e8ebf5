import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type Message,
  type MessageAttributeValue,
  PurgeQueueCommand,
  type QueueAttributeName,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { ATTRIBUTE } from '../functions/adapters/queue-attributes';
import { maskAddress } from '../functions/core/mail/address';
import { LOCAL_HOST, LOCAL_NAMES } from '../local/emulators';

/**
 * `postroom status` and `postroom dlq list|redrive|purge`: the mail queue and its dead-letter queue, read and
 * moved with plain SQS calls (fauxqs has no StartMessageMoveTask, so redrive moves each letter itself).
 */

export interface QueueUrls {
  readonly queueUrl: string;
  readonly deadLetterQueueUrl: string;
}

/** The local stack's SQS endpoint: `--sqs-endpoint`, else 127.0.0.1:$POSTROOM_SQS_PORT (default 9324). */
export function sqsEndpoint(value: string | undefined, env: NodeJS.ProcessEnv): string {
  return value ?? `http://${LOCAL_HOST}:${env.POSTROOM_SQS_PORT || '9324'}`;
}

export async function localQueueUrls(sqs: SQSClient): Promise<QueueUrls> {
  const url = async (name: string) => {
    const result = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
    if (!result.QueueUrl) throw new Error(`no URL for queue ${name}`);
    return result.QueueUrl;
  };
  return {
    queueUrl: await url(LOCAL_NAMES.queue),
    deadLetterQueueUrl: await url(LOCAL_NAMES.deadLetterQueue),
  };
}

/** What an operator may see of a dead letter: never its body, never a full address. */
export interface DeadLetter {
  readonly messageId: string;
  readonly jobId: string | undefined;
  /** `form:<id>`, `autoresponse:<id>`, `api:<key id>`, or undefined when the body is not a readable job. */
  readonly source: string | undefined;
  readonly recipients: string[];
  readonly reason: string | undefined;
  /** When it was dead-lettered (the relay's `postroom-failed-at`, else the message's SentTimestamp). */
  readonly failedAt: string | undefined;
}

/** Reads the operator's view of one message. Lenient: a letter is often there because its body is bad. */
export function describeDeadLetter(message: Message): DeadLetter {
  const attributes = message.MessageAttributes ?? {};
  const text = (name: string) => stringValue(attributes[name]);
  let job: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(message.Body ?? '');
    if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) {
      job = parsed as Record<string, unknown>;
    }
  } catch {
    // Not JSON: nothing more to show than its attributes.
  }
  const source = job.source as { kind?: unknown; formId?: unknown; keyId?: unknown } | undefined;
  const sourceId = source && (typeof source.formId === 'string' ? source.formId : source.keyId);
  const recipients = ['to', 'cc', 'bcc'].flatMap((field) => {
    const list = job[field];
    return Array.isArray(list) ? list.filter((a): a is string => typeof a === 'string').map(maskAddress) : [];
  });
  const sent = Number(message.Attributes?.SentTimestamp);
  return {
    messageId: message.MessageId ?? '',
    jobId: text(ATTRIBUTE.jobId) ?? (typeof job.id === 'string' ? job.id : undefined),
    source:
      source && typeof source.kind === 'string' && typeof sourceId === 'string'
        ? `${source.kind}:${sourceId}`
        : text(ATTRIBUTE.formId) && `form:${text(ATTRIBUTE.formId)}`,
    recipients,
    reason: text(ATTRIBUTE.reason) ?? schedulerReason(text),
    failedAt: text(ATTRIBUTE.failedAt) ?? (Number.isFinite(sent) ? new Date(sent).toISOString() : undefined),
  };
}

/**
 * A job EventBridge Scheduler could not put on the mail queue reaches the same dead-letter queue
 * (infra/constructs/scheduling.ts), its body the job, the failure in attributes of the scheduler's own.
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html
 */
function schedulerReason(text: (name: string) => string | undefined): string | undefined {
  const code = text('ERROR_CODE');
  if (code === undefined) return undefined;
  const detail = text('ERROR_MESSAGE');
  return `scheduler could not put the job on the mail queue: ${code}${detail ? ` (${detail})` : ''}`;
}

function stringValue(value: MessageAttributeValue | undefined): string | undefined {
  return value?.StringValue === undefined || value.StringValue === '' ? undefined : value.StringValue;
}

export interface QueueCounts {
  readonly visible: number;
  readonly inFlight: number;
  readonly delayed: number;
}

export async function queueCounts(sqs: SQSClient, queueUrl: string): Promise<QueueCounts> {
  const result = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const n = (name: QueueAttributeName) => Number(result.Attributes?.[name] ?? 0);
  return {
    visible: n('ApproximateNumberOfMessages'),
    inFlight: n('ApproximateNumberOfMessagesNotVisible'),
    delayed: n('ApproximateNumberOfMessagesDelayed'),
  };
}

/** Messages on a queue, waiting or being handled (delayed ones aside). */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const counts = await queueCounts(sqs, queueUrl);
  return counts.visible + counts.inFlight;
}

/**
 * Reads up to `limit` dead letters without taking them: each receive uses VisibilityTimeout 0, so the letters
 * stay visible; repeats are recognised by message id. Only for the DLQ: a receive on the mail queue would
 * count toward its maxReceiveCount.
 */
export async function peekDeadLetters(sqs: SQSClient, dlqUrl: string, limit = 100): Promise<DeadLetter[]> {
  const seen = new Map<string, DeadLetter>();
  for (let round = 0; seen.size < limit && round < Math.ceil(limit / 10) + 2; round++) {
    const messages = await receive(sqs, dlqUrl, 0);
    const fresh = messages.filter((m) => m.MessageId && !seen.has(m.MessageId));
    if (fresh.length === 0) break;
    for (const message of fresh) {
      if (seen.size < limit) seen.set(message.MessageId ?? '', describeDeadLetter(message));
    }
  }
  return [...seen.values()];
}

async function receive(sqs: SQSClient, queueUrl: string, visibilityTimeout: number): Promise<Message[]> {
  const result = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 0,
      VisibilityTimeout: visibilityTimeout,
      MessageAttributeNames: ['All'],
      MessageSystemAttributeNames: ['SentTimestamp'],
    }),
  );
  return result.Messages ?? [];
}

export interface FailureGroup {
  readonly reason: string;
  readonly count: number;
}

/** Dead letters by reason, most frequent first. */
export function groupByReason(letters: ReadonlyArray<DeadLetter>): FailureGroup[] {
  const counts = new Map<string, number>();
  for (const letter of letters) {
    const reason = letter.reason ?? '(no reason recorded)';
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return [...counts]
    .map(([reason, count]) => ({ reason, count }))
    .sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
}

export interface RedriveSelector {
  readonly ids: ReadonlyArray<string>;
  readonly reason: string | undefined;
  readonly all: boolean;
}

/** A letter matches when any given selector matches it (`--all` matches every letter). */
export function matches(letter: DeadLetter, selector: RedriveSelector): boolean {
  if (selector.all) return true;
  if (letter.jobId !== undefined && selector.ids.includes(letter.jobId)) return true;
  return (
    selector.reason !== undefined &&
    selector.reason !== '' &&
    (letter.reason ?? '').toLowerCase().includes(selector.reason.toLowerCase())
  );
}

/** The failure attributes stay behind: a redriven job is a fresh attempt. */
const FAILURE_ATTRIBUTES = new Set<string>([ATTRIBUTE.reason, ATTRIBUTE.failedAt]);

/**
 * Moves the matching dead letters back to the mail queue: send first, delete after, so a crash in between
 * leaves a copy on both queues rather than none; the relay's claim record drops a job already sent, so a
 * letter moved twice is still sent once. Letters that do not match are taken for the run (so each is looked
 * at once) and handed back at the end.
 */
export async function redrive(
  sqs: SQSClient,
  urls: QueueUrls,
  selector: RedriveSelector,
  onProgress: (moved: number) => void = () => {},
): Promise<{ moved: number; jobIds: string[] }> {
  const kept: string[] = [];
  const seen = new Set<string>();
  const jobIds: string[] = [];
  try {
    for (;;) {
      const messages = await receive(sqs, urls.deadLetterQueueUrl, 120);
      const fresh = messages.filter((m) => !seen.has(m.MessageId ?? ''));
      if (fresh.length === 0) {
        kept.push(...messages.map((m) => m.ReceiptHandle ?? ''));
        break;
      }
      for (const message of fresh) {
        seen.add(message.MessageId ?? '');
        const letter = describeDeadLetter(message);
        if (!matches(letter, selector)) {
          kept.push(message.ReceiptHandle ?? '');
          continue;
        }
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: urls.queueUrl,
            MessageBody: message.Body ?? '',
            MessageAttributes: Object.fromEntries(
              Object.entries(message.MessageAttributes ?? {}).filter(
                ([name]) => !FAILURE_ATTRIBUTES.has(name),
              ),
            ),
          }),
        );
        await sqs.send(
          new DeleteMessageCommand({
            QueueUrl: urls.deadLetterQueueUrl,
            ReceiptHandle: message.ReceiptHandle,
          }),
        );
        jobIds.push(letter.jobId ?? letter.messageId);
        if (jobIds.length % 10 === 0) onProgress(jobIds.length);
      }
    }
  } finally {
    for (const handle of kept) {
      await sqs
        .send(
          new ChangeMessageVisibilityCommand({
            QueueUrl: urls.deadLetterQueueUrl,
            ReceiptHandle: handle,
            VisibilityTimeout: 0,
          }),
        )
        // A handle whose timeout already ran out is simply visible again.
        .catch(() => {});
    }
  }
  return { moved: jobIds.length, jobIds };
}

export async function purge(sqs: SQSClient, dlqUrl: string): Promise<number> {
  const counts = await queueCounts(sqs, dlqUrl);
  await sqs.send(new PurgeQueueCommand({ QueueUrl: dlqUrl }));
  return counts.visible + counts.inFlight + counts.delayed;
}

/** `3m 12s`, `2h 5m`, `4d 1h`: an age for a human. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

export function ageMs(letter: DeadLetter, nowMs: number): number | undefined {
  const at = letter.failedAt === undefined ? Number.NaN : Date.parse(letter.failedAt);
  return Number.isFinite(at) ? nowMs - at : undefined;
}

/** Columns padded to their widest cell, two spaces apart. */
export function table(rows: ReadonlyArray<ReadonlyArray<string>>): string {
  const widths =
    rows[0]?.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length))) ?? [];
  return `${rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

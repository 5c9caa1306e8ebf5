import { type ApiKeyRecord, type ApiKeyStore, hashApiKey } from '../../functions/core/api/api-keys';
import { BlobNotFoundError } from '../../functions/core/errors';
import {
  type SuppressionEntry,
  type SuppressionList,
  suppressionKey,
} from '../../functions/core/events/suppression';
import type { MailJob } from '../../functions/core/mail/mail-job';
import {
  inTimeOrder,
  isOutcome,
  type MessageRecord,
  type MessageStatus,
  type MessageStore,
  type OutcomeStatus,
  type StatusChange,
} from '../../functions/core/messages';
import type { DurationMetricName, MetricDimension, MetricName, Metrics } from '../../functions/core/metrics';
import type {
  BlobStore,
  ClaimResult,
  ClaimStore,
  Clock,
  GuardStore,
  Log,
  MailQueue,
  OutboundMail,
  RelayQueue,
  SettledRecipients,
  Transport,
} from '../../functions/core/ports';

/**
 * Small in-memory implementations of the ports in functions/core/ports.ts. They keep what was done to
 * them so a test can assert the observable result, and each can be told to fail.
 */

/** A clock that only moves when the test moves it. */
export class FakeClock implements Clock {
  constructor(private ms = Date.UTC(2025, 0, 15, 12, 0, 0)) {}

  now(): number {
    return this.ms;
  }

  advance(ms: number): void {
    this.ms += ms;
  }
}

export type ClaimState = 'sending' | 'sent' | 'retry' | 'failed';

export interface ClaimRecord {
  state: ClaimState;
  attempts: number;
  leaseUntil: number;
  providerMessageId?: string;
  reason?: string;
  /** Recipient keys settled by earlier attempts. */
  delivered?: string[];
  refused?: string[];
  /** The provider of an attempt whose outcome is unknown. */
  uncertain?: string;
}

type ClaimOperation = 'claim' | 'complete' | 'release' | 'fail';

/**
 * The idempotency records, with the same rules as the DynamoDB store: a job can be claimed when it has
 * no record, was released for a retry, failed, or its holder's lease ran out.
 */
export class MemoryClaimStore implements ClaimStore {
  readonly records = new Map<string, ClaimRecord>();
  readonly calls: Array<{ operation: ClaimOperation; jobId: string; reason?: string }> = [];
  /** Operations that throw this error instead of running. */
  readonly failures: Partial<Record<ClaimOperation, Error>> = {};

  async claim(jobId: string, nowMs: number, leaseUntilMs: number): Promise<ClaimResult> {
    this.record('claim', jobId);
    const current = this.records.get(jobId);
    if (current?.state === 'sent') return { kind: 'sent' };
    if (current?.state === 'sending' && current.leaseUntil >= nowMs)
      return { kind: 'busy', leaseUntil: current.leaseUntil };
    const attempts = (current?.attempts ?? 0) + 1;
    const delivered = current?.delivered ?? [];
    const refused = current?.refused ?? [];
    const uncertain = current?.uncertain;
    // The reason stays, as DynamoDB's SET leaves the attributes it does not name.
    const reason = current?.reason;
    this.records.set(jobId, {
      state: 'sending',
      attempts,
      leaseUntil: leaseUntilMs,
      delivered,
      refused,
      ...(uncertain === undefined ? {} : { uncertain }),
      ...(reason === undefined ? {} : { reason }),
    });
    return {
      kind: 'claimed',
      attempt: attempts,
      settled: { delivered, refused },
      ...(uncertain === undefined ? {} : { uncertainProvider: uncertain }),
      ...(reason === undefined ? {} : { reason }),
    };
  }

  async complete(jobId: string, providerMessageId: string): Promise<void> {
    this.record('complete', jobId);
    this.update(jobId, { state: 'sent', providerMessageId });
  }

  async release(
    jobId: string,
    reason: string,
    _nowMs?: number,
    settled?: SettledRecipients,
    uncertainProvider?: string,
  ): Promise<void> {
    this.record('release', jobId, reason);
    this.update(jobId, {
      state: 'retry',
      reason,
      ...this.settle(jobId, settled),
      ...(uncertainProvider === undefined ? {} : { uncertain: uncertainProvider }),
    });
  }

  async fail(jobId: string, reason: string, _nowMs?: number, settled?: SettledRecipients): Promise<void> {
    this.record('fail', jobId, reason);
    this.update(jobId, { state: 'failed', reason, ...this.settle(jobId, settled) });
  }

  /** The sets grow, as DynamoDB's ADD makes them. */
  private settle(jobId: string, settled: SettledRecipients | undefined) {
    const current = this.records.get(jobId);
    return {
      delivered: [...new Set([...(current?.delivered ?? []), ...(settled?.delivered ?? [])])],
      refused: [...new Set([...(current?.refused ?? []), ...(settled?.refused ?? [])])],
    };
  }

  /** Puts a record in place, as an earlier attempt would have left it. */
  seed(jobId: string, record: ClaimRecord): void {
    this.records.set(jobId, record);
  }

  private record(operation: ClaimOperation, jobId: string, reason?: string): void {
    this.calls.push(reason === undefined ? { operation, jobId } : { operation, jobId, reason });
    const failure = this.failures[operation];
    if (failure) throw failure;
  }

  private update(jobId: string, change: Partial<ClaimRecord>): void {
    const current = this.records.get(jobId) ?? { state: 'sending', attempts: 0, leaseUntil: 0 };
    this.records.set(jobId, { ...current, ...change });
  }
}

/** The relay's side of the queue: remembers retry delays and dead-lettered bodies. */
export class MemoryRelayQueue implements RelayQueue {
  readonly retries: Array<{ receiptHandle: string; delaySeconds: number }> = [];
  readonly deadLetters: Array<{ body: string; reason: string; jobId: string | undefined }> = [];
  retryLaterError: Error | undefined;
  deadLetterError: Error | undefined;

  async retryLater(receiptHandle: string, delaySeconds: number): Promise<void> {
    if (this.retryLaterError) throw this.retryLaterError;
    this.retries.push({ receiptHandle, delaySeconds });
  }

  /** The correlation id of each dead letter, in order (undefined when the record had none). */
  readonly deadLetterCorrelationIds: Array<string | undefined> = [];

  async deadLetter(
    body: string,
    details: { reason: string; jobId: string | undefined; correlationId?: string | undefined },
  ): Promise<void> {
    if (this.deadLetterError) throw this.deadLetterError;
    this.deadLetters.push({ body, reason: details.reason, jobId: details.jobId });
    this.deadLetterCorrelationIds.push(details.correlationId);
  }
}

/** The send side of the queue: keeps every enqueued job. */
export class MemoryMailQueue implements MailQueue {
  readonly jobs: MailJob[] = [];
  /** The correlation id each job was enqueued with, in the order of `jobs`. */
  readonly correlationIds: Array<string | undefined> = [];
  enqueueError: Error | undefined;
  pingError: Error | undefined;

  async enqueue(job: MailJob, correlationId?: string): Promise<void> {
    if (this.enqueueError) throw this.enqueueError;
    this.jobs.push(job);
    this.correlationIds.push(correlationId);
  }

  async ping(): Promise<void> {
    if (this.pingError) throw this.pingError;
  }
}

/**
 * A provider that accepts every mail unless told otherwise: each queued error is thrown by one send,
 * in order, after which sends succeed again. `failJob` scripts errors for one job only, which keeps a
 * test independent of the order in which a batch's records reach the provider.
 */
export class ScriptedTransport implements Transport {
  readonly sent: OutboundMail[] = [];
  readonly attempts: OutboundMail[] = [];
  private readonly errors: unknown[] = [];
  private readonly jobErrors = new Map<string, unknown[]>();

  failNext(...errors: unknown[]): this {
    this.errors.push(...errors);
    return this;
  }

  failJob(jobId: string, ...errors: unknown[]): this {
    this.jobErrors.set(jobId, [...(this.jobErrors.get(jobId) ?? []), ...errors]);
    return this;
  }

  async send(mail: OutboundMail): Promise<{ providerMessageId: string }> {
    this.attempts.push(mail);
    const forJob = this.jobErrors.get(mail.jobId);
    if (forJob !== undefined && forJob.length > 0) throw forJob.shift();
    if (this.errors.length > 0) throw this.errors.shift();
    this.sent.push(mail);
    return { providerMessageId: `provider-${this.sent.length}` };
  }
}

export interface LogEntry {
  level: 'info' | 'warn' | 'error';
  message: string;
  attributes: Record<string, unknown>;
}

/** Keeps every log line so a test can check what was (and was not) written. */
export class RecordingLog implements Log {
  readonly entries: LogEntry[] = [];

  info(message: string, attributes: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'info', message, attributes });
  }

  warn(message: string, attributes: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'warn', message, attributes });
  }

  error(message: string, attributes: Record<string, unknown> = {}): void {
    this.entries.push({ level: 'error', message, attributes });
  }

  /** Everything logged, as one string, for "never contains" checks. */
  text(): string {
    return JSON.stringify(this.entries);
  }
}

/** Ids in the order a test expects them: `newId()` for submitForm. */
export function sequentialIds(...ids: string[]): () => string {
  let next = 0;
  return () => {
    const id = ids[next];
    next += 1;
    if (id === undefined) throw new Error('sequentialIds: ran out of ids');
    return id;
  };
}

/** Metrics that keep their totals, by name, their counts by dimension, and each duration recorded. */
export class RecordingMetrics implements Metrics {
  readonly counts = new Map<MetricName, number>();
  /** `SubmissionRejected{reason=captcha}` to its count, for counts given a dimension. */
  readonly dimensioned = new Map<string, number>();
  readonly durations = new Map<DurationMetricName, number[]>();

  count<N extends MetricName>(name: N, value = 1, dimension?: MetricDimension<N>): void {
    this.counts.set(name, (this.counts.get(name) ?? 0) + value);
    if (dimension === undefined) return;
    const key = `${name}{${Object.entries(dimension)
      .map(([dimensionName, dimensionValue]) => `${dimensionName}=${dimensionValue}`)
      .join(',')}}`;
    this.dimensioned.set(key, (this.dimensioned.get(key) ?? 0) + value);
  }

  duration(name: DurationMetricName, ms: number): void {
    this.durations.set(name, [...(this.durations.get(name) ?? []), ms]);
  }

  /** Counts as a plain object, for toEqual. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }

  /** Counts by dimension as a plain object: `{ 'SpamBlocked{guard=honeypot}': 1 }`. */
  byDimension(): Record<string, number> {
    return Object.fromEntries(this.dimensioned);
  }
}

/** Rate-limit counters and duplicate fingerprints in memory, with the DynamoDB store's semantics. */
export class MemoryGuardStore implements GuardStore {
  readonly items = new Map<string, { hits: number; value?: string; expiresAt: number }>();
  failing = false;

  async increment(key: string, expiresAtSeconds: number, by = 1): Promise<number> {
    if (this.failing) throw new Error('guard store down');
    const item = this.items.get(key) ?? { hits: 0, expiresAt: expiresAtSeconds };
    item.hits += by;
    this.items.set(key, item);
    return item.hits;
  }

  async remember(key: string, value: string, nowSeconds: number, expiresAtSeconds: number) {
    if (this.failing) throw new Error('guard store down');
    const item = this.items.get(key);
    if (item?.value !== undefined && item.expiresAt > nowSeconds) return item.value;
    this.items.set(key, { hits: 0, value, expiresAt: expiresAtSeconds });
    return undefined;
  }

  async forget(key: string): Promise<void> {
    this.items.delete(key);
  }
}

/** The attachments bucket in memory: a missing key throws BlobNotFoundError, as the S3 adapter does. */
export class MemoryBlobStore implements BlobStore {
  readonly objects = new Map<string, { bytes: Buffer; contentType: string }>();
  readonly calls: Array<{ operation: 'put' | 'get'; key: string }> = [];
  /** Operations that throw this error instead of running. */
  readonly failures: Partial<Record<'put' | 'get', Error>> = {};

  async put(key: string, bytes: Buffer, contentType: string): Promise<void> {
    this.calls.push({ operation: 'put', key });
    if (this.failures.put) throw this.failures.put;
    this.objects.set(key, { bytes: Buffer.from(bytes), contentType });
  }

  async get(key: string): Promise<Buffer> {
    this.calls.push({ operation: 'get', key });
    if (this.failures.get) throw this.failures.get;
    const object = this.objects.get(key);
    if (object === undefined) throw new BlobNotFoundError(key);
    return Buffer.from(object.bytes);
  }
}

/** Message status in memory, with the DynamoDB store's semantics: history appended, owner kept. */
export class MemoryMessageStore implements MessageStore {
  readonly records = new Map<string, { status: MessageStatus; history: StatusChange[]; keyId?: string }>();
  failing = false;

  async record(id: string, change: StatusChange, owner?: { keyId: string }): Promise<void> {
    if (this.failing) throw new Error('status store down');
    const current = this.records.get(id) ?? { status: change.status, history: [] };
    if (isOutcome(change.status) || !isOutcome(current.status)) current.status = change.status;
    current.history.push(change);
    if (owner && current.keyId === undefined) current.keyId = owner.keyId;
    this.records.set(id, current);
  }

  async recordInitial(id: string, change: StatusChange, owner?: { keyId: string }): Promise<void> {
    if (this.failing) throw new Error('status store down');
    const current = this.records.get(id) ?? { status: change.status, history: [] };
    current.history.push(change);
    if (owner && current.keyId === undefined) current.keyId = owner.keyId;
    this.records.set(id, current);
  }

  async recordOutcome(id: string, change: StatusChange & { status: OutcomeStatus }): Promise<boolean> {
    if (this.failing) throw new Error('status store down');
    const current = this.records.get(id);
    if (current === undefined) return false;
    current.status = change.status;
    current.history.push(change);
    return true;
  }

  async get(id: string): Promise<MessageRecord | undefined> {
    if (this.failing) throw new Error('status store down');
    const record = this.records.get(id);
    return record ? { id, ...record, history: inTimeOrder(record.history) } : undefined;
  }

  /** The statuses of a message, in time order, as get returns them. */
  statuses(id: string): MessageStatus[] {
    return inTimeOrder(this.records.get(id)?.history ?? []).map((change) => change.status);
  }
}

/** API keys in memory. */
export class MemoryApiKeyStore implements ApiKeyStore {
  readonly keys = new Map<string, ApiKeyRecord>();

  async findByHash(hash: string): Promise<ApiKeyRecord | undefined> {
    return this.keys.get(hash);
  }

  /** Stores a key as the CLI would and returns it. */
  add(key: string, keyId: string, revoked = false): string {
    const hash = hashApiKey(key);
    this.keys.set(hash, { keyId, hash, createdAt: '2025-01-01T00:00:00.000Z', revoked });
    return key;
  }
}

/** The suppression list in memory, keyed by lowercased address like the DynamoDB one. */
export class MemorySuppressionList implements SuppressionList {
  readonly entries = new Map<string, SuppressionEntry>();
  failing = false;

  async add(entry: SuppressionEntry): Promise<void> {
    if (this.failing) throw new Error('suppression list down');
    this.entries.set(suppressionKey(entry.address), entry);
  }

  async has(address: string): Promise<boolean> {
    if (this.failing) throw new Error('suppression list down');
    return this.entries.has(suppressionKey(address));
  }
}

import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { queueDepth } from '../../cli/queues';
import { type PostroomConfig, parseConfig } from '../../functions/core/config/config';
import { contextWithoutRateLimits } from '../../local/config-file';
import { type LocalStack, type LocalStackOptions, startLocalStack } from '../../local/stack';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';
import { RecordingLog } from '../fakes/ports';

/** The relay settings the tests run with: a short timeout and retries after a second. */
export const TEST_RELAY = {
  timeoutSeconds: 5,
  claimLeaseSeconds: 6,
  retryBaseSeconds: 1,
  retryMaxSeconds: 1,
  recordTtlDays: 30,
} as const;

/**
 * The shipped configuration (test/fixtures/postroom.cdk.json, not the user's cdk.json), with changes for a test (fast retries, another transport...).
 * The forms' rate limits are off: a test sends many submissions from one loopback address. The rate-limit
 * tests put them back.
 */
export function testConfig(overrides: Record<string, unknown> = {}): PostroomConfig {
  return parseConfig({
    ...contextWithoutRateLimits(FIXTURE_CONFIG_FILE),
    relay: TEST_RELAY,
    ...overrides,
  });
}

export interface TestStack extends LocalStack {
  readonly log: RecordingLog;
  readonly sqs: SQSClient;
  /** Mail the SES emulator has accepted. */
  sesEmails(): Promise<SesEmail[]>;
  /** Visible plus in-flight messages on a queue. */
  depth(queueUrl: string): Promise<number>;
  /** Reads messages from a queue (the DLQ) with their attributes, making them invisible for a while. */
  receive(queueUrl: string): Promise<Array<{ body: string; attributes: Record<string, string> }>>;
  /** Waits for letters on the dead-letter queue and reads them. */
  deadLetters(timeoutMs?: number): Promise<Array<{ body: string; attributes: Record<string, string> }>>;
  sendRaw(body: string): Promise<void>;
  /** Waits until a queue holds nothing, visible or in flight (the relay deletes a batch after it returns). */
  drained(queueUrl: string, timeoutMs?: number): Promise<void>;
}

export interface SesEmail {
  messageId: string;
  from: string;
  replyTo: string[];
  destination: { to: string[]; cc: string[]; bcc: string[] };
  subject: string;
  body: { text?: string; html?: string };
  /** When the emulator took the mail: Unix seconds. */
  at: number;
}

export async function startTestStack(
  config: PostroomConfig,
  options: Partial<
    Pick<
      LocalStackOptions,
      | 'transport'
      | 'smtpPassword'
      | 'clock'
      | 'captchaSecrets'
      | 'apiKey'
      | 'functions'
      | 'stateDir'
      | 'fresh'
      | 'metrics'
      | 'webhookSecrets'
      | 'webhookSchedule'
      | 'maxQueueDelaySeconds'
      | 'akismetKey'
      | 'akismetUrl'
    >
  > & {
    ports?: Partial<LocalStackOptions['ports']>;
  } = {},
): Promise<TestStack> {
  const log = new RecordingLog();
  const stack = await startLocalStack({
    config,
    log,
    ...options,
    ports: { api: 0, ses: 0, sqs: 0, dynamodb: 0, ...options.ports },
  });
  const sqs = new SQSClient({
    region: config.region,
    endpoint: stack.endpoints.sqs,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const testStack: TestStack = {
    ...stack,
    log,
    sqs,
    async stop() {
      sqs.destroy();
      await stack.stop();
    },
    async sesEmails() {
      const response = await fetch(`${stack.sesUrl}/store`);
      return ((await response.json()) as { emails: SesEmail[] }).emails;
    },
    depth: (queueUrl: string) => queueDepth(sqs, queueUrl),
    async receive(queueUrl: string) {
      const result = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
          VisibilityTimeout: 30,
        }),
      );
      return (result.Messages ?? []).map((message) => ({
        body: message.Body ?? '',
        attributes: Object.fromEntries(
          Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
            name,
            value.StringValue ?? '',
          ]),
        ),
      }));
    },
    async deadLetters(timeoutMs = 5_000) {
      return eventually(
        async () => {
          const letters = await testStack.receive(stack.resources.deadLetterQueueUrl);
          return letters.length > 0 ? letters : undefined;
        },
        timeoutMs,
        'a dead letter',
      );
    },
    async drained(queueUrl: string, timeoutMs = 5_000) {
      await eventually(
        async () => ((await testStack.depth(queueUrl)) === 0 ? true : undefined),
        timeoutMs,
        'an empty queue',
      );
    },
    async sendRaw(body: string) {
      await sqs.send(new SendMessageCommand({ QueueUrl: stack.resources.queueUrl, MessageBody: body }));
    },
  };
  return testStack;
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

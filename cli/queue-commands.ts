import type { SQSClient } from '@aws-sdk/client-sqs';
import { createSqsClient } from '../functions/adapters/sqs-client';
import type { PostroomConfig } from '../functions/core/config/config';
import { localConfig, readPostroomContext } from '../local/config-file';
import type { CliIo } from './command';
import { answered } from './errors';
import { type BreakerView, readBreakers } from './failover';
import { withRecordTable } from './keys';
import {
  ageMs,
  type DeadLetter,
  formatAge,
  groupByReason,
  peekDeadLetters,
  purge,
  type QueueUrls,
  queueCounts,
  type RedriveSelector,
  redrive,
  table,
} from './queues';
import { resolveTarget, type TargetValues, unreachable } from './target';

/**
 * The breakers of the configured providers (docs/failover.md), when the configuration (--config, default
 * cdk.json) lists more than one; undefined otherwise, or when the configuration cannot be read (status is
 * about the queues first).
 */
async function breakersFor(
  values: QueueCommandValues,
  env: NodeJS.ProcessEnv,
): Promise<BreakerView[] | undefined> {
  let config: PostroomConfig;
  try {
    config = localConfig(readPostroomContext(values.config ?? 'cdk.json'), env);
  } catch {
    return undefined;
  }
  if (config.transports.length < 2) return undefined;
  let views: BreakerView[] | undefined;
  await withRecordTable(values, env, async ({ dynamodb, table: tableName }) => {
    views = await readBreakers(dynamodb, tableName, config);
    return 0;
  });
  return views;
}

/** How many dead letters `status` and `dlq list` read. */
export const PEEK_LIMIT = 100;

export interface QueueCommandValues extends TargetValues {
  /** status: the configuration whose transports' breakers are shown (default cdk.json). */
  readonly config?: string | undefined;
  readonly table?: string | undefined;
  readonly json?: boolean | undefined;
  readonly id?: string[] | undefined;
  readonly reason?: string | undefined;
  readonly all?: boolean | undefined;
  readonly yes?: boolean | undefined;
}

/** `status` and `dlq list|redrive|purge` against the queues of the local or a deployed stack. Returns the exit code. */
export async function runQueueCommand(
  group: 'status' | 'dlq',
  command: string | undefined,
  values: QueueCommandValues,
  io: CliIo,
  usage: string,
): Promise<number> {
  const name = group === 'status' ? 'status' : `dlq ${command ?? ''}`.trim();
  if (group === 'status' ? command !== undefined : !['list', 'redrive', 'purge'].includes(command ?? '')) {
    io.err(`Unknown command "${name}".\n\n${usage}`);
    return 2;
  }
  const selector = { ids: values.id ?? [], reason: values.reason, all: values.all === true };
  if (name === 'dlq redrive' && !selector.all && selector.ids.length === 0 && !selector.reason) {
    io.err('dlq redrive needs a selector: --all, --id JOB_ID (repeatable) or --reason TEXT.\n');
    return 2;
  }
  if (name === 'dlq purge' && values.yes !== true && io.confirm === undefined) {
    io.err('dlq purge deletes every dead letter: run it with --yes (no terminal to ask on).\n');
    return 2;
  }
  const urls = await resolveTarget(values, io.env, ['queueUrl', 'deadLetterQueueUrl']);
  const sqs = createSqsClient(urls.aws);
  const now = io.now ?? Date.now;
  try {
    switch (name) {
      case 'status': {
        const queue = await queueCounts(sqs, urls.queueUrl);
        const dlq = await queueCounts(sqs, urls.deadLetterQueueUrl);
        const depth = dlq.visible + dlq.inFlight + dlq.delayed;
        const letters = depth > 0 ? await peekDeadLetters(sqs, urls.deadLetterQueueUrl, PEEK_LIMIT) : [];
        const ages = letters.map((l) => ageMs(l, now())).filter((a): a is number => a !== undefined);
        const oldest = ages.length > 0 ? Math.max(...ages) : undefined;
        const failures = groupByReason(letters);
        const healthy = depth === 0;
        const breakers = await breakersFor(values, io.env);
        if (values.json) {
          io.out(
            `${JSON.stringify({
              healthy,
              mailQueue: { url: urls.queueUrl, ...queue },
              deadLetterQueue: {
                url: urls.deadLetterQueueUrl,
                depth,
                oldestAgeSeconds: oldest === undefined ? null : Math.floor(oldest / 1000),
              },
              recentFailures: failures,
              peeked: letters.length,
              ...(breakers === undefined ? {} : { breakers }),
            })}\n`,
          );
        } else {
          io.out(
            table([
              ['QUEUE', 'VISIBLE', 'IN FLIGHT', 'DELAYED', 'OLDEST'],
              [
                'mail',
                String(queue.visible),
                String(queue.inFlight),
                String(queue.delayed),
                // SQS reports the age of a queue's oldest message only as a CloudWatch metric, and a peek on
                // the mail queue would count as a delivery attempt: not shown.
                '-',
              ],
              [
                'dead-letter',
                String(dlq.visible),
                String(dlq.inFlight),
                String(dlq.delayed),
                oldest === undefined ? '-' : formatAge(oldest),
              ],
            ]),
          );
          if (breakers !== undefined) {
            io.out('\n');
            io.out(
              table([
                ['PROVIDER', 'KIND', 'BREAKER', 'UNTIL'],
                ...breakers.map((b) => [b.provider, b.kind, b.state, b.until ?? '-']),
              ]),
            );
          }
          if (failures.length > 0) {
            io.out(`\nRecent failures (${letters.length} of ${depth} dead letters read):\n`);
            io.out(table([['COUNT', 'REASON'], ...failures.map((f) => [String(f.count), f.reason])]));
            io.out(`\n${depth} dead letter${depth === 1 ? '' : 's'}: see postroom dlq list.\n`);
          } else {
            io.out('\nNo dead letters.\n');
          }
        }
        return healthy ? 0 : 1;
      }
      case 'dlq list': {
        const letters = await peekDeadLetters(sqs, urls.deadLetterQueueUrl, PEEK_LIMIT);
        if (values.json) {
          io.out(`${JSON.stringify(letters.map((l) => ({ ...l, ageSeconds: ageSeconds(l, now()) })))}\n`);
        } else if (letters.length === 0) {
          io.out('No dead letters.\n');
        } else {
          io.out(
            table([
              ['JOB ID', 'AGE', 'SOURCE', 'RECIPIENTS', 'REASON'],
              ...letters.map((l) => row(l, now())),
            ]),
          );
        }
        return 0;
      }
      case 'dlq redrive': {
        const result = await redriveWithProgress(sqs, urls, selector, io.progress);
        io.out(
          `Moved ${result.moved} dead letter${result.moved === 1 ? '' : 's'} back to the mail queue.\n` +
            result.jobIds.map((id) => `  ${id}\n`).join(''),
        );
        const missing = selector.ids.filter((id) => !result.jobIds.includes(id));
        if (missing.length > 0) io.err(`Not on the dead-letter queue: ${missing.join(', ')}\n`);
        return 0;
      }
      default: {
        if (values.yes !== true) {
          const dlq = await queueCounts(sqs, urls.deadLetterQueueUrl);
          const depth = dlq.visible + dlq.inFlight + dlq.delayed;
          const ok = await io.confirm?.(`Delete all ${depth} dead letters for good? [y/N] `);
          if (!ok) {
            io.err('Nothing purged.\n');
            return 2;
          }
        }
        const purged = await purge(sqs, urls.deadLetterQueueUrl);
        io.out(`Purged ${purged} dead letter${purged === 1 ? '' : 's'}.\n`);
        return 0;
      }
    }
  } catch (error) {
    if (!answered(error)) throw unreachable(urls, 'sqs', urls.aws.endpoints?.sqs, error);
    const what = error instanceof Error ? error.name : String(error);
    io.err(`${name} failed (${what}${error instanceof Error ? `: ${error.message}` : ''}).\n`);
    return 1;
  } finally {
    sqs.destroy();
  }
}

/**
 * Redrives, telling a person at a terminal how far it got (`redriving 120/500`); the total is the DLQ's
 * approximate depth at the start. Scripts (no terminal) get only the result.
 */
async function redriveWithProgress(
  sqs: SQSClient,
  urls: QueueUrls,
  selector: RedriveSelector,
  progress: CliIo['progress'],
): Promise<{ moved: number; jobIds: string[] }> {
  if (progress === undefined) return redrive(sqs, urls, selector);
  const counts = await queueCounts(sqs, urls.deadLetterQueueUrl);
  const total = counts.visible + counts.inFlight + counts.delayed;
  try {
    return await redrive(sqs, urls, selector, (moved) =>
      progress(`redriving ${moved}/${Math.max(moved, total)}`),
    );
  } finally {
    progress('');
  }
}

function ageSeconds(letter: DeadLetter, nowMs: number): number | null {
  const age = ageMs(letter, nowMs);
  return age === undefined ? null : Math.floor(age / 1000);
}

/** One `dlq list` row. Recipients are masked; the body is never shown. */
export function row(letter: DeadLetter, nowMs: number): string[] {
  const age = ageMs(letter, nowMs);
  return [
    letter.jobId ?? `(message ${letter.messageId})`,
    age === undefined ? '-' : formatAge(age),
    letter.source ?? '-',
    letter.recipients.length === 0 ? '-' : letter.recipients.join(','),
    letter.reason ?? '(no reason recorded)',
  ];
}

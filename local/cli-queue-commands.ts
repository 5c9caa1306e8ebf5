import { createSqsClient } from '../functions/adapters/aws-clients';
import type { CliIo } from './cli';
import {
  ageMs,
  type DeadLetter,
  formatAge,
  groupByReason,
  localQueueUrls,
  peekDeadLetters,
  purge,
  queueCounts,
  redrive,
  sqsEndpoint,
  table,
} from './cli-queues';

/** How many dead letters `status` and `dlq list` read. */
export const PEEK_LIMIT = 100;

export interface QueueCommandValues {
  readonly 'sqs-endpoint'?: string | undefined;
  readonly region?: string | undefined;
  readonly json?: boolean | undefined;
  readonly id?: string[] | undefined;
  readonly reason?: string | undefined;
  readonly all?: boolean | undefined;
  readonly yes?: boolean | undefined;
}

/** `status` and `dlq list|redrive|purge` against the local stack's queues. Returns the exit code. */
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
  const endpoint = sqsEndpoint(values['sqs-endpoint'], io.env);
  const sqs = createSqsClient({
    region: values.region ?? 'us-east-1',
    endpoints: { sqs: endpoint },
    // The local emulator accepts any credentials.
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  const now = io.now ?? Date.now;
  let stage = 'reach';
  try {
    const urls = await localQueueUrls(sqs);
    stage = 'run';
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
        const result = await redrive(sqs, urls, selector, (moved) => io.err(`... ${moved} moved\n`));
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
    const what = error instanceof Error ? error.name : String(error);
    if (stage === 'reach') {
      io.err(
        `Could not reach the queues (${what}) at ${endpoint}. Is the local stack running (npm start)?\n`,
      );
      return 3;
    }
    io.err(`${name} failed (${what}${error instanceof Error ? `: ${error.message}` : ''}).\n`);
    return 1;
  } finally {
    sqs.destroy();
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

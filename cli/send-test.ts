import { randomUUID } from 'node:crypto';
import { createDynamoClient } from '../functions/adapters/aws-clients';
import { DynamoMessageStore } from '../functions/adapters/dynamodb-messages';
import type { MessageStatus, StatusChange } from '../functions/core/messages';
import type { CliIo } from './command';
import { answered } from './errors';
import { networkReason, reachHint, resolveTarget, type TargetValues } from './target';

export interface SendTestValues extends TargetValues {
  readonly form?: string | undefined;
  readonly json?: boolean | undefined;
  readonly timeout?: string | undefined;
}

/** Seconds `send-test` waits for an outcome unless `--timeout` says otherwise. */
export const DEFAULT_TIMEOUT_SECONDS = 20;
const POLL_MS = 200;
const SUCCESS: ReadonlyArray<MessageStatus> = ['sent', 'delivered'];
/** The relay gave up, or the provider refused or bounced the mail. */
const FAILURE: ReadonlyArray<MessageStatus> = ['failed', 'bounced', 'complained', 'rejected'];

/**
 * `postroom send-test --form ID`: posts a test message (JSON, with a unique marker) to the form of the local
 * or a deployed stack, then follows its status in the record table (form mail's status is not readable over HTTP) until
 * sent, delivered or failed. Exit 0 sent or delivered, 1 failed, refused or timed out, 2 usage, 3 unreachable.
 */
export async function runSendTest(values: SendTestValues, io: CliIo, usage: string): Promise<number> {
  const formId = values.form;
  const timeoutSeconds = values.timeout === undefined ? DEFAULT_TIMEOUT_SECONDS : Number(values.timeout);
  if (!formId || !Number.isFinite(timeoutSeconds) || timeoutSeconds < 0) {
    io.err(`send-test needs --form FORM_ID (and --timeout SECONDS, if given, a number).\n\n${usage}`);
    return 2;
  }
  const target = await resolveTarget(values, io.env, ['apiUrl', 'tableName']);
  const local = target.kind === 'local';
  const apiUrl = target.apiUrl.replace(/\/+$/, '');
  const tableAt = target.aws.endpoints?.dynamodb ?? `table ${target.tableName} of ${target.label}`;
  const now = io.now ?? Date.now;
  const marker = `postroom-send-test-${randomUUID()}`;
  const changes: Array<StatusChange & { afterMs: number }> = [];
  const shown = new Set<string>();
  const report = (result: Record<string, unknown>, code: number, text: string) => {
    if (values.json) io.out(`${JSON.stringify({ form: formId, marker, ...result, changes })}\n`);
    else if (text) (code === 0 ? io.out : io.err)(text);
    return code;
  };

  // Follow before submitting: a message sent to a stack whose status cannot then be read would be mail
  // sent for nothing, and a second run would send another.
  const dynamodb = createDynamoClient(target.aws);
  const store = new DynamoMessageStore(dynamodb, target.tableName, 1);
  try {
    await store.get(`${marker}-probe`);
  } catch (error) {
    dynamodb.destroy();
    const missing = answered(error) && (error as Error).name === 'ResourceNotFoundException';
    const text = missing
      ? `There is no table ${target.tableName} at ${tableAt}: ${local ? 'restart the local stack (npm start).' : 'check --stack and --region.'}`
      : answered(error)
        ? `Could not read the message status in ${tableAt} (${networkReason(error)}). ${reachHint(target, 'dynamodb')}`
        : `Could not reach DynamoDB at ${tableAt} to follow the message (${networkReason(error)}). ${reachHint(target, 'dynamodb')}`;
    return report({ outcome: 'unreachable', endpoint: tableAt }, 3, `Nothing was sent. ${text}\n`);
  }

  const started = now();
  let response: Response;
  try {
    response = await fetch(`${apiUrl}/v1/forms/${encodeURIComponent(formId)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        name: 'Postroom send-test',
        email: 'send-test@example.com',
        message: `Test message from postroom send-test. Marker: ${marker}`,
      }),
    });
  } catch (error) {
    dynamodb.destroy();
    return report(
      { outcome: 'unreachable', api: apiUrl },
      3,
      `Could not reach the API at ${apiUrl} (${networkReason(error)}). ${reachHint(target, 'api')}\n`,
    );
  }
  const answer = await response.text();
  const id = response.status === 202 ? parseId(answer) : undefined;
  if (id === undefined) {
    dynamodb.destroy();
    return report(
      { outcome: 'refused', httpStatus: response.status, answer: answer.slice(0, 500) },
      1,
      `The form answered ${response.status}: ${answer.slice(0, 500)}\n`,
    );
  }
  if (!values.json) io.out(`Submitted to form ${formId}: job ${id} (marker ${marker})\n`);

  const deadline = started + timeoutSeconds * 1000;
  try {
    for (;;) {
      let record: Awaited<ReturnType<DynamoMessageStore['get']>>;
      try {
        record = await store.get(id);
      } catch (error) {
        return report(
          { id, outcome: 'unreachable', endpoint: tableAt },
          3,
          `Could not read the message status (${networkReason(error)}) at ${tableAt}. ${reachHint(target, 'dynamodb')}\n`,
        );
      }
      // The history comes back in time order, and `queued` may land after `sending`: print what is new.
      for (const change of record?.history ?? []) {
        const seen = `${change.status} ${change.at} ${change.detail ?? ''}`;
        if (shown.has(seen)) continue;
        shown.add(seen);
        const entry = { ...change, afterMs: now() - started };
        changes.push(entry);
        if (!values.json) {
          const detail = change.detail ? `  ${change.detail}` : '';
          io.out(`  ${change.status.padEnd(10)} ${(entry.afterMs / 1000).toFixed(1)}s${detail}\n`);
        }
      }
      const status = record?.status;
      if (status !== undefined && SUCCESS.includes(status)) {
        return report({ id, outcome: status }, 0, `Test message ${status}.\n`);
      }
      if (status !== undefined && FAILURE.includes(status)) {
        return report({ id, outcome: status }, 1, `Test message ${status}: see postroom dlq list.\n`);
      }
      if (now() >= deadline) {
        return report(
          { id, outcome: 'timeout', lastStatus: status ?? null },
          1,
          `No outcome after ${timeoutSeconds}s (last status: ${status ?? 'none'}). Is the relay running?\n`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    dynamodb.destroy();
  }
}

function parseId(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { id?: unknown };
    return typeof parsed.id === 'string' ? parsed.id : undefined;
  } catch {
    return undefined;
  }
}

import { REJECTED_DOMAIN } from './delivered';

export type SubmissionKind = 'form' | 'api' | 'api-rejected';

/** One planned request to the API, and what became of it. */
export interface Submission {
  readonly index: number;
  readonly kind: SubmissionKind;
  /** Unique text in the mail body: the contact form drops repeated content as a duplicate. */
  readonly marker: string;
  status?: number;
  id?: string;
  latencyMs?: number;
  /** Why no answer came (status 0): the fetch error's cause code. */
  error?: string;
}

/**
 * Every second request is a contact-form post, the others API sends; one API send in `rejectEvery` goes
 * to a recipient the provider refuses for good.
 */
export function planSubmission(index: number, runId: string, rejectEvery: number): Submission {
  const api = index % 2 === 1;
  const rejected = api && rejectEvery > 0 && ((index - 1) / 2) % rejectEvery === rejectEvery - 1;
  return {
    index,
    kind: api ? (rejected ? 'api-rejected' : 'api') : 'form',
    marker: `${runId}-${index}`,
  };
}

/**
 * Sends one submission and records its status, id and latency. The latency counts from when the request
 * was due (`dueAt`, performance.now() time), so a late sender cannot hide queueing (coordinated omission).
 * Never throws.
 */
export async function submit(
  apiUrl: string,
  apiKey: string,
  submission: Submission,
  dueAt = performance.now(),
): Promise<void> {
  const started = dueAt;
  const request: { url: string; headers: Record<string, string>; body: unknown } =
    submission.kind === 'form'
      ? {
          url: `${apiUrl}/v1/forms/contact`,
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: {
            name: `Visitor ${submission.index}`,
            email: `visitor-${submission.index}@example.org`,
            message: `Question ${submission.marker}: do you ship abroad?`,
          },
        }
      : {
          url: `${apiUrl}/v1/send`,
          headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
          body: {
            from: 'Shop <orders@example.com>',
            to:
              submission.kind === 'api-rejected'
                ? `gone-${submission.index}@${REJECTED_DOMAIN}`
                : `customer-${submission.index}@example.org`,
            subject: `Your receipt ${submission.index}`,
            text: `Thank you for order ${submission.marker}.`,
          },
        };
  try {
    const response = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: JSON.stringify(request.body),
    });
    submission.status = response.status;
    const text = await response.text();
    if (response.status === 202) submission.id = (JSON.parse(text) as { id?: string }).id;
  } catch (error) {
    // No answer at all: counted as refused (status 0).
    submission.status = 0;
    const cause = (error as { cause?: { code?: unknown; name?: unknown } }).cause;
    submission.error = String(cause?.code ?? cause?.name ?? (error as Error).name);
  }
  submission.latencyMs = performance.now() - started;
}

/** Calls `fire(i, dueAt)` for i in [0, count) at a steady rate, on schedule: it never waits for an answer. */
export async function openLoop(
  count: number,
  ratePerSecond: number,
  fire: (index: number, dueAt: number) => Promise<void>,
): Promise<void> {
  const started = performance.now();
  const pending: Array<Promise<void>> = [];
  for (let index = 0; index < count; index += 1) {
    const due = started + (index * 1000) / ratePerSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    pending.push(fire(index, due));
  }
  await Promise.all(pending);
}

export function percentile(sorted: ReadonlyArray<number>, p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

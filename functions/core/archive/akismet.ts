import type { FormAkismetConfig } from '../config/archive-config';
import type { FormConfig } from '../config/config';
import { ServiceUnavailableError } from '../errors';
import type { FormSubmission } from '../forms/form-submission';
import type { Log } from '../ports';

/**
 * Akismet's content check for contact forms: `comment-check` with `comment_type=contact-form`, the visitor's
 * IP and user agent, and the fields. https://akismet.com/developers/detailed-docs/comment-check/
 * Akismet answers `true` (spam), `false` (not spam) or, for a bad request or key, something else with an
 * `X-akismet-debug-help` header; `X-akismet-pro-tip: discard` on a `true` marks blatant spam that the docs
 * say can be discarded without review. The endpoint is fixed here: configuration cannot point the send
 * function's requests anywhere else (SSRF); only the local stack and tests give the adapter another base.
 */
export const AKISMET_COMMENT_CHECK_URL = 'https://rest.akismet.com/1.1/comment-check';

export type AkismetVerdict = 'ham' | 'spam' | 'discard';

export interface AkismetRequest {
  readonly key: string;
  /** The form-encoded parameters of comment-check, api_key excluded. */
  readonly params: ReadonlyArray<readonly [string, string]>;
  readonly timeoutMs: number;
}

/** Asks Akismet. Throws AkismetUnavailableError when the answer is not a verdict (timeout, 5xx, `invalid`). */
export interface AkismetClient {
  check(request: AkismetRequest): Promise<AkismetVerdict>;
}

export class AkismetUnavailableError extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'AkismetUnavailableError';
  }
}

export interface AkismetDeps {
  readonly client: AkismetClient;
  /** The API key: Secrets Manager on AWS, POSTROOM_AKISMET_KEY locally; undefined when it cannot be read. */
  readonly key: () => Promise<string | undefined>;
}

/** comment-check's parameters for a submission. `user_ip` is required by Akismet. */
export function akismetParams(
  akismet: FormAkismetConfig,
  submission: FormSubmission,
  client: { ip: string | undefined; userAgent: string | undefined; referrer: string | undefined },
): Array<readonly [string, string]> {
  const params: Array<readonly [string, string]> = [
    ['blog', akismet.blog],
    ['user_ip', client.ip ?? ''],
    ['user_agent', client.userAgent ?? ''],
    ['comment_type', 'contact-form'],
    ['comment_author_email', submission.email.address],
    ['comment_content', submission.message],
    ['blog_charset', 'UTF-8'],
  ];
  if (client.referrer) params.push(['referrer', client.referrer]);
  if (submission.name !== undefined) params.push(['comment_author', submission.name]);
  // Further fields go as contact_form_field_<name>: Akismet reads extra parameters as context.
  for (const [name, value] of submission.extra) params.push([`contact_form_field_${name}`, value]);
  return params;
}

/**
 * The verdict for a submission of a form with `akismet`. When Akismet cannot answer, `onError: open` takes it
 * as not spam (logged), `closed` refuses the submission with 503 so the visitor sends again.
 */
export async function checkAkismet(
  form: FormConfig & { akismet: FormAkismetConfig },
  submission: FormSubmission,
  client: { ip: string | undefined; userAgent: string | undefined; referrer: string | undefined },
  deps: AkismetDeps,
  log: Log,
): Promise<AkismetVerdict> {
  const { akismet } = form;
  let reason: string;
  try {
    const key = await deps.key();
    if (key === undefined) throw new AkismetUnavailableError('no Akismet key');
    return await deps.client.check({
      key,
      params: akismetParams(akismet, submission, client),
      timeoutMs: akismet.timeoutMs,
    });
  } catch (error) {
    reason = error instanceof Error ? error.message : 'unknown';
  }
  log.warn('akismet unavailable', {
    formId: form.id,
    outcome: akismet.onError === 'open' ? 'akismet-failed-open' : 'akismet-failed-closed',
    reason,
  });
  if (akismet.onError === 'open') return 'ham';
  throw new ServiceUnavailableError('Submissions cannot be checked right now; try again shortly.', 5);
}

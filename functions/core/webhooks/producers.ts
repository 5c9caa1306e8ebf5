import type { FormSubmission } from '../forms/form-submission';
import type { EmailData, SubmissionData, WebhookEvent } from './webhook-event';
import { webhookEventId } from './webhook-event';

/** `submission.received`, from a validated submission: underscore controls and captcha tokens never appear. */
export function submissionReceived(input: {
  randomId: string;
  nowMs: number;
  formId: string;
  submissionId: string;
  submission: FormSubmission;
  files: ReadonlyArray<{ field: string; filename: string; contentType: string; content: Buffer }>;
  spamGuard?: string | undefined;
}): WebhookEvent {
  const { submission } = input;
  const fields: Record<string, string> = { email: submission.email.address };
  if (submission.name !== undefined) fields.name = submission.name;
  fields.message = submission.message;
  for (const [name, value] of submission.extra) fields[name] = value;
  const data: SubmissionData = {
    formId: input.formId,
    submissionId: input.submissionId,
    spam: input.spamGuard !== undefined,
    ...(input.spamGuard !== undefined ? { guard: input.spamGuard } : {}),
    fields,
    files: input.files.map((file) => ({
      field: file.field,
      name: file.filename,
      type: file.contentType,
      size: file.content.length,
    })),
  };
  return {
    id: webhookEventId(input.randomId),
    type: 'submission.received',
    timestamp: new Date(input.nowMs).toISOString(),
    data,
  };
}

const EMAIL_TYPE = {
  sent: 'email.sent',
  delivered: 'email.delivered',
  bounced: 'email.bounced',
  complained: 'email.complained',
  failed: 'email.failed',
  scheduled: 'email.scheduled',
  canceled: 'email.canceled',
} as const;

/** `email.*`: a message's status changed. `at` is when it did (ISO 8601). */
export function emailEvent(randomId: string, at: string, data: EmailData): WebhookEvent {
  return { id: webhookEventId(randomId), type: EMAIL_TYPE[data.status], timestamp: at, data };
}

/**
 * `email.scheduled` / `email.canceled`, from the API once the message's record took the change (the
 * conditional write on `scheduled`, core/scheduling/schedule-store.ts). The id derives from the message and
 * the change, so a retried request that makes the same change gives the same webhook-id; each move (a new
 * time) is an event of its own.
 */
export function scheduleEvent(
  status: 'scheduled' | 'canceled',
  at: string,
  data: { messageId: string; scheduledAt: string; recipients: ReadonlyArray<string> },
): WebhookEvent {
  const seed =
    status === 'scheduled'
      ? `${data.messageId}_scheduled_${data.scheduledAt.replace(/\D/g, '')}`
      : `${data.messageId}_canceled`;
  return emailEvent(seed, at, { ...data, status });
}

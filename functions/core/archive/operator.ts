import type { PostroomConfig } from '../config/config';
import type { UploadedFile } from '../forms/form-body';
import type { ListedFile } from '../forms/form-mail';
import type { FormSubmission } from '../forms/form-submission';
import { parseAddress } from '../mail/address';
import { planAttachments } from '../mail/attachments';
import type { MailJobAttachment } from '../mail/mail-job';
import type { BlobStore, MailQueue } from '../ports';
import type { TemplateCatalog } from '../templates/catalog';
import {
  type ArchiveAdmin,
  type ArchivedSubmission,
  type ArchiveFileAdmin,
  archiveFileKey,
  type ErasureRecord,
  emailIndexKey,
  expiresAtFor,
} from './submission-archive';

/**
 * What an operator does with the archive (the CLI with operator credentials, the local submissions page):
 * mark a submission not spam, erase a person's submissions. The send function can do neither (IAM).
 */

export interface OperatorDeps {
  readonly config: PostroomConfig;
  readonly archive: ArchiveAdmin;
  readonly files: ArchiveFileAdmin;
  /** The key of the erasure index (emailIndexKey). */
  readonly hashKey: string;
  /** The mail queue, for the notification of a submission marked not spam. */
  readonly queue?: MailQueue | undefined;
  /**
   * The attachments bucket (`attachments/`), for a released notification's files too large to ride in its
   * job, as the form path puts them there.
   */
  readonly blobs?: BlobStore | undefined;
  /** The compiled templates the notification is rendered with (the form's own, or form-notification). */
  readonly templates?: TemplateCatalog | undefined;
  /** Deletes a message status record (`msg#<id>` in the record table). */
  readonly deleteMessage: (id: string) => Promise<void>;
  /** Lifts an address's suppression; false when it was not suppressed. */
  readonly liftSuppression?: ((address: string) => Promise<boolean>) | undefined;
  readonly nowMs: number;
}

export class SubmissionNotFoundError extends Error {
  constructor(id: string) {
    super(`There is no archived submission ${id}.`);
    this.name = 'SubmissionNotFoundError';
  }
}

/** What marking not spam needs. */
export type ReleaseDeps = Pick<
  OperatorDeps,
  'config' | 'archive' | 'files' | 'queue' | 'blobs' | 'templates' | 'nowMs'
>;

export type ReleaseOutcome = 'released' | 'already-notified' | 'not-spam';

/**
 * Marks a spam submission not spam: its notification is queued (once: only the call that sets `notified`
 * queues it, so two clicks or a retried command send one mail), then it moves to the inbox with the inbox's
 * retention counted from when it was received, files included. A crash between the two leaves it in the
 * spam folder, notified: running it again moves it without a second mail.
 *
 * The notification carries the visitor's files as a directly accepted submission's does (inline, or in the
 * attachments bucket when together they are larger than `attachments.inlineMaxBytes`), read from the archive
 * where the form stores files (`archive.storeFiles`). A form that does not store them kept only their names,
 * types and sizes: the notification lists those as not attached (`filesNotKept`), never silently without them.
 * The files are read and put in place before the claim: a file that cannot be read fails the release with
 * nothing changed, rather than after `notified` is set, when running it again would send nothing.
 */
export async function releaseSubmission(id: string, deps: ReleaseDeps): Promise<ReleaseOutcome> {
  const found = await deps.archive.get(id, Math.floor(deps.nowMs / 1000));
  if (found === undefined) throw new SubmissionNotFoundError(id);
  if (found.folder === 'inbox') return 'not-spam';
  const form = deps.config.forms.find((candidate) => candidate.id === found.formId);
  if (form === undefined || form.archive === undefined) throw new SubmissionNotFoundError(id);
  const notified = found.notified ? undefined : await notificationFiles(found, deps);
  const claimed = await deps.archive.claimNotification(found);
  if (claimed) {
    if (deps.queue === undefined) throw new Error('the mail queue is needed to send the notification');
    if (deps.templates === undefined) throw new Error('the templates are needed to render the notification');
    // The same renderer as the form path.
    const [{ buildFormMailJob }, templates] = await Promise.all([
      import('../forms/form-mail'),
      deps.templates.load(),
    ]);
    const job = buildFormMailJob(
      deps.config,
      form,
      asSubmission(found),
      { id: found.id, createdAt: new Date(deps.nowMs) },
      notified?.attachments ?? [],
      templates,
      notified?.notKept ?? [],
    );
    await deps.queue.enqueue(job);
  }
  const files = [];
  for (const [index, file] of found.files.entries()) {
    if (file.key === undefined) {
      files.push(file);
      continue;
    }
    const key = archiveFileKey(found.formId, 'inbox', found.id, index);
    await deps.files.put(key, await deps.files.fetchArchived(file.key), file.contentType);
    files.push({ ...file, key });
  }
  const inbox: ArchivedSubmission = {
    ...found,
    folder: 'inbox',
    notified: true,
    files,
    messageIds: found.messageIds.includes(found.id) ? found.messageIds : [...found.messageIds, found.id],
    expiresAt: expiresAtFor(form.archive, 'inbox', Date.parse(found.receivedAt)),
  };
  // Put first: the pointer then names the inbox copy, and the spam copy's delete cannot orphan it.
  await deps.archive.put(inbox);
  await deps.archive.removeFromFolder(found);
  for (const file of found.files) if (file.key !== undefined) await deps.files.removeArchived(file.key);
  return claimed ? 'released' : 'already-notified';
}

/**
 * The files of a released submission's notification: those the archive kept, planned as the form path plans
 * them (the job's id is the submission's) with the bucket's part put in place; the others, listed.
 */
async function notificationFiles(
  found: ArchivedSubmission,
  deps: ReleaseDeps,
): Promise<{ attachments: ReadonlyArray<MailJobAttachment>; notKept: ReadonlyArray<ListedFile> }> {
  const kept: UploadedFile[] = [];
  const notKept: ListedFile[] = [];
  for (const file of found.files) {
    if (file.key === undefined) {
      notKept.push({ filename: file.name, contentType: file.contentType, size: file.size });
      continue;
    }
    const content = await deps.files.fetchArchived(file.key);
    kept.push({ field: '', filename: file.name, contentType: file.contentType, content });
  }
  const plan = planAttachments(kept, found.id, deps.config.attachments.inlineMaxBytes);
  if (plan.uploads.length > 0) {
    if (deps.blobs === undefined) throw new Error('the attachments bucket is needed for these files');
    const blobs = deps.blobs;
    await Promise.all(plan.uploads.map((upload) => blobs.put(upload.key, upload.bytes, upload.contentType)));
  }
  return { attachments: plan.attachments, notKept };
}

/** The submission as the mail builder wants it, from its archived fields. */
function asSubmission(found: ArchivedSubmission): FormSubmission {
  const get = (name: string) => found.fields.find(([field]) => field === name)?.[1];
  const parsed = parseAddress(get('email') ?? '');
  if (!parsed.ok) throw new Error(`submission ${found.id} has no usable address`);
  return {
    email: parsed.value,
    name: get('name'),
    message: get('message') ?? '',
    extra: found.fields.filter(([field]) => !['email', 'name', 'message'].includes(field)),
    honeypotFilled: false,
  };
}

export interface ErasureOptions {
  /** Also lift the address's suppression (a person asking to be forgotten may also ask for mail again). */
  readonly liftSuppression?: boolean;
}

/**
 * Erases every archived submission of an address: found through the keyed hash index (expired ones too,
 * since TTL may not have deleted them yet), each with its files and the status records of its mail; then
 * records a tombstone that says when and how many, and nothing about whom.
 */
export async function eraseByEmail(
  address: string,
  deps: OperatorDeps,
  options: ErasureOptions = {},
): Promise<ErasureRecord> {
  const ids = await deps.archive.idsByEmailKey(emailIndexKey(deps.hashKey, address));
  const counts = { submissions: 0, files: 0, messages: 0 };
  for (const id of ids) await eraseOne(id, deps, counts);
  const suppressionLifted =
    options.liftSuppression === true && deps.liftSuppression !== undefined
      ? await deps.liftSuppression(address)
      : false;
  const record: ErasureRecord = {
    at: new Date(deps.nowMs).toISOString(),
    by: 'email',
    ...counts,
    suppressionLifted,
  };
  await deps.archive.tombstone(record);
  return record;
}

/** Erases one submission by id, with its files and message records, and records a tombstone. */
export async function eraseById(id: string, deps: OperatorDeps): Promise<ErasureRecord> {
  const counts = { submissions: 0, files: 0, messages: 0 };
  await eraseOne(id, deps, counts);
  if (counts.submissions === 0) throw new SubmissionNotFoundError(id);
  const record: ErasureRecord = {
    at: new Date(deps.nowMs).toISOString(),
    by: 'id',
    ...counts,
    suppressionLifted: false,
  };
  await deps.archive.tombstone(record);
  return record;
}

async function eraseOne(
  id: string,
  deps: OperatorDeps,
  counts: { submissions: number; files: number; messages: number },
): Promise<void> {
  const found = await deps.archive.getAny(id);
  if (found === undefined) return;
  for (const file of found.files) {
    if (file.key === undefined) continue;
    await deps.files.removeArchived(file.key);
    counts.files += 1;
  }
  for (const messageId of found.messageIds) {
    await deps.deleteMessage(messageId);
    counts.messages += 1;
  }
  await deps.archive.erase(found);
  counts.submissions += 1;
}

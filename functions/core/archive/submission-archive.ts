import { createHmac } from 'node:crypto';
import type { ArchiveConfig } from '../config/archive-config';
import type { FormConfig } from '../config/config';
import { errorName } from '../errors';
import type { UploadedFile } from '../forms/form-body';
import type { FormSubmission } from '../forms/form-submission';
import type { Log } from '../ports';

/**
 * The submission archive (docs/privacy.md): a copy of each submission of a form with `archive`, kept in the
 * inbox (accepted) or the spam folder (caught by a guard or Akismet) until its retention runs out. Items expire
 * by DynamoDB TTL (`expiresAt`), which deletes up to a few days late, so every read filters on it too.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html
 */

export const FOLDERS = ['inbox', 'spam'] as const;
export type Folder = (typeof FOLDERS)[number];

/** Why a submission is in the spam folder. */
export const SPAM_REASONS = ['honeypot', 'blocked-word', 'duplicate', 'akismet'] as const;
export type SpamReason = (typeof SPAM_REASONS)[number];

/** Object keys of archived files: `archive/<form>/<folder>/<submission>/<n>`, one lifecycle rule per form and folder. */
export const ARCHIVE_KEY_PREFIX = 'archive/';

export function archiveFilePrefix(formId: string, folder: Folder): string {
  return `${ARCHIVE_KEY_PREFIX}${formId}/${folder}/`;
}

export function archiveFileKey(formId: string, folder: Folder, id: string, index: number): string {
  return `${archiveFilePrefix(formId, folder)}${id}/${index}`;
}

export interface ArchivedFile {
  readonly name: string;
  readonly contentType: string;
  readonly size: number;
  /** The object's key; absent when the form does not keep files (`storeFiles: false`). */
  readonly key?: string | undefined;
}

export interface ArchivedSubmission {
  readonly id: string;
  readonly formId: string;
  readonly folder: Folder;
  /** ISO 8601. */
  readonly receivedAt: string;
  /** Epoch seconds after which the submission is gone (TTL). */
  readonly expiresAt: number;
  /** email, name (when given), message, then the other fields in the order they came. */
  readonly fields: ReadonlyArray<readonly [name: string, value: string]>;
  readonly files: ReadonlyArray<ArchivedFile>;
  readonly spamReason?: SpamReason | undefined;
  /** Whether the owner's notification was queued (at once, or when marked not spam). */
  readonly notified: boolean;
  /** The ids of the mail sent for it (notification, autoresponse): their status records go with it on erasure. */
  readonly messageIds: ReadonlyArray<string>;
  /** The keyed hash of the visitor's address (emailIndexKey): the erasure index, never the address. */
  readonly emailKey: string;
}

/** What the send function may do: add submissions. */
export interface SubmissionArchive {
  put(submission: ArchivedSubmission): Promise<void>;
}

export interface ListQuery {
  readonly formId: string;
  readonly folder: Folder;
  /** ISO 8601 bounds on receivedAt, inclusive. */
  readonly since?: string | undefined;
  readonly until?: string | undefined;
  readonly limit: number;
  /** Opaque, from the previous page. */
  readonly cursor?: string | undefined;
}

export interface ArchivePage {
  readonly items: ReadonlyArray<ArchivedSubmission>;
  /** Present when there may be more. */
  readonly cursor?: string | undefined;
}

/** Reading the archive: the API with a `submissions:read` key, and the operator. */
export interface ArchiveReader {
  /** Newest first; expired submissions are left out. Throws BadCursorError for a cursor it did not make. */
  listFolder(query: ListQuery, nowSeconds: number): Promise<ArchivePage>;
  get(id: string, nowSeconds: number): Promise<ArchivedSubmission | undefined>;
}

/** A tombstone: that an erasure happened, when and how much it removed, and nothing about whom. */
export interface ErasureRecord {
  readonly at: string;
  readonly by: 'email' | 'id';
  readonly submissions: number;
  readonly files: number;
  readonly messages: number;
  readonly suppressionLifted: boolean;
}

/** The operator's view (CLI, local page): reads, moves, erases. */
export interface ArchiveAdmin extends ArchiveReader, SubmissionArchive {
  /** Ids of every submission (expired or not) whose emailKey is this. */
  idsByEmailKey(emailKey: string): Promise<string[]>;
  /** Deletes the submission's folder item only (a move: its pointer and index now name the new copy). */
  removeFromFolder(submission: ArchivedSubmission): Promise<void>;
  /** Deletes the submission and its index entries. */
  erase(submission: ArchivedSubmission): Promise<void>;
  /**
   * Sets `notified` on a spam submission unless it is set: true when this call set it. The notification of a
   * submission marked not spam is queued only by the call that set it, so it goes once.
   */
  claimNotification(submission: ArchivedSubmission): Promise<boolean>;
  /** Any submission, expired or not (erasure removes both). */
  getAny(id: string): Promise<ArchivedSubmission | undefined>;
  tombstone(record: ErasureRecord): Promise<void>;
  tombstones(): Promise<ErasureRecord[]>;
}

/** Files of archived submissions: the send function writes them. */
export interface ArchiveFileWriter {
  put(key: string, bytes: Buffer, contentType: string): Promise<void>;
}

/** The operator's view of the files. */
export interface ArchiveFileAdmin extends ArchiveFileWriter {
  fetchArchived(key: string): Promise<Buffer>;
  removeArchived(key: string): Promise<void>;
}

/** What submitting a form needs to archive. */
export interface ArchiveDeps {
  readonly store: SubmissionArchive;
  readonly files?: ArchiveFileWriter | undefined;
  /** The key of the erasure index, a secret (Secrets Manager on AWS): loaded on first use. */
  readonly hashKey: () => Promise<string>;
}

export class BadCursorError extends Error {
  constructor() {
    super('The cursor is not one this API gave.');
    this.name = 'BadCursorError';
  }
}

/**
 * The erasure index key of an address: HMAC-SHA256 under a secret key, so the table holds no address and
 * a copy of it cannot be searched by hashing a list of known addresses (as a plain hash could).
 * Lower-cased: the domain is case-insensitive (RFC 5321 section 2.4), and a request to erase Vera@ should
 * find vera@ too; a local part that differs only in case is, in practice, the same mailbox.
 */
export function emailIndexKey(hashKey: string, address: string): string {
  return createHmac('sha256', hashKey).update(address.trim().toLowerCase(), 'utf8').digest('base64url');
}

export function expiresAtFor(archive: ArchiveConfig, folder: Folder, receivedMs: number): number {
  const days = folder === 'inbox' ? archive.retentionDays : archive.spamRetentionDays;
  return Math.floor(receivedMs / 1000) + days * 86_400;
}

/** The submission's fields as archived: the visitor's text, no form controls (honeypot, captcha token). */
export function archivedFields(submission: FormSubmission): Array<readonly [string, string]> {
  return [
    ['email', submission.email.address],
    ...(submission.name === undefined ? [] : [['name', submission.name] as const]),
    ['message', submission.message],
    ...submission.extra,
  ];
}

export interface KeepRequest {
  readonly form: FormConfig & { archive: ArchiveConfig };
  readonly id: string;
  readonly receivedMs: number;
  readonly submission: FormSubmission;
  readonly files: ReadonlyArray<UploadedFile>;
  readonly folder: Folder;
  readonly spamReason?: SpamReason | undefined;
  readonly messageIds: ReadonlyArray<string>;
}

/**
 * Archives a submission. Never throws: the archive is a copy, and the visitor's mail is already queued (or
 * dropped as spam) when it runs; answering 503 now would make the visitor send twice. A failure is logged.
 */
export async function keepSubmission(request: KeepRequest, deps: ArchiveDeps, log: Log): Promise<boolean> {
  const { form, id, folder } = request;
  try {
    const storeFiles = form.archive.storeFiles && deps.files !== undefined;
    const files: ArchivedFile[] = [];
    for (const [index, file] of request.files.entries()) {
      const key = storeFiles ? archiveFileKey(form.id, folder, id, index) : undefined;
      if (key !== undefined) await deps.files?.put(key, file.content, file.contentType);
      files.push({ name: file.filename, contentType: file.contentType, size: file.content.length, key });
    }
    await deps.store.put({
      id,
      formId: form.id,
      folder,
      receivedAt: new Date(request.receivedMs).toISOString(),
      expiresAt: expiresAtFor(form.archive, folder, request.receivedMs),
      fields: archivedFields(request.submission),
      files,
      spamReason: request.spamReason,
      notified: folder === 'inbox',
      messageIds: request.messageIds,
      emailKey: emailIndexKey(await deps.hashKey(), request.submission.email.address),
    });
    log.info('submission archived', { formId: form.id, jobId: id, outcome: 'archived', folder });
    return true;
  } catch (error) {
    log.error('submission not archived', {
      formId: form.id,
      jobId: id,
      outcome: 'archive-failed',
      error: errorName(error),
    });
    return false;
  }
}

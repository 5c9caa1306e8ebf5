import { DeleteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoClient } from '../functions/adapters/aws-clients';
import { DynamoSubmissionArchive } from '../functions/adapters/dynamodb-archive';
import { DynamoSuppressionList } from '../functions/adapters/dynamodb-suppression';
import { S3ArchiveFiles } from '../functions/adapters/s3-archive-files';
import { createS3Client, S3BlobStore } from '../functions/adapters/s3-blobs';
import { readSecretString } from '../functions/adapters/secrets';
import { createSqsClient } from '../functions/adapters/sqs-client';
import { SqsMailQueue } from '../functions/adapters/sqs-queue';
import { parseSince, toCsv, toNdjson } from '../functions/core/archive/export';
import {
  eraseByEmail,
  eraseById,
  type OperatorDeps,
  releaseSubmission,
  SubmissionNotFoundError,
} from '../functions/core/archive/operator';
import {
  type ArchivedSubmission,
  emailIndexKey,
  FOLDERS,
  type Folder,
} from '../functions/core/archive/submission-archive';
import type { PostroomConfig } from '../functions/core/config/config';
import { KEY_PREFIX } from '../functions/core/table-keys';
import { localArchiveHashKey } from '../local/archive';
import { localConfig, readPostroomContext } from '../local/config-file';
import { LOCAL_NAMES } from '../local/emulators';
import { LocalTemplates } from '../local/templates';
import type { CliIo } from './command';
import { answered } from './errors';
import { networkReason, resolveTarget, type TargetValues, unreachable } from './target';

export interface SubmissionsValues extends TargetValues {
  readonly config?: string | undefined;
  readonly form?: string | undefined;
  readonly format?: string | undefined;
  readonly since?: string | undefined;
  readonly status?: string | undefined;
  readonly email?: string | undefined;
  readonly id?: ReadonlyArray<string> | undefined;
  readonly 'lift-suppression'?: boolean | undefined;
  readonly json?: boolean | undefined;
}

/** How long a file link in an export works: long enough to open it from the file, short enough to leak little. */
const LINK_SECONDS = 15 * 60;

/**
 * `postroom submissions list|show|export|release|erase`: the submission archive, read and erased with the
 * operator's credentials (on AWS the stack's ArchiveOperatorPolicy; docs/privacy.md). Locally, the local
 * stack's archive. Exit 1 for a submission that is not there.
 */
export async function runSubmissionsCommand(
  command: string,
  rest: ReadonlyArray<string>,
  values: SubmissionsValues,
  io: CliIo,
  usage: string,
): Promise<number> {
  if (!['list', 'show', 'export', 'release', 'erase'].includes(command)) {
    io.err(`Unknown command "submissions ${command}".\n\n${usage}`);
    return 2;
  }
  const configPath = values.config ?? 'cdk.json';
  let config: PostroomConfig;
  try {
    config = localConfig(readPostroomContext(configPath), io.env);
  } catch (error) {
    io.err(`${configPath}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 2;
  }
  const folder = (values.status ?? 'inbox') as Folder;
  if (!FOLDERS.includes(folder)) {
    io.err(`--status must be inbox or spam.\n\n${usage}`);
    return 2;
  }
  const format = values.format ?? (command === 'export' ? 'csv' : 'table');
  if (command === 'export' && !['csv', 'ndjson'].includes(format)) {
    io.err(`--format must be csv or ndjson.\n\n${usage}`);
    return 2;
  }
  const now = io.now?.() ?? Date.now();
  const since = values.since === undefined ? undefined : parseSince(values.since, now);
  if (values.since !== undefined && since === undefined) {
    io.err(`--since must be like 30d, 12h, 90m or an ISO 8601 time.\n\n${usage}`);
    return 2;
  }
  // An access request: one person's submissions in every form, found through the erasure index.
  const byEmail = ['list', 'export'].includes(command) && values.email !== undefined;
  if (['list', 'export'].includes(command) && !byEmail) {
    const form = config.forms.find((candidate) => candidate.id === values.form);
    if (form === undefined) {
      io.err(`${command} needs --form ID, one of the forms in ${configPath}.\n\n${usage}`);
      return 2;
    }
    if (form.archive === undefined) {
      io.err(`Form ${form.id} has no archive in ${configPath} (forms[].archive).\n`);
      return 1;
    }
  }
  const id = values.id?.[0] ?? rest[0];
  if (['show', 'release'].includes(command) && id === undefined) {
    io.err(`submissions ${command} needs a submission id.\n\n${usage}`);
    return 2;
  }
  if (command === 'erase' && (values.email === undefined) === (id === undefined)) {
    io.err(`submissions erase needs --email ADDRESS or --id ID (one of them).\n\n${usage}`);
    return 2;
  }

  const target = await resolveTarget(
    values,
    io.env,
    command === 'release' ? ['queueUrl', 'tableName'] : ['tableName'],
  );
  const dynamodb = createDynamoClient(target.aws);
  // Locally the SQS emulator (fauxqs) serves S3 on the same port.
  const s3 = createS3Client({
    ...target.aws,
    endpoints: {
      ...target.aws.endpoints,
      s3: target.kind === 'local' ? target.aws.endpoints?.sqs : target.aws.endpoints?.s3,
    },
  });
  const sqs = command === 'release' ? createSqsClient(target.aws) : undefined;
  try {
    const archiveTable = target.kind === 'local' ? LOCAL_NAMES.archiveTable : target.archiveTableName;
    const bucket = target.kind === 'local' ? LOCAL_NAMES.attachmentsBucket : target.attachmentsBucket;
    if (archiveTable === undefined || bucket === undefined) {
      io.err(`${target.label} has no submission archive: give a form archive settings and deploy.\n`);
      return 3;
    }
    const archive = new DynamoSubmissionArchive(dynamodb, archiveTable);
    const files = new S3ArchiveFiles(s3, bucket, config.archive?.kmsKeyArn);
    const needsKey = values.email !== undefined;
    const hashKey = !needsKey
      ? ''
      : target.kind === 'local'
        ? await localArchiveHashKey(dynamodb, target.tableName ?? LOCAL_NAMES.table)
        : await readSecretString(target.region, target.archiveHashKeySecret ?? '');
    const deps: OperatorDeps = {
      config,
      archive,
      files,
      hashKey,
      queue: sqs && target.queueUrl ? new SqsMailQueue(sqs, target.queueUrl) : undefined,
      // A released notification's files larger than a queue message holds go where the form path puts them.
      blobs: new S3BlobStore(s3, bucket),
      // Rendered from the repository's templates/, as synth compiles them for the send function.
      templates: new LocalTemplates(undefined, config).catalog,
      deleteMessage: (messageId) => deleteMessageRecord(dynamodb, target.tableName ?? '', messageId),
      liftSuppression: (address) =>
        new DynamoSuppressionList(dynamodb, target.tableName ?? '').remove(address),
      nowMs: now,
    };
    const nowSeconds = Math.floor(now / 1000);
    switch (command) {
      case 'list':
      case 'export': {
        const items = byEmail
          ? await ofAddress(archive, emailIndexKey(hashKey, values.email ?? ''), nowSeconds)
          : await everyPage(archive, values.form ?? '', folder, since, nowSeconds);
        if (command === 'list') {
          io.out(values.json ? `${JSON.stringify(items.map(summary))}\n` : listing(items));
          return 0;
        }
        // Files: a short-lived presigned link on AWS; the local emulator's objects are shown by the local page.
        const link = target.kind === 'deployed' ? await presigner(s3, bucket) : undefined;
        io.out(format === 'csv' ? await toCsv(items, link) : await toNdjson(items, link));
        return 0;
      }
      case 'show': {
        const found = await archive.get(id ?? '', nowSeconds);
        if (found === undefined) {
          io.err(`There is no archived submission ${id}.\n`);
          return 1;
        }
        io.out(await toNdjson([found]));
        return 0;
      }
      case 'release': {
        const outcome = await releaseSubmission(id ?? '', deps);
        io.out(
          outcome === 'released'
            ? `Moved ${id} to the inbox and queued its notification.\n`
            : outcome === 'already-notified'
              ? `Moved ${id} to the inbox; its notification had been queued before.\n`
              : `${id} is in the inbox already.\n`,
        );
        return 0;
      }
      default: {
        const record =
          values.email !== undefined
            ? await eraseByEmail(values.email, deps, { liftSuppression: values['lift-suppression'] === true })
            : await eraseById(id ?? '', deps);
        io.out(
          `Erased ${record.submissions} submission(s), ${record.files} file(s) and ${record.messages} message record(s)` +
            `${record.suppressionLifted ? '; lifted the suppression' : ''}. A tombstone records when and how many.\n`,
        );
        return 0;
      }
    }
  } catch (error) {
    if (error instanceof SubmissionNotFoundError) {
      io.err(`${error.message}\n`);
      return 1;
    }
    if (!answered(error)) throw unreachable(target, 'dynamodb', target.aws.endpoints?.dynamodb, error);
    io.err(`The archive could not be read or written (${networkReason(error)}).\n`);
    return 1;
  } finally {
    dynamodb.destroy();
    s3.destroy();
    sqs?.destroy();
  }
}

async function everyPage(
  archive: DynamoSubmissionArchive,
  formId: string,
  folder: Folder,
  since: string | undefined,
  nowSeconds: number,
): Promise<ArchivedSubmission[]> {
  const items: ArchivedSubmission[] = [];
  let cursor: string | undefined;
  do {
    const page = await archive.listFolder({ formId, folder, since, limit: 100, cursor }, nowSeconds);
    items.push(...page.items);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return items;
}

/** Every unexpired submission of an address, in every form and folder, newest first. */
async function ofAddress(
  archive: DynamoSubmissionArchive,
  emailKey: string,
  nowSeconds: number,
): Promise<ArchivedSubmission[]> {
  const found: ArchivedSubmission[] = [];
  for (const id of await archive.idsByEmailKey(emailKey)) {
    const item = await archive.get(id, nowSeconds);
    if (item !== undefined) found.push(item);
  }
  return found.sort((a, b) => b.receivedAt.localeCompare(a.receivedAt));
}

function summary(item: ArchivedSubmission) {
  const email = item.fields.find(([name]) => name === 'email')?.[1] ?? '';
  return {
    id: item.id,
    receivedAt: item.receivedAt,
    folder: item.folder,
    ...(item.spamReason ? { spamReason: item.spamReason } : {}),
    email,
    files: item.files.length,
  };
}

function listing(items: ReadonlyArray<ArchivedSubmission>): string {
  if (items.length === 0) return 'No submissions.\n';
  return `${items
    .map((item) => {
      const s = summary(item);
      return [
        s.receivedAt,
        s.id,
        s.folder + (s.spamReason ? ` (${s.spamReason})` : ''),
        s.email,
        `${s.files} file(s)`,
      ].join('  ');
    })
    .join('\n')}\n`;
}

/** Deletes a message status record (`msg#<id>` in the record table). */
async function deleteMessageRecord(dynamodb: DynamoDBClient, table: string, id: string): Promise<void> {
  await dynamodb.send(
    new DeleteItemCommand({ TableName: table, Key: { pk: { S: `${KEY_PREFIX.msg}${id}` } } }),
  );
}

/**
 * Short-lived links to files on AWS: S3 presigned GETs (the SDK's presigner) signed with the operator's credentials.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/ShareObjectPreSignedURL.html
 */
export async function presigner(
  s3: ReturnType<typeof createS3Client>,
  bucket: string,
): Promise<(key: string) => Promise<string | undefined>> {
  const [{ getSignedUrl }, { GetObjectCommand }] = await Promise.all([
    import('@aws-sdk/s3-request-presigner'),
    import('@aws-sdk/client-s3'),
  ]);
  return (key) =>
    getSignedUrl(s3, new GetObjectCommand({ Bucket: bucket, Key: key }), { expiresIn: LINK_SECONDS });
}

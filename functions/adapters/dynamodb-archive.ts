import {
  type AttributeValue,
  ConditionalCheckFailedException,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { ARCHIVE_KEY } from '../core/archive/archive-keys';
import {
  type ArchiveAdmin,
  type ArchivedFile,
  type ArchivedSubmission,
  type ArchivePage,
  BadCursorError,
  type ErasureRecord,
  FOLDERS,
  type Folder,
  type ListQuery,
  type SpamReason,
} from '../core/archive/submission-archive';

const folderPk = (formId: string, folder: Folder) => `${ARCHIVE_KEY.submission}${formId}#${folder}`;

export class DynamoSubmissionArchive implements ArchiveAdmin {
  constructor(
    private readonly dynamodb: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  async put(submission: ArchivedSubmission): Promise<void> {
    const pk = folderPk(submission.formId, submission.folder);
    const sk = `${submission.receivedAt}#${submission.id}`;
    const expiresAt = { N: String(submission.expiresAt) };
    // No transactions (dynalite has none, and the three items need no atomicity): the pointer and the
    // index are written with the submission, and a read through a pointer to nothing finds nothing.
    await Promise.all([
      this.putItem({
        pk: { S: pk },
        sk: { S: sk },
        id: { S: submission.id },
        formId: { S: submission.formId },
        folder: { S: submission.folder },
        receivedAt: { S: submission.receivedAt },
        expiresAt,
        notified: { BOOL: submission.notified },
        emailKey: { S: submission.emailKey },
        data: {
          S: JSON.stringify({
            fields: submission.fields,
            files: submission.files,
            spamReason: submission.spamReason,
            messageIds: submission.messageIds,
          }),
        },
      }),
      this.putItem({
        pk: { S: `${ARCHIVE_KEY.byId}${submission.id}` },
        sk: { S: '-' },
        subPk: { S: pk },
        subSk: { S: sk },
        expiresAt,
      }),
      this.putItem({
        pk: { S: `${ARCHIVE_KEY.byEmail}${submission.emailKey}` },
        sk: { S: submission.id },
        expiresAt,
      }),
    ]);
  }

  async listFolder(query: ListQuery, nowSeconds: number): Promise<ArchivePage> {
    const pk = folderPk(query.formId, query.folder);
    const from = query.since ?? '0';
    const to = `${query.until ?? '9999'}\uffff`;
    const result = await this.dynamodb.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
        FilterExpression: 'expiresAt > :now',
        ExpressionAttributeValues: {
          ':pk': { S: pk },
          ':from': { S: from },
          ':to': { S: to },
          ':now': { N: String(nowSeconds) },
        },
        ScanIndexForward: false,
        Limit: query.limit,
        ExclusiveStartKey:
          query.cursor === undefined ? undefined : { pk: { S: pk }, sk: { S: readCursor(query.cursor) } },
      }),
    );
    const last = result.LastEvaluatedKey?.sk?.S;
    return {
      items: (result.Items ?? []).map(toSubmission),
      cursor:
        last === undefined ? undefined : Buffer.from(JSON.stringify({ sk: last })).toString('base64url'),
    };
  }

  async get(id: string, nowSeconds: number): Promise<ArchivedSubmission | undefined> {
    const found = await this.getAny(id);
    return found !== undefined && found.expiresAt > nowSeconds ? found : undefined;
  }

  async getAny(id: string): Promise<ArchivedSubmission | undefined> {
    const pointer = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: `${ARCHIVE_KEY.byId}${id}` }, sk: { S: '-' } },
      }),
    );
    const subPk = pointer.Item?.subPk?.S;
    const subSk = pointer.Item?.subSk?.S;
    if (subPk === undefined || subSk === undefined) return undefined;
    const item = await this.dynamodb.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { pk: { S: subPk }, sk: { S: subSk } },
        ConsistentRead: true,
      }),
    );
    return item.Item === undefined ? undefined : toSubmission(item.Item);
  }

  async idsByEmailKey(emailKey: string): Promise<string[]> {
    const ids: string[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.dynamodb.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: `${ARCHIVE_KEY.byEmail}${emailKey}` } },
          ExclusiveStartKey: startKey,
        }),
      );
      for (const item of page.Items ?? []) if (item.sk?.S) ids.push(item.sk.S);
      startKey = page.LastEvaluatedKey;
    } while (startKey !== undefined);
    return ids;
  }

  async erase(submission: ArchivedSubmission): Promise<void> {
    const keys = [
      { pk: folderPk(submission.formId, submission.folder), sk: `${submission.receivedAt}#${submission.id}` },
      { pk: `${ARCHIVE_KEY.byId}${submission.id}`, sk: '-' },
      { pk: `${ARCHIVE_KEY.byEmail}${submission.emailKey}`, sk: submission.id },
    ];
    await Promise.all(
      keys.map(({ pk, sk }) =>
        this.dynamodb.send(
          new DeleteItemCommand({ TableName: this.tableName, Key: { pk: { S: pk }, sk: { S: sk } } }),
        ),
      ),
    );
  }

  async removeFromFolder(submission: ArchivedSubmission): Promise<void> {
    await this.dynamodb.send(
      new DeleteItemCommand({
        TableName: this.tableName,
        Key: {
          pk: { S: folderPk(submission.formId, submission.folder) },
          sk: { S: `${submission.receivedAt}#${submission.id}` },
        },
      }),
    );
  }

  async claimNotification(submission: ArchivedSubmission): Promise<boolean> {
    try {
      await this.dynamodb.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: {
            pk: { S: folderPk(submission.formId, submission.folder) },
            sk: { S: `${submission.receivedAt}#${submission.id}` },
          },
          UpdateExpression: 'SET notified = :yes',
          ConditionExpression: 'attribute_exists(pk) AND notified = :no',
          ExpressionAttributeValues: { ':yes': { BOOL: true }, ':no': { BOOL: false } },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async tombstone(record: ErasureRecord): Promise<void> {
    await this.putItem({
      pk: { S: ARCHIVE_KEY.erasure },
      sk: { S: `${record.at}#${Math.random().toString(36).slice(2, 10)}` },
      record: { S: JSON.stringify(record) },
    });
  }

  async tombstones(): Promise<ErasureRecord[]> {
    const result = await this.dynamodb.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: ARCHIVE_KEY.erasure } },
      }),
    );
    return (result.Items ?? []).map((item) => JSON.parse(item.record?.S ?? '{}') as ErasureRecord);
  }

  private async putItem(item: Record<string, AttributeValue>): Promise<void> {
    await this.dynamodb.send(new PutItemCommand({ TableName: this.tableName, Item: item }));
  }
}

function readCursor(cursor: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { sk?: unknown };
    if (typeof parsed.sk === 'string' && parsed.sk.length <= 200) return parsed.sk;
  } catch {}
  throw new BadCursorError();
}

function toSubmission(item: Record<string, AttributeValue>): ArchivedSubmission {
  const data = JSON.parse(item.data?.S ?? '{}') as {
    fields?: Array<[string, string]>;
    files?: ArchivedFile[];
    spamReason?: SpamReason;
    messageIds?: string[];
  };
  const folder = FOLDERS.find((f) => f === item.folder?.S) ?? 'inbox';
  return {
    id: item.id?.S ?? '',
    formId: item.formId?.S ?? '',
    folder,
    receivedAt: item.receivedAt?.S ?? '',
    expiresAt: Number(item.expiresAt?.N ?? '0'),
    fields: data.fields ?? [],
    files: data.files ?? [],
    spamReason: data.spamReason,
    notified: item.notified?.BOOL === true,
    messageIds: data.messageIds ?? [],
    emailKey: item.emailKey?.S ?? '',
  };
}

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AkismetClient } from '../core/archive/akismet';
import type { ArchiveReader, SubmissionArchive } from '../core/archive/submission-archive';

/**
 * The archive's table adapter and the Akismet client, loaded by the first submission of a form that uses them:
 * a send function whose forms keep nothing and ask no one reads neither at cold start (the 450 KB budget).
 */
export function archiveOnFirstUse(
  dynamodb: DynamoDBClient,
  tableName: string,
): SubmissionArchive & ArchiveReader {
  let store: Promise<SubmissionArchive & ArchiveReader> | undefined;
  const load = () => {
    store ??= import('./dynamodb-archive').then(
      ({ DynamoSubmissionArchive }) => new DynamoSubmissionArchive(dynamodb, tableName),
    );
    return store;
  };
  return {
    put: async (submission) => (await load()).put(submission),
    listFolder: async (query, nowSeconds) => (await load()).listFolder(query, nowSeconds),
    get: async (id, nowSeconds) => (await load()).get(id, nowSeconds),
  };
}

export function akismetOnFirstUse(): AkismetClient {
  let client: Promise<AkismetClient> | undefined;
  return {
    check: async (request) => {
      client ??= import('./akismet-client').then(({ httpAkismetClient }) => httpAkismetClient());
      return (await client).check(request);
    },
  };
}

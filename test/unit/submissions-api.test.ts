import { describe, expect, it } from 'vitest';
import type { SendApiDeps } from '../../functions/core/api/send-api';
import type { ArchiveReader } from '../../functions/core/archive/submission-archive';
import { listSubmissions } from '../../functions/core/archive/submissions-api';
import type { HttpRequest } from '../../functions/core/http';
import { configWith, shippedConfigInput } from '../fakes/config';
import {
  FakeClock,
  MemoryApiKeyStore,
  MemoryGuardStore,
  MemoryMailQueue,
  MemoryMessageStore,
  RecordingLog,
  RecordingMetrics,
  sequentialIds,
} from '../fakes/ports';
import { shippedCatalog } from '../support/templates';

const KEY = 'pr_reader-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';

function setup(archiveReader: ArchiveReader) {
  const apiKeys = new MemoryApiKeyStore();
  apiKeys.add(KEY, 'key_reader');
  const [hash, record] = [...apiKeys.keys][0] ?? [];
  if (hash === undefined || record === undefined) throw new Error('no key');
  apiKeys.keys.set(hash, { ...record, scopes: ['submissions:read'] });
  const forms = (shippedConfigInput().forms as Array<Record<string, unknown>>).map((form) => ({
    ...form,
    archive: {},
  }));
  const log = new RecordingLog();
  return {
    log,
    deps: {
      config: configWith({ forms }),
      queue: new MemoryMailQueue(),
      clock: new FakeClock(Date.UTC(2026, 0, 15, 12, 0, 0)),
      newId: sequentialIds('11111111-1111-4111-8111-111111111111'),
      log,
      metrics: new RecordingMetrics(),
      guards: new MemoryGuardStore(),
      apiKeys,
      messages: new MemoryMessageStore(),
      templates: shippedCatalog,
      archiveReader,
    } satisfies SendApiDeps & { archiveReader: ArchiveReader },
  };
}

const request: HttpRequest = {
  method: 'GET',
  headers: { authorization: `Bearer ${KEY}` },
  body: Buffer.alloc(0),
  sourceIp: '203.0.113.7',
};

describe('Core: GET /v1/forms/{formId}/submissions', () => {
  it('answers 503 with Retry-After when the archive cannot be read, and logs why', async () => {
    // Prepare
    const { deps, log } = setup({
      listFolder: async () => {
        throw Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' });
      },
      get: async () => undefined,
    });

    // Act
    const response = await listSubmissions('contact', request, {}, deps);

    // Assess
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(JSON.parse(response.body)).toMatchObject({
      status: 503,
      detail: 'Submissions cannot be read right now; try again shortly.',
    });
    expect(log.entries).toContainEqual({
      level: 'error',
      message: 'archive read failed',
      attributes: { outcome: 'archive-failed', error: 'TimeoutError' },
    });
  });
});

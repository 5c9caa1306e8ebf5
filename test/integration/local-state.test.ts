import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../functions/adapters/aws-clients';
import { DynamoApiKeyStore } from '../../functions/adapters/dynamodb-api-keys';
import { DynamoSuppressionList } from '../../functions/adapters/dynamodb-suppression';
import { generateApiKey } from '../../functions/core/api/api-keys';
import { StateDirInUseError } from '../../local/state';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';

/**
 * The local stack's state folder: what `npm start` keeps across the restart every configuration change
 * needs. Each test has its own temporary folder, never the project's .postroom.
 */

const MESSAGE = {
  from: 'Postroom <no-reply@example.com>',
  to: 'customer@example.org',
  subject: 'Kept across restarts',
  text: 'Hello',
};

const stateDirs: string[] = [];
function newStateDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'postroom-state-'));
  stateDirs.push(dir);
  return dir;
}

function tableOf(stack: TestStack) {
  const dynamodb = createDynamoClient({
    region: 'us-east-1',
    endpoints: stack.endpoints,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return {
    dynamodb,
    keys: new DynamoApiKeyStore(dynamodb, stack.resources.tableName),
    suppression: new DynamoSuppressionList(dynamodb, stack.resources.tableName),
  };
}

async function send(stack: TestStack, key: string) {
  const response = await fetch(`${stack.apiUrl}/v1/send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(MESSAGE),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('Local stack: state kept across restarts', () => {
  const running: TestStack[] = [];
  const start = async (stateDir: string, options: { fresh?: boolean; apiKey?: string } = {}) => {
    const stack = await startTestStack(testConfig(), { stateDir, ...options });
    running.push(stack);
    return stack;
  };
  const stop = async (stack: TestStack) => {
    running.splice(running.indexOf(stack), 1);
    await stack.stop();
  };

  afterEach(async () => {
    for (const stack of running.splice(0)) await stack.stop();
  });
  afterAll(() => {
    for (const dir of stateDirs) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps API keys, the suppression list and message status across a restart', async () => {
    // Prepare: a key made as `postroom keys create` makes one, a suppressed address, a sent message
    const stateDir = newStateDir();
    const first = await start(stateDir);
    const table = tableOf(first);
    const { key, record } = generateApiKey(new Date(), 'kept');
    await table.keys.create(record);
    await table.suppression.add({
      address: 'bounced@example.org',
      reason: 'bounce',
      at: new Date().toISOString(),
    });
    const sent = await send(first, key);
    expect(sent.status).toBe(202);
    const id = String(sent.body.id);
    await eventually(async () => ((await first.sesEmails()).length === 1 ? true : undefined));
    table.dynamodb.destroy();
    await stop(first);

    // Act
    const second = await start(stateDir);

    // Assess
    const again = await send(second, key);
    expect(again.status).toBe(202);
    const after = tableOf(second);
    expect(await after.suppression.has('bounced@example.org')).toBe(true);
    const status = await fetch(`${second.apiUrl}/v1/messages/${id}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(status.status).toBe(200);
    const history = ((await status.json()) as { history: Array<{ status: string }> }).history;
    expect(history.map((change) => change.status)).toContain('sent');
    after.dynamodb.destroy();
  }, 60_000);

  it('forgets everything when started fresh, and then calls the key unknown, not revoked', async () => {
    const stateDir = newStateDir();
    const first = await start(stateDir);
    const table = tableOf(first);
    const { key, record } = generateApiKey(new Date(), 'forgotten');
    await table.keys.create(record);
    table.dynamodb.destroy();
    await stop(first);

    const second = await start(stateDir, { fresh: true });
    const refused = await send(second, key);

    expect(refused.status).toBe(401);
    expect(refused.body.detail).toBe(
      'The API key is not known to this stack: check that it was created for this stack.',
    );
  }, 60_000);

  it('accepts POSTROOM_API_KEY across restarts, and revokes the old one when the variable changes', async () => {
    const stateDir = newStateDir();
    const first = await start(stateDir, { apiKey: 'pr_first-local-key' });
    expect((await send(first, 'pr_first-local-key')).status).toBe(202);
    await stop(first);

    const same = await start(stateDir, { apiKey: 'pr_first-local-key' });
    expect((await send(same, 'pr_first-local-key')).status).toBe(202);
    await stop(same);

    const changed = await start(stateDir, { apiKey: 'pr_second-local-key' });
    expect((await send(changed, 'pr_second-local-key')).status).toBe(202);
    const old = await send(changed, 'pr_first-local-key');
    expect(old.status).toBe(401);
    expect(old.body.detail).toBe('The API key was revoked.');
  }, 60_000);

  it('refuses a second stack on a state folder in use, and keeps the folder out of git', async () => {
    const stateDir = newStateDir();
    await start(stateDir);

    await expect(start(stateDir)).rejects.toThrow(StateDirInUseError);
    expect(readFileSync(path.join(stateDir, '.gitignore'), 'utf8')).toContain('*');
  }, 60_000);
});

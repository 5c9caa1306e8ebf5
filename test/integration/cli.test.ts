import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../../functions/core/api/api-keys';
import { runCliCaptured } from '../support/cli';
import { startTestStack, type TestStack, testConfig } from '../support/local-stack';

const run = promisify(execFile);

describe('CLI: postroom keys create|list|revoke against a running local stack', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack(testConfig());
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function cli(...argv: string[]) {
    return runCliCaptured([...argv, '--endpoint', stack.endpoints.dynamodb]);
  }

  function send(key: string) {
    return fetch(`${stack.apiUrl}/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({
        from: 'no-reply@example.com',
        to: 'a@example.org',
        subject: 'Hi',
        text: 'Hello',
      }),
    });
  }

  it('creates a key that works at once, lists it without secrets, and revokes it with effect on the next request', async () => {
    const created = await cli('keys', 'create', '--name', 'billing');
    expect(created.code).toBe(0);
    const key = /^(pr_[A-Za-z0-9_-]{43})$/m.exec(created.out)?.[1] ?? '';
    const keyId = /Created API key (key_[A-Za-z0-9_-]+)/.exec(created.out)?.[1] ?? '';
    expect(key).not.toBe('');
    expect((await send(key)).status).toBe(202);

    const listed = await cli('keys', 'list');
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(new RegExp(`^${keyId} +billing +\\d{4}-\\d\\d-\\d\\dT\\S+ +active$`, 'm'));
    expect(listed.out).not.toContain(key);
    expect(listed.out).not.toContain(hashApiKey(key));

    const revoked = await cli('keys', 'revoke', keyId);
    expect(revoked).toMatchObject({ code: 0, out: `Revoked API key ${keyId}.\n` });
    const refused = await send(key);
    expect(refused.status).toBe(401);
    expect(refused.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect((await cli('keys', 'list')).out).toMatch(new RegExp(`^${keyId} .* revoked$`, 'm'));
  });

  it('fails with exit code 1 for an unknown key id and 2 for an unknown command', async () => {
    expect(await cli('keys', 'revoke', 'key_nope')).toMatchObject({
      code: 1,
      err: 'There is no API key key_nope.\n',
    });
    expect((await cli('keys', 'rotate')).code).toBe(2);
  });

  it('runs as bin/postroom.mjs against the port in POSTROOM_DYNAMODB_PORT', async () => {
    const port = new URL(stack.endpoints.dynamodb).port;
    const created = await run(process.execPath, ['bin/postroom.mjs', 'keys', 'create', '--name', 'shim'], {
      env: { ...process.env, POSTROOM_DYNAMODB_PORT: port },
    });
    expect(created.stdout).toMatch(/^pr_[A-Za-z0-9_-]{43}$/m);
    const listed = await run(process.execPath, ['bin/postroom.mjs', 'keys', 'list'], {
      env: { ...process.env, POSTROOM_DYNAMODB_PORT: port },
    });
    expect(listed.stdout).toMatch(/ shim +\S+ +active$/m);
    expect(listed.stderr).toBe('');
  });
});

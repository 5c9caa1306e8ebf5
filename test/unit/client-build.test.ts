import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { buildClient, CLIENT_BUILD } from '../../client/build';
import { REPO_ROOT } from '../../infra/paths';

const run = promisify(execFile);

describe('Package: postroom/client as plain JavaScript', () => {
  it('commits client/index.mjs exactly as npm run build:client builds it from client/index.ts', () => {
    // Assess
    expect(readFileSync(CLIENT_BUILD, 'utf8')).toBe(buildClient());
  });

  it('imports from a plain Node ESM script, without tsx, through the package exports', async () => {
    // Prepare
    const script = `
      import { Postroom } from 'postroom/client';
      const client = new Postroom({ apiKey: 'pr_x', baseUrl: 'http://127.0.0.1:1/' });
      const result = client.webhooks.verify('{}', {}, 'whsec_AAAA');
      console.log(JSON.stringify({ baseUrl: client.baseUrl, error: result.error?.title }));
    `;

    // Act
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH },
    });

    // Assess
    expect(JSON.parse(stdout)).toEqual({
      baseUrl: 'http://127.0.0.1:1',
      error: 'Webhook Verification Failed',
    });
  });
});

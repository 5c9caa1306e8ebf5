import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../support/cli';
import { unusedPort } from '../support/unused-port';

/**
 * Every command pointed at a local stack that is not running: exit 3, and a message that names the
 * variable (as npm start reads it) and the flag that point the CLI elsewhere.
 */
describe('CLI: every command with nothing listening', () => {
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const [api, ses, sqs, dynamodb] = [
      await unusedPort(),
      await unusedPort(),
      await unusedPort(),
      await unusedPort(),
    ];
    env = {
      POSTROOM_API_PORT: String(api),
      POSTROOM_SES_PORT: String(ses),
      POSTROOM_SQS_PORT: String(sqs),
      POSTROOM_DYNAMODB_PORT: String(dynamodb),
    };
  });

  it.each([
    [['keys', 'list']],
    [['keys', 'create', '--name', 'ci']],
    [['keys', 'revoke', 'key_x']],
    [['suppression', 'list']],
    [['suppression', 'remove', 'someone@example.org']],
  ])('postroom %j exits 3 naming POSTROOM_DYNAMODB_PORT and --endpoint', async (argv) => {
    // Act
    const { code, out, err } = await runCliCaptured(argv, env);

    // Assess
    expect(code).toBe(3);
    expect(out).toBe('');
    expect(err).toContain(`Could not reach DynamoDB at http://127.0.0.1:${env.POSTROOM_DYNAMODB_PORT}`);
    expect(err).toContain('npm start');
    expect(err).toContain('POSTROOM_DYNAMODB_PORT');
    expect(err).toContain('--dynamodb-endpoint URL');
  });

  it.each([[['status']], [['dlq', 'list']], [['dlq', 'redrive', '--all']], [['dlq', 'purge', '--yes']]])(
    'postroom %j exits 3 naming POSTROOM_SQS_PORT and --sqs-endpoint',
    async (argv) => {
      // Act
      const { code, err } = await runCliCaptured(argv, env);

      // Assess
      expect(code).toBe(3);
      expect(err).toContain(`Could not reach the queues (SQS) at http://127.0.0.1:${env.POSTROOM_SQS_PORT}`);
      expect(err).toContain('POSTROOM_SQS_PORT');
      expect(err).toContain('--sqs-endpoint URL');
    },
  );

  it('doctor runs every check it can, reports each unreachable part as a FAIL with its fix, and exits 3', async () => {
    // Prepare: a valid configuration of its own (tests never read the project's cdk.json)
    const dir = mkdtempSync(join(tmpdir(), 'postroom-doctor-'));
    const config = join(dir, 'postroom.json');
    writeFileSync(
      config,
      JSON.stringify({
        context: {
          postroom: {
            sender: 'Postroom <no-reply@example.com>',
            forms: [{ id: 'contact', recipients: ['owner@example.com'], subject: 'Hi {{name}}' }],
          },
        },
      }),
    );

    // Act
    const { code, out, err } = await runCliCaptured(['doctor', '--config', config], env);

    // Assess: the configuration was checked, both unreachable parts are FAIL lines with the variable to set
    expect(code).toBe(3);
    expect(out).toMatch(/^OK +config /m);
    expect(out).toMatch(
      new RegExp(`^FAIL +ses account +could not reach SES at http://127.0.0.1:${env.POSTROOM_SES_PORT}`, 'm'),
    );
    expect(out).toMatch(/^FAIL +queues +could not reach the queues \(SQS\)/m);
    expect(out).toMatch(
      /ses account: start the local stack \(npm start\); .*POSTROOM_SES_PORT .*--ses-endpoint URL/,
    );
    expect(out).toMatch(
      /queues: start the local stack \(npm start\); .*POSTROOM_SQS_PORT .*--sqs-endpoint URL/,
    );
    expect(err).toContain('POSTROOM_SES_PORT');
    expect(err).toContain('POSTROOM_SQS_PORT');
  });

  it('doctor --json says the stack was not reachable', async () => {
    const { code, out } = await runCliCaptured(['doctor', '--json', '--config', 'no-such-file.json'], env);

    expect(code).toBe(3);
    const report = JSON.parse(out) as {
      reachable: boolean;
      findings: Array<{ check: string; status: string }>;
    };
    expect(report.reachable).toBe(false);
    expect(report.findings.map((f) => `${f.check} ${f.status}`)).toEqual(
      expect.arrayContaining(['config fail', 'ses account fail', 'queues fail']),
    );
  });

  it('send-test exits 3 before it submits when the status table cannot be reached', async () => {
    // Act
    const { code, err } = await runCliCaptured(['send-test', '--form', 'contact'], env);

    // Assess
    expect(code).toBe(3);
    expect(err).toContain('Nothing was sent.');
    expect(err).toContain('POSTROOM_DYNAMODB_PORT');
  });

  describe('send-test --api URL with an API that answers but no status table to follow', () => {
    let api: Server;
    let posts = 0;
    let apiUrl = '';

    beforeAll(async () => {
      api = createServer((_req, res) => {
        posts++;
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"id":"job-1"}');
      });
      await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve));
      const address = api.address();
      apiUrl = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`;
    });

    afterAll(async () => {
      await new Promise<void>((resolve) => api.close(() => resolve()));
    });

    it('exits 3 before it submits, naming POSTROOM_DYNAMODB_PORT and --endpoint', async () => {
      // Act
      const { code, out, err } = await runCliCaptured(
        ['send-test', '--form', 'contact', '--api', apiUrl],
        env,
      );

      // Assess: nothing was posted, so no mail went out that could not be followed
      expect(code).toBe(3);
      expect(posts).toBe(0);
      expect(out).toBe('');
      expect(err).toMatch(
        /^Nothing was sent\. Could not reach DynamoDB at http:\/\/127\.0\.0\.1:\d+ to follow the message/,
      );
      expect(err).toContain('POSTROOM_DYNAMODB_PORT');
      expect(err).toContain('--dynamodb-endpoint URL');
    });
  });
});

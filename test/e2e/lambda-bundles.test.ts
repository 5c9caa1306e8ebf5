import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../functions/adapters/aws-clients';
import { DynamoSubmissionArchive } from '../../functions/adapters/dynamodb-archive';
import { CONFIG_FILE } from '../../functions/adapters/function-env';
import { S3ArchiveFiles } from '../../functions/adapters/s3-archive-files';
import { createS3Client } from '../../functions/adapters/s3-blobs';
import { emailIndexKey } from '../../functions/core/archive/submission-archive';
import { type PostroomConfig, parseConfig } from '../../functions/core/config/config';
import { functionBuildOptions } from '../../infra/bundling';
import { localArchiveHashKey } from '../../local/archive';
import { functionEnvironment } from '../../local/bundled-functions';
import { contextWithoutRateLimits } from '../../local/config-file';
import { LOCAL_NAMES } from '../../local/emulators';
import {
  type FunctionBundle,
  LambdaFunction,
  readSynthesizedApp,
  type SynthesizedApp,
} from '../../local/lambda-bundles';
import {
  LAMBDA_NODE_MAJOR,
  type LambdaNode,
  requireLambdaNode,
  resolveLambdaNode,
} from '../../local/lambda-node';
import { synthesizeFunctions } from '../../local/synth-functions';
import { RecordingLog } from '../fakes/ports';
import { formPostEvent } from '../support/api-gateway';
import { eventually, startTestStack, TEST_RELAY, type TestStack } from '../support/local-stack';
import { MULTIPART_TYPE, multipartBody } from '../support/multipart';
import { expectThrottlingRetried, formToInboxScenarios, sendApiScenarios } from '../support/scenarios';
import { startThrottledSesPeer, type ThrottledSesPeer } from '../support/throttled-ses-peer';
import { newWebhookSecret, WebhookReceiver } from '../support/webhook-receiver';

/**
 * The functions as Lambda runs them: the bundles `cdk synth` builds (one synth of a fixture configuration,
 * never cdk.json), each in processes of its own on the Lambda runtime's Node (22), with the environment the
 * template gives it. The scenarios are those the sources run in test/integration (test/support/scenarios.ts).
 */
const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'local-pipeline.cdk.json');
const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;
// One webhook endpoint, a receiver on loopback verifying with standardwebhooks: the dispatcher runs from its
// bundle too, and the producers (send, relay, events) publish from theirs. Its URL is known once the receiver
// listens, before the synth that ships it in the bundles.
const receiver = new WebhookReceiver();
const WEBHOOK_SECRET = newWebhookSecret();
const WEBHOOK_SECRETS = { bundles: WEBHOOK_SECRET };
let RAW_CONFIG: Record<string, unknown>;

let workDir: string;
let node: LambdaNode;
let app: SynthesizedApp;

beforeAll(async () => {
  await receiver.start();
  receiver.verifyWith('/bundles', WEBHOOK_SECRET);
  RAW_CONFIG = {
    ...contextWithoutRateLimits(FIXTURE),
    relay: TEST_RELAY,
    // A form that keeps its submissions and their files: the send bundle archives as on AWS.
    forms: [
      ...contextWithoutRateLimits(FIXTURE).forms,
      {
        id: 'kept',
        recipients: ['owner@example.com'],
        subject: 'Kept',
        files: { allowedTypes: ['text/plain'] },
        archive: { retentionDays: 30, spamRetentionDays: 7, storeFiles: true },
      },
    ],
    webhooks: [
      {
        id: 'bundles',
        url: `${receiver.url}/bundles`,
        events: ['submission.received', 'email.sent'],
        secret: 'postroom/webhooks/bundles',
      },
    ],
  };
  workDir = mkdtempSync(path.join(tmpdir(), 'postroom-lambda-bundles-'));
  app = readSynthesizedApp(synthesizeFunctions(RAW_CONFIG, path.join(workDir, 'cdk.out')));
  return async () => {
    rmSync(workDir, { recursive: true, force: true });
    await receiver.stop();
  };
}, 120_000);

beforeAll(async () => {
  // Under CI the bundles run on Node 22 or the file fails with the reason; elsewhere a machine without one
  // runs them on its own Node, and the runtime test below says so.
  node = process.env.CI === 'true' ? await requireLambdaNode() : await resolveLambdaNode();
  if (node.source === 'current') console.warn(`lambda bundles on ${node.version}: ${node.fallbackReason}`);
}, 300_000);

describe("Lambda bundles: send, relay and events from cdk synth, on the Lambda runtime's Node", () => {
  let stack: TestStack;
  const config = (): PostroomConfig => parseConfig(RAW_CONFIG);

  beforeAll(async () => {
    stack = await startTestStack(config(), {
      apiKey: API_KEY,
      functions: { cdkOut: app.cdkOut, node: node.path },
      webhookSecrets: WEBHOOK_SECRETS,
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it(`runs the functions on Node ${LAMBDA_NODE_MAJOR}, the runtime the template names`, () => {
    expect(app.functions.send.runtime).toBe(`nodejs${LAMBDA_NODE_MAJOR}.x`);
    const started = stack.log.entries.find(
      (entry) => entry.message === 'functions running from their bundles',
    );
    // The version the function's own process reports, not the one the resolver expected.
    expect(started?.attributes.nodeVersion).toBe(node.version);
    if (node.source === 'current') expect(node.fallbackReason).toBeTruthy();
    else expect(node.version).toMatch(new RegExp(`^v${LAMBDA_NODE_MAJOR}\\.`));
  });

  describe('form to inbox', () => {
    formToInboxScenarios(() => stack);
  });

  it('runs the webhook dispatcher from its bundle: a submission and its mail arrive signed at the receiver', async () => {
    // Act
    const response = await fetch(`${stack.apiUrl}/v1/forms/contact`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'visitor@example.org', name: 'Vera', message: `Hi ${randomUUID()}` }),
    });
    expect(response.status).toBe(202);
    const { id } = (await response.json()) as { id: string };

    // Assess: both events, verified with the endpoint's secret, posted by the bundled dispatcher
    const hook = (type: string) =>
      eventually(
        async () =>
          receiver
            .at('/bundles')
            .find(
              (h) =>
                h.verified?.type === type &&
                (h.verified.data.submissionId === id || h.verified.data.messageId === id),
            ),
        30_000,
        `${type} at the receiver`,
      );
    expect((await hook('submission.received')).verified?.data).toMatchObject({ formId: 'contact' });
    expect((await hook('email.sent')).verified?.data).toMatchObject({ formId: 'contact', status: 'sent' });
    // The dispatcher logs the delivery once it has recorded it, after the receiver answered: wait for the line.
    await eventually(
      async () =>
        stack.log.entries.find(
          (entry) =>
            entry.message === 'webhook delivered' &&
            entry.attributes.function_name === 'postroom-webhooks' &&
            entry.attributes.type === 'email.sent',
        ),
      10_000,
      'the bundled dispatcher\'s "webhook delivered" line',
    );
  }, 60_000);

  describe('API: send and read the status back', () => {
    sendApiScenarios(() => stack, API_KEY);
  });

  it('archives a submission and its file from the bundled send function, indexed under the local erasure key', async () => {
    // Prepare
    const marker = randomUUID();
    const address = `kept-${marker.slice(0, 8)}@example.org`;
    const body = multipartBody([
      { name: 'email', value: address },
      { name: 'message', value: `Kept ${marker}` },
      { name: 'upload', filename: 'notes.txt', contentType: 'text/plain', content: Buffer.from(marker) },
    ]);
    const aws = {
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      endpoints: { dynamodb: stack.endpoints.dynamodb, s3: stack.endpoints.s3 },
    };
    const dynamodb = createDynamoClient(aws);
    const s3 = createS3Client(aws);

    try {
      // Act
      const response = await fetch(`${stack.apiUrl}/v1/forms/kept`, {
        method: 'POST',
        headers: { 'content-type': MULTIPART_TYPE, accept: 'application/json' },
        body,
      });

      // Assess: the archive item (the CLI's archive: table, bucket, key), its file's bytes, its index entry
      expect(response.status).toBe(202);
      const { id } = (await response.json()) as { id: string };
      const archive = new DynamoSubmissionArchive(dynamodb, LOCAL_NAMES.archiveTable);
      const kept = await archive.get(id, Math.floor(Date.now() / 1000));
      expect(kept).toMatchObject({ formId: 'kept', folder: 'inbox', notified: true });
      expect(kept?.fields).toContainEqual(['message', `Kept ${marker}`]);
      const key = kept?.files[0]?.key ?? '';
      expect(key).toMatch(/^archive\/kept\/inbox\//);
      const files = new S3ArchiveFiles(s3, LOCAL_NAMES.attachmentsBucket);
      expect((await files.fetchArchived(key)).toString()).toBe(marker);
      const hashKey = await localArchiveHashKey(dynamodb, stack.resources.tableName);
      expect(await archive.idsByEmailKey(emailIndexKey(hashKey, address))).toEqual([id]);
    } finally {
      dynamodb.destroy();
      s3.destroy();
    }
  }, 60_000);
});

describe('Lambda bundles: relay retry against a provider that throttles', () => {
  let peer: ThrottledSesPeer;
  let stack: TestStack;
  let config: PostroomConfig;

  beforeAll(async () => {
    // Low enough that a relay batch exceeds it even when a loaded machine slows the relay down.
    peer = await startThrottledSesPeer({ ratePerSecond: 2 });
    config = parseConfig(RAW_CONFIG);
    stack = await startTestStack(config, {
      webhookSecrets: WEBHOOK_SECRETS,
      functions: {
        cdkOut: app.cdkOut,
        node: node.path,
        sesTarget: peer.url,
        // The SDK in the bundle retries a throttle itself three times; one attempt lets it reach the relay.
        environment: { AWS_MAX_ATTEMPTS: '1' },
      },
    });
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
    await peer?.close();
  });

  it('takes the throttle as retryable and never sends a mail twice', async () => {
    await expectThrottlingRetried(stack, peer, config, 12);
  }, 60_000);
});

describe('Lambda bundles: a bundling mistake fails, it does not hang', () => {
  const log = new RecordingLog();
  const env = (bundle: FunctionBundle) => ({
    ...functionEnvironment(app, 'send', {
      config: parseConfig(RAW_CONFIG),
      // Nothing listens here: init and the failing invocations must fail before any AWS call.
      endpoints: {
        sqs: 'http://127.0.0.1:9',
        s3: 'http://127.0.0.1:9',
        ses: 'http://127.0.0.1:9',
        dynamodb: 'http://127.0.0.1:9',
      },
      resources: {
        queueUrl: 'http://127.0.0.1:9/000000000000/postroom-mail',
        deadLetterQueueUrl: 'http://127.0.0.1:9/000000000000/postroom-mail-dlq',
        tableName: 'postroom',
        attachmentsBucket: 'postroom-attachments',
      },
      home: workDir,
      webhooks: {
        queueUrl: 'http://127.0.0.1:9/000000000000/postroom-webhooks',
        deadLetterQueueUrl: 'http://127.0.0.1:9/000000000000/postroom-webhooks-dlq',
      },
    }),
    LAMBDA_TASK_ROOT: bundle.codeDir,
  });
  /** A copy of the send function's asset, changed by `breakIt`, run as the stack runs it. */
  function brokenSend(breakIt: (codeDir: string) => void): LambdaFunction {
    const codeDir = mkdtempSync(path.join(workDir, 'broken-send-'));
    cpSync(app.functions.send.codeDir, codeDir, { recursive: true });
    breakIt(codeDir);
    const bundle = { ...app.functions.send, codeDir };
    return new LambdaFunction({
      bundle,
      functionName: 'postroom-send',
      node: node.path,
      environment: env(bundle),
      log,
      initTimeoutMs: 30_000,
    });
  }

  it('reports a missing config.json as the init error that names it', async () => {
    const send = brokenSend((codeDir) => rmSync(path.join(codeDir, CONFIG_FILE)));
    try {
      await expect(send.warm()).rejects.toThrow(/ConfigError.*config\.json.*missing/s);
      // Two invocations at once on one environment's place: each fails with the init error, none waits.
      const both = await Promise.allSettled([send.invoke({}), send.invoke({})]);
      expect(both.map((result) => result.status)).toEqual(['rejected', 'rejected']);
      expect(String((both[1] as PromiseRejectedResult).reason)).toMatch(/config\.json/);
    } finally {
      await send.stop();
    }
  }, 60_000);

  it('reports a missing lazily loaded chunk when the invocation that needs it runs', async () => {
    // The multipart parser (busboy, known by its error message) is in a chunk of its own loaded with import()
    // on the first multipart post: by the entry, or by a chunk the entry loads (the form code's shared chunk).
    const send = brokenSend((codeDir) => {
      const chunks = path.join(codeDir, 'chunks');
      const code = [
        readFileSync(path.join(codeDir, 'index.mjs'), 'utf8'),
        ...readdirSync(chunks).map((file) => readFileSync(path.join(chunks, file), 'utf8')),
      ];
      const lazilyLoaded = (file: string) =>
        code.some(
          (text) => text.includes(`import("./chunks/${file}")`) || text.includes(`import("./${file}")`),
        );
      const parser = readdirSync(chunks).filter(
        (file) =>
          lazilyLoaded(file) &&
          readFileSync(path.join(chunks, file), 'utf8').includes('Multipart: Boundary not found'),
      );
      expect(parser).toHaveLength(1);
      rmSync(path.join(chunks, parser[0] as string));
    });
    const intact = brokenSend(() => {});
    const boundary = 'postroom-broken-bundle';
    const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="email"\r\n\r\nx@example.org\r\n--${boundary}--\r\n`;
    const event = formPostEvent({
      contentType: `multipart/form-data; boundary=${boundary}`,
      body: multipart,
      sourceIp: '203.0.113.9',
    });
    const unhandled = () => log.entries.filter((entry) => entry.message === 'unhandled error');
    try {
      // The intact copy parses the post (and answers what the fields call for) without an unhandled error.
      const control = (await intact.invoke(event)) as { statusCode: number };
      expect(control.statusCode).not.toBe(500);
      expect(unhandled()).toEqual([]);

      // The handler turns the failed import() into a 500 problem and logs it: an error, not a hang.
      const broken = (await send.invoke(event)) as { statusCode: number };
      expect(broken.statusCode).toBe(500);
      expect(unhandled()).toHaveLength(1);
    } finally {
      await Promise.all([send.stop(), intact.stop()]);
    }
  }, 60_000);

  it('reports a needed package left out of the bundle (marked external) as an import error at init', async () => {
    const send = brokenSend((codeDir) => {
      rmSync(codeDir, { recursive: true, force: true });
      const options = functionBuildOptions('send', codeDir);
      buildSync({ ...options, external: ['@middy/core'], logLevel: 'silent' });
      writeFileSync(
        path.join(codeDir, CONFIG_FILE),
        readFileSync(path.join(app.functions.send.codeDir, CONFIG_FILE)),
      );
    });
    try {
      await expect(send.warm()).rejects.toThrow(/@middy\/core/);
    } finally {
      await send.stop();
    }
  }, 60_000);
});

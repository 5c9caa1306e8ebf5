import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/config';
import { bundleFunction } from '../../infra/bundling';
import { contextWithoutRateLimits } from '../../local/config-file';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';
import { formPostEvent } from '../support/api-gateway';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';

const run = promisify(execFile);

/**
 * The send function as deployed (built by infra/bundling.ts, as `cdk synth` builds it), imported by a fresh
 * Node process with nothing but Lambda's environment: credentials in AWS_ACCESS_KEY_ID/SECRET, the SDK's
 * service endpoint variables pointing at the emulators, and a HOME without AWS config files. It proves the
 * credentials stand-in and the lazily loaded chunks work in the artifact itself, not only under tsx.
 */

/**
 * Imports the bundle, invokes its handler once per event given, and prints each response on a marked line.
 * fauxqs names its queues on sqs.<region>.localhost and the SQS client sends to the queue URL's host, which
 * this machine's resolver does not know: the harness (not the artifact) answers *.localhost with loopback.
 */
const INVOKE = `
import dns from 'node:dns';
const lookup = dns.lookup;
dns.lookup = (host, ...rest) => lookup(host.endsWith('.localhost') ? '127.0.0.1' : host, ...rest);
const { handler } = await import(process.env.BUNDLE_URL);
const context = {
  functionName: 'postroom-send',
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:postroom-send',
  memoryLimitInMB: '256',
  awsRequestId: 'bundled-send-test',
  getRemainingTimeInMillis: () => 10000,
};
for (const event of JSON.parse(process.env.EVENTS)) {
  const response = await handler(event, context);
  process.stdout.write('\\nRESPONSE ' + JSON.stringify(response) + '\\n');
}
`;

const API_KEY = 'pr_bundled-send-test-key-aaaaaaaaaaaaaaaaaaaaaaaaaaaa';

/** The send function's budget for the code a cold start reads (bench/cold-start.ts sets the same). */
const EAGER_BUDGET_BYTES = 450 * 1024;

/** `POST /v1/send` with a template, as API Gateway hands it over. */
function templatedSendEvent(): APIGatewayProxyEvent {
  const event = formPostEvent({
    contentType: 'application/json',
    sourceIp: '203.0.113.9',
    headers: { Authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({
      from: 'no-reply@example.com',
      to: 'ada@example.org',
      template: { id: 'welcome', variables: { name: 'Bundled Ada', actionUrl: 'https://example.com/go' } },
    }),
  });
  return { ...event, resource: '/v1/send', path: '/v1/send', pathParameters: null };
}

/** `POST /resend/emails` as Resend's SDK sends it, through API Gateway. */
function resendSendEvent(): APIGatewayProxyEvent {
  const event = formPostEvent({
    contentType: 'application/json',
    sourceIp: '203.0.113.9',
    headers: { Authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify({
      from: 'no-reply@example.com',
      to: ['grace@example.org'],
      reply_to: ['support@example.com'],
      subject: 'Bundled Resend-compatible send',
      text: 'Sent through the lazily loaded Resend translation.',
    }),
  });
  return { ...event, resource: '/resend/emails', path: '/resend/emails', pathParameters: null };
}

/** `GET /v1/openapi.json`, public, as API Gateway hands it over. */
function openApiEvent(): APIGatewayProxyEvent {
  const event = formPostEvent({ contentType: 'application/json', body: '', sourceIp: '203.0.113.9' });
  return {
    ...event,
    httpMethod: 'GET',
    body: null,
    resource: '/v1/openapi.json',
    path: '/v1/openapi.json',
    pathParameters: null,
  };
}

function formEvent(contentType: string, body: string) {
  return formPostEvent({ contentType, body, sourceIp: '203.0.113.9' });
}

describe('Artifact: the bundled send function in a fresh Node process (dynalite, fauxqs, aws-ses-v2-local)', () => {
  let stack: TestStack;
  let workDir: string;
  let bundleUrl: string;
  /** The input files of each chunk the entry loads by import(), one string per chunk. */
  let lazyChunks: string[];
  let metafile: Metafile;

  beforeAll(async () => {
    stack = await startTestStack(testConfig(), { apiKey: API_KEY });
    workDir = mkdtempSync(path.join(tmpdir(), 'postroom-bundled-send-'));
    ({ metafile } = bundleFunction(
      'send',
      path.join(workDir, 'send'),
      parseConfig(contextWithoutRateLimits(FIXTURE_CONFIG_FILE)),
    ));
    // The SDK's credential chain was swapped for the environment provider.
    const inputs = Object.keys(metafile.inputs);
    expect(inputs.some((input) => input.includes('credential-provider-node/'))).toBe(false);
    expect(inputs.some((input) => input.endsWith('functions/adapters/lambda-credentials.ts'))).toBe(true);
    bundleUrl = pathToFileURL(path.join(workDir, 'send', 'index.mjs')).href;
    lazyChunks = Object.entries(metafile.outputs)
      .filter(([file]) => file.includes('/chunks/') && file.endsWith('.mjs'))
      .map(([, output]) => Object.keys(output.inputs).join('\n'));
    const entry = Object.entries(metafile.outputs).find(([file]) => file.endsWith('/index.mjs'))?.[1];
    expect(Object.keys(entry?.inputs ?? {}).some((input) => input.includes('node_modules/busboy/'))).toBe(
      false,
    );
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
  });

  it('accepts a JSON and a multipart submission, a templated send and a Resend-compatible send, and the relay delivers them', async () => {
    // Prepare
    const boundary = 'postroom-bundled-test';
    const multipart = [
      ['name', 'Multipart Visitor'],
      ['email', 'multipart@example.org'],
      ['message', 'Sent as multipart/form-data, parsed by the lazily loaded parser.'],
    ]
      .map(
        ([name, value]) =>
          `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`,
      )
      .join('')
      .concat(`--${boundary}--\r\n`);
    const events = [
      formEvent(
        'application/json',
        JSON.stringify({
          name: 'Json Visitor',
          email: 'json@example.org',
          message: 'Sent as JSON to the bundle.',
        }),
      ),
      formEvent(`multipart/form-data; boundary=${boundary}`, multipart),
      templatedSendEvent(),
      resendSendEvent(),
      openApiEvent(),
    ];
    const home = path.join(workDir, 'home');

    // Act
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', INVOKE], {
      cwd: workDir,
      timeout: 60_000,
      env: {
        PATH: process.env.PATH,
        HOME: home,
        BUNDLE_URL: bundleUrl,
        EVENTS: JSON.stringify(events),
        TABLE_NAME: stack.resources.tableName,
        MAIL_QUEUE_URL: stack.resources.queueUrl,
        AWS_REGION: 'us-east-1',
        AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
        AWS_SESSION_TOKEN: 'bundled-send-test',
        // Service-specific endpoints, read by the SDK itself: the artifact is not changed to reach them.
        AWS_ENDPOINT_URL_SQS: stack.endpoints.sqs,
        AWS_ENDPOINT_URL_DYNAMODB: stack.endpoints.dynamodb,
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        POWERTOOLS_LOG_LEVEL: 'WARN',
      },
    });
    const responses = stdout
      .split('\n')
      .filter((line) => line.startsWith('RESPONSE '))
      .map((line) => JSON.parse(line.slice('RESPONSE '.length)) as { statusCode: number; body: string });

    // Assess
    expect(
      responses.map((response) => response.statusCode),
      stdout + stderr,
    ).toEqual([202, 202, 202, 200, 200]);
    // The OpenAPI document, from its lazily loaded chunk, is the committed file.
    expect(JSON.parse(responses[4]?.body ?? '{}')).toEqual(
      JSON.parse(readFileSync(path.join(import.meta.dirname, '../../openapi.json'), 'utf8')),
    );
    const emails = await eventually(async () => {
      const found = (await stack.sesEmails()).filter((email) => email.subject.startsWith('New message from'));
      return found.length === 2 ? found : undefined;
    }, 15_000);
    expect(emails.map((email) => email.subject).sort()).toEqual([
      'New message from Json Visitor',
      'New message from Multipart Visitor',
    ]);
    expect(emails.every((email) => email.destination.to.includes('owner@example.com'))).toBe(true);
    // The notifications were rendered from the form-notification template of templates.mjs.
    for (const email of emails) {
      expect(email.body.html).toMatch(/<div class="label"[^>]*>Message<\/div>/);
      expect(email.body.text).toMatch(/^Message: Sent as /m);
    }
    // The templated send was rendered from templates.mjs by the lazily loaded runtime.
    const welcome = await eventually(async () => {
      const found = (await stack.sesEmails()).find((email) => email.subject === 'Welcome, Bundled Ada');
      return found;
    }, 15_000);
    expect(welcome.destination.to).toContain('ada@example.org');
    const resent = await eventually(
      async () =>
        (await stack.sesEmails()).find((email) => email.subject === 'Bundled Resend-compatible send'),
      15_000,
    );
    expect(resent.replyTo).toEqual(['support@example.com']);
    // The multipart post was parsed by code from a chunk of its own, not from the entry file.
    expect(lazyChunks.some((chunk) => chunk.includes('node_modules/busboy/'))).toBe(true);
  }, 90_000);

  it('keeps the template runtime, the form mail renderer and the Scheduler client out of the cold start, within the 450 KB budget, in three files', () => {
    // What the entry loads by static import, transitively: the code every cold start reads.
    const outputs = metafile.outputs;
    const entry = Object.keys(outputs).find((file) => file.endsWith('/index.mjs')) ?? '';
    const eager = new Set([entry]);
    for (const file of eager)
      for (const imported of outputs[file]?.imports ?? [])
        if (imported.kind === 'import-statement' && !imported.external) eager.add(imported.path);
    const inputsOf = (files: string[]) => files.flatMap((file) => Object.keys(outputs[file]?.inputs ?? {}));
    const coldStart = inputsOf([...eager]);
    const later = inputsOf(Object.keys(outputs).filter((file) => file.endsWith('.mjs') && !eager.has(file)));
    const eagerBytes = [...eager].reduce((sum, file) => sum + (outputs[file]?.bytes ?? 0), 0);

    expect(
      coldStart.filter((input) =>
        /node_modules\/handlebars\/|core\/templates\/(render|declaration)|core\/forms\/form-mail/.test(input),
      ),
    ).toEqual([]);
    expect(later.some((input) => input.includes('node_modules/handlebars/dist/cjs/handlebars.runtime'))).toBe(
      true,
    );
    expect(later.some((input) => input.endsWith('functions/core/templates/render.ts'))).toBe(true);
    // The Resend-compatible translation loads with the first /resend request (docs/resend.md).
    expect(coldStart.filter((input) => input.includes('functions/core/resend/'))).toEqual([]);
    expect(later.some((input) => input.endsWith('functions/core/resend/resend-api.ts'))).toBe(true);
    // The form path renders its mail from a chunk too: a form's cold start reads no template code.
    expect(later.some((input) => input.endsWith('functions/core/forms/form-mail.ts'))).toBe(true);
    // The compiler never ships, nor MJML.
    expect(
      [...coldStart, ...later].some((input) =>
        /handlebars\/compiler|node_modules\/(juice|html-to-text|mjml[a-z-]*)\//.test(input),
      ),
    ).toBe(false);
    // The EventBridge Scheduler client and its adapter load with the first mail scheduled more than 15
    // minutes ahead, or canceled (docs/performance.md): a module the entry imports statically must not
    // import them, even for a helper.
    for (const scheduler of [
      'node_modules/@aws-sdk/client-scheduler/',
      'functions/adapters/eventbridge-scheduler.ts',
    ]) {
      expect(coldStart.filter((input) => input.includes(scheduler))).toEqual([]);
      expect(later.some((input) => input.includes(scheduler))).toBe(true);
    }
    // The OpenAPI document (43 KB in the bundle) is read on its first request only.
    expect(coldStart.some((input) => input.endsWith('openapi.json'))).toBe(false);
    expect(later.some((input) => input.endsWith('openapi.json'))).toBe(true);
    expect(eagerBytes).toBeLessThanOrEqual(EAGER_BUDGET_BYTES);
    // Few files, not a chunk for each set of lazy modules sharing cold-start code: each file Node resolves,
    // reads, compiles and links costs about 2 ms of CPU time (infra/bundling.ts buildInOneColdStartChunk).
    // The entry, one chunk with every module of the cold start (the SDK's pieces that lazily loaded SDK
    // modules share too), and esbuild's helpers.
    const codeChunks = [...eager].filter((file) => Object.keys(outputs[file]?.inputs ?? {}).length > 0);
    expect(codeChunks.length, codeChunks.join('\n')).toBeLessThanOrEqual(2);
    expect(eager.size, [...eager].join('\n')).toBeLessThanOrEqual(3);
  });
});

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DynamoApiKeyStore } from '../../functions/adapters/dynamodb-api-keys';
import { generateApiKey } from '../../functions/core/api/api-keys';
import { HONEYPOT_FIELD } from '../../functions/core/forms/form-submission';
import { SAMPLE_MESSAGE_ID, SAMPLE_SCHEDULED_AT } from '../../infra/openapi/document';
import { contextWithoutRateLimits } from '../../local/config-file';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';
import { startTestStack, type TestStack, testConfig } from '../support/local-stack';

/**
 * Every example of openapi.json, sent to the local stack: each request example (or, for an operation without
 * a body, each path parameter example) is paired with the response example of the same name, and must be
 * answered with that response's status and a body that validates against its documented schema. Query
 * parameters with an example of the case's name are sent too. The document's sample message id and time
 * stand for ones this test makes: a message it scheduled, a day ahead. A keyed operation is called with a
 * key that has the scope its security requirement names, except in a `withoutScope` case: then with a key
 * that has none of them. The fixture's contact form keeps its submissions (`archive`), for the archive route.
 */

type Json = Record<string, unknown>;
const ROOT = path.resolve(import.meta.dirname, '../..');
const DOCUMENT = JSON.parse(readFileSync(path.join(ROOT, 'openapi.json'), 'utf8')) as Json;
/** The stack's own key: `send`, as a key made without --scope. */
const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;
/** The case whose key lacks the operation's scope. */
const WITHOUT_SCOPE = 'withoutScope';
const METHODS = ['get', 'post', 'patch'] as const;

function resolve(node: unknown): Json {
  let current = node as Json;
  while (typeof current?.$ref === 'string') {
    current = (current.$ref as string)
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((at, part) => (at as Json)[part.replace(/~1/g, '/')], DOCUMENT) as Json;
  }
  return current;
}

function dereference(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(dereference);
  if (typeof node !== 'object' || node === null) return node;
  if (typeof (node as Json).$ref === 'string') return dereference(resolve(node));
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, dereference(value)]));
}

interface Case {
  readonly name: string;
  readonly method: (typeof METHODS)[number];
  readonly route: string;
  readonly operation: Json;
}

/** Each operation's named cases: its request body examples, else its path parameter examples, else one. */
function cases(): Case[] {
  const paths = DOCUMENT.paths as Record<string, Json>;
  return Object.entries(paths).flatMap(([route, item]) =>
    METHODS.filter((method) => item[method] !== undefined).flatMap((method) => {
      const operation = item[method] as Json;
      const body = resolve(operation.requestBody ?? {}).content as Record<string, Json> | undefined;
      const bodyExamples = Object.keys((body?.['application/json']?.examples ?? {}) as Json);
      const parameterExamples = ((operation.parameters ?? []) as unknown[])
        .map(resolve)
        .filter((parameter) => parameter.in === 'path')
        .flatMap((parameter) => Object.keys((parameter.examples ?? {}) as Json));
      const names =
        bodyExamples.length > 0
          ? bodyExamples
          : parameterExamples.length > 0
            ? parameterExamples
            : ['default'];
      return names.map((name) => ({ name, method, route, operation }));
    }),
  );
}

/** The status whose response has an example of this name (the first 2xx for `default`), and its JSON schema. */
function expected(testCase: Case): { status: number; schema: unknown } {
  const responses = testCase.operation.responses as Record<string, unknown>;
  for (const [status, raw] of Object.entries(responses)) {
    const content = (resolve(raw).content ?? {}) as Record<string, Json>;
    for (const media of Object.values(content)) {
      const examples = (media.examples ?? {}) as Json;
      if (testCase.name in examples) return { status: Number(status), schema: media.schema };
    }
  }
  if (testCase.name === 'default') {
    const [status, raw] = Object.entries(responses).find(([code]) => code.startsWith('2')) ?? [];
    const media = Object.values((resolve(raw).content ?? {}) as Record<string, Json>)[0];
    if (status !== undefined && media !== undefined) return { status: Number(status), schema: media.schema };
  }
  throw new Error(
    `${testCase.method.toUpperCase()} ${testCase.route}: no response example named ${testCase.name}`,
  );
}

describe('OpenAPI: every example against the local stack', () => {
  let stack: TestStack;
  const ajv = new Ajv2020({ strict: false, allErrors: true });

  /** Keys by scope: the stack's `send` key, and one made as `keys create --scope submissions:read` makes it. */
  const keys = new Map<string, string>([['send', API_KEY]]);

  beforeAll(async () => {
    const fixture = contextWithoutRateLimits(FIXTURE_CONFIG_FILE);
    stack = await startTestStack(
      testConfig({ forms: fixture.forms.map((form) => ({ ...form, archive: {} })) }),
      { apiKey: API_KEY },
    );
    const { key, record } = generateApiKey(new Date(), 'reader', undefined, ['submissions:read']);
    const dynamodb = new DynamoDBClient({
      region: 'us-east-1',
      endpoint: stack.endpoints.dynamodb,
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    });
    await new DynamoApiKeyStore(dynamodb, stack.resources.tableName).create(record);
    dynamodb.destroy();
    keys.set('submissions:read', key);
    // One submission in each folder of the contact form, so that the archive's pages are not empty.
    for (const fields of [
      { email: 'vera@example.org', name: 'Vera', message: 'Archived, please.' },
      { email: 'bot@example.net', message: 'Bot', [HONEYPOT_FIELD]: 'filled' },
    ]) {
      const response = await fetch(`${stack.apiUrl}/v1/forms/contact`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(fields),
      });
      expect(response.status).toBe(202);
    }
  }, 60_000);

  /** The key to call an operation with: one with a scope it requires, or, for `withoutScope`, one without. */
  function keyFor(testCase: Case): string | undefined {
    const required = ((testCase.operation.security ?? []) as Array<Record<string, string[]>>).flatMap(
      (requirement) => Object.values(requirement).flat(),
    );
    if (required.length === 0) return undefined;
    const fits = (scope: string) => required.includes(scope);
    const found = [...keys].find(([scope]) => (testCase.name === WITHOUT_SCOPE ? !fits(scope) : fits(scope)));
    if (found === undefined) throw new Error(`no key for ${testCase.route} (${testCase.name})`);
    return found[1];
  }

  afterAll(async () => {
    await stack?.stop();
  });

  /** A message scheduled a day ahead, for the operations on one message. */
  async function scheduledMessage(at: string): Promise<string> {
    const response = await fetch(`${stack.apiUrl}/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({
        from: 'no-reply@example.com',
        to: 'ada@example.org',
        subject: 'Later',
        text: 'Later.',
        scheduledAt: at,
      }),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { id: string }).id;
  }

  const all = cases();

  it('has cases for every operation', () => {
    expect(all.length).toBeGreaterThanOrEqual(22);
  });

  it.each(
    all.map((testCase) => [
      `${testCase.method.toUpperCase()} ${testCase.route} (${testCase.name})`,
      testCase,
    ]),
  )('%s', async (_, testCase) => {
    // Prepare: the example's parameters and body, with this test's message and time for the samples.
    const at = new Date(Date.now() + 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const { status, schema } = expected(testCase);
    const parameters = ((testCase.operation.parameters ?? []) as unknown[]).map(resolve);
    let url = testCase.route;
    for (const parameter of parameters.filter((p) => p.in === 'path')) {
      const examples = (parameter.examples ?? {}) as Record<string, Json>;
      let value = String((examples[testCase.name] ?? Object.values(examples)[0])?.value);
      if (value === SAMPLE_MESSAGE_ID) value = await scheduledMessage(at);
      url = url.replace(`{${String(parameter.name)}}`, encodeURIComponent(value));
    }
    const query = new URLSearchParams();
    for (const parameter of parameters.filter((p) => p.in === 'query')) {
      const example = ((parameter.examples ?? {}) as Record<string, Json>)[testCase.name];
      if (example !== undefined) query.set(String(parameter.name), String(example.value));
    }
    if (query.size > 0) url = `${url}?${query}`;
    const content = resolve(testCase.operation.requestBody ?? {}).content as Record<string, Json> | undefined;
    const example = ((content?.['application/json']?.examples ?? {}) as Record<string, Json>)[testCase.name];
    const body =
      example === undefined ? undefined : JSON.stringify(example.value).replaceAll(SAMPLE_SCHEDULED_AT, at);
    const key = keyFor(testCase);

    // Act
    const response = await fetch(`${stack.apiUrl}${url}`, {
      method: testCase.method.toUpperCase(),
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
      },
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();

    // Assess
    expect(response.status, text).toBe(status);
    const validate = ajv.compile(dereference(schema) as object);
    expect(validate(JSON.parse(text)), ajv.errorsText(validate.errors)).toBe(true);
  });

  it('serves the committed document at GET /v1/openapi.json, without an API key', async () => {
    // Act
    const response = await fetch(`${stack.apiUrl}/v1/openapi.json`);

    // Assess
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json');
    expect(await response.json()).toEqual(DOCUMENT);
  });
});

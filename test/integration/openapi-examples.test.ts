import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAMPLE_MESSAGE_ID, SAMPLE_SCHEDULED_AT } from '../../infra/openapi/document';
import { startTestStack, type TestStack, testConfig } from '../support/local-stack';

/**
 * Every example of openapi.json, sent to the local stack: each request example (or, for an operation without
 * a body, each path parameter example) is paired with the response example of the same name, and must be
 * answered with that response's status and a body that validates against its documented schema. The
 * document's sample message id and time stand for ones this test makes: a message it scheduled, a day ahead.
 */

type Json = Record<string, unknown>;
const ROOT = path.resolve(import.meta.dirname, '../..');
const DOCUMENT = JSON.parse(readFileSync(path.join(ROOT, 'openapi.json'), 'utf8')) as Json;
const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;
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

  beforeAll(async () => {
    stack = await startTestStack(testConfig(), { apiKey: API_KEY });
  }, 60_000);

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
    expect(all.length).toBeGreaterThanOrEqual(17);
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
    const content = resolve(testCase.operation.requestBody ?? {}).content as Record<string, Json> | undefined;
    const example = ((content?.['application/json']?.examples ?? {}) as Record<string, Json>)[testCase.name];
    const body =
      example === undefined ? undefined : JSON.stringify(example.value).replaceAll(SAMPLE_SCHEDULED_AT, at);
    const keyed = ((testCase.operation.security ?? []) as unknown[]).length > 0;

    // Act
    const response = await fetch(`${stack.apiUrl}${url}`, {
      method: testCase.method.toUpperCase(),
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(keyed ? { authorization: `Bearer ${API_KEY}` } : {}),
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

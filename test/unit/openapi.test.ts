import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { RESEND_ROUTES } from '../../functions/core/resend/resend-api';
import { buildOpenApiDocument, openApiText } from '../../infra/openapi/document';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const OPENAPI_FILE = path.join(ROOT, 'openapi.json');
const REDOCLY = path.join(ROOT, 'node_modules', '@redocly', 'cli', 'bin', 'cli.js');

/**
 * Loaded into the Redocly process before it starts: every way out of the machine (DNS, TCP, TLS, fetch) is
 * recorded on stderr and refused, so the test sees any request the linter tries, telemetry included.
 */
const NETWORK_GUARD = `
import dns from 'node:dns';
import net from 'node:net';
import tls from 'node:tls';
const refuse = (what) => { process.stderr.write('NETWORK ' + what + '\\n'); throw new Error('network refused'); };
dns.lookup = (host) => refuse('dns ' + host);
net.connect = net.createConnection = (...args) => refuse('tcp ' + JSON.stringify(args[0]));
net.Socket.prototype.connect = function (...args) { return refuse('socket ' + JSON.stringify(args[0])); };
tls.connect = (...args) => refuse('tls ' + JSON.stringify(args[0]));
globalThis.fetch = (url) => refuse('fetch ' + String(url));
`;

type Json = Record<string, unknown>;

/**
 * Routes the send function answers that openapi.json leaves out, on purpose. The Resend-compatible surface
 * speaks Resend's API (snake_case fields, `{ statusCode, name, message }` errors, 200 where /v1 says 202):
 * its users call it through Resend's SDK, whose types and Resend's own reference are its contract, and
 * docs/resend.md lists what differs. Describing it here would put a second dialect beside /v1 in the same
 * document (and in the typed client and the reference page made from it) for no caller that reads it.
 */
const NOT_DOCUMENTED = [
  '/resend/emails',
  '/resend/emails/batch',
  '/resend/emails/{emailId}',
  '/resend/emails/{emailId}/cancel',
] as const;

/** Replaces each local $ref with what it points at (the document has no cycles). */
function dereference(node: unknown, document: Json): unknown {
  if (Array.isArray(node)) return node.map((item) => dereference(item, document));
  if (typeof node !== 'object' || node === null) return node;
  const ref = (node as Json).$ref;
  if (typeof ref === 'string') {
    const target = ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((at, part) => (at as Json)[part.replace(/~1/g, '/')], document);
    return dereference(target, document);
  }
  return Object.fromEntries(Object.entries(node).map(([key, value]) => [key, dereference(value, document)]));
}

describe('OpenAPI: the document', () => {
  it('is what the schemas generate (run `npm run openapi` after changing them)', () => {
    // Act
    const generated = openApiText();

    // Assess
    expect(readFileSync(OPENAPI_FILE, 'utf8')).toBe(generated);
  });

  it('documents every route the send function answers, with its statuses', () => {
    // Prepare
    const document = buildOpenApiDocument() as {
      paths: Record<string, Record<string, { responses: Json; security?: unknown }>>;
    };
    const app = readFileSync(path.join(ROOT, 'functions', 'send', 'app.ts'), 'utf8');
    const routed = [...app.matchAll(/case '(\/[^']+)':/g)].map((match) => match[1]);

    // Assess
    expect(Object.keys(document.paths).sort()).toEqual(routed.sort());
    expect(Object.keys(document.paths['/v1/send']?.post?.responses ?? {})).toEqual([
      '202',
      '400',
      '401',
      '403',
      '409',
      '413',
      '415',
      '422',
      '429',
      '503',
    ]);
    const submissions = document.paths['/v1/forms/{formId}/submissions']?.get;
    expect(Object.keys(submissions?.responses ?? {})).toEqual([
      '200',
      '401',
      '403',
      '404',
      '422',
      '429',
      '503',
    ]);
    expect(submissions?.security).toEqual([
      { apiKey: ['submissions:read'] },
      { apiKey: ['submissions:read:{formId}'] },
    ]);
  });

  it("leaves out the Resend-compatible routes, which follow Resend's API and error shape, not this one", () => {
    // Prepare: the send function hands every /resend/ resource to routeResend, whose routes are RESEND_ROUTES.
    const document = buildOpenApiDocument() as { paths: Json };
    const app = readFileSync(path.join(ROOT, 'functions', 'send', 'app.ts'), 'utf8');

    // Assess: a new /resend route fails here until it is added to the list above, knowingly.
    expect(app).toContain("event.resource.startsWith('/resend/')");
    expect(Object.values(RESEND_ROUTES).sort()).toEqual([...NOT_DOCUMENTED].sort());
    expect(Object.keys(document.paths).filter((route) => route.startsWith('/resend'))).toEqual([]);
  });

  it('has response examples that validate against their documented schemas', () => {
    // Prepare
    const document = dereference(JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')), {
      ...JSON.parse(readFileSync(OPENAPI_FILE, 'utf8')),
    }) as { paths: Record<string, Record<string, Json>> };
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const failures: string[] = [];
    let checked = 0;

    // Act
    for (const [route, item] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(item)) {
        const bodies = [
          ...Object.entries(
            ((operation.requestBody as Json | undefined)?.content ?? {}) as Record<string, Json>,
          ),
          ...Object.values((operation.responses ?? {}) as Record<string, Json>).flatMap((response) =>
            Object.entries((response.content ?? {}) as Record<string, Json>),
          ),
        ];
        for (const [, media] of bodies) {
          const validate = ajv.compile((media.schema ?? {}) as object);
          for (const [name, example] of Object.entries((media.examples ?? {}) as Record<string, Json>)) {
            checked += 1;
            if (!validate(example.value)) {
              failures.push(`${method.toUpperCase()} ${route} ${name}: ${ajv.errorsText(validate.errors)}`);
            }
          }
        }
      }
    }

    // Assess
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(40);
  });

  it('passes `redocly lint` with no error, offline, leaving only the warnings docs/api.md explains', async () => {
    // Act
    const { stdout, stderr } = await run(
      process.execPath,
      [
        '--import',
        `data:text/javascript,${encodeURIComponent(NETWORK_GUARD)}`,
        REDOCLY,
        'lint',
        'openapi.json',
        '--format=summary',
      ],
      {
        cwd: ROOT,
        env: {
          ...process.env,
          REDOCLY_TELEMETRY: 'off',
          REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true',
          NO_COLOR: '1',
        },
      },
    ).catch((error: { stdout: string; stderr: string }) => error);
    const output = `${stdout}\n${stderr}`;

    // Assess
    expect(output).not.toMatch(/^NETWORK /m);
    expect(output).not.toMatch(/^error /m);
    expect(output).toContain('Your API description is valid');
    expect(output.match(/^warning .*$/gm)?.sort()).toEqual([
      'warning info-license: 1',
      'warning operation-4xx-response: 2',
    ]);
  }, 60_000);
});

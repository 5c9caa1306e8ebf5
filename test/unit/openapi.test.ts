import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
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
    const document = buildOpenApiDocument() as { paths: Record<string, Record<string, { responses: Json }>> };
    const app = readFileSync(path.join(ROOT, 'functions', 'send', 'app.ts'), 'utf8');
    const routed = [...app.matchAll(/case '(\/[^']+)':/g)].map((match) => match[1]);

    // Assess
    expect(Object.keys(document.paths).sort()).toEqual(routed.sort());
    expect(Object.keys(document.paths['/v1/send']?.post?.responses ?? {})).toEqual([
      '202',
      '400',
      '401',
      '409',
      '413',
      '415',
      '422',
      '429',
      '503',
    ]);
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

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FUNCTION_CALLS, type FunctionName, OPERATOR_CALLS } from '../../functions/adapters/aws-calls';
import {
  modulesLoadedBy,
  type SdkCallSite,
  scanSdkCalls,
  sdkValueImports,
  sourceFiles,
  unlistedCalls,
} from '../support/sdk-calls';

const FUNCTIONS_DIR = path.resolve(import.meta.dirname, '../../functions');
const FUNCTION_NAMES = Object.keys(FUNCTION_CALLS) as FunctionName[];

const files = sourceFiles(FUNCTIONS_DIR);
const found: SdkCallSite[] = files.flatMap((file) =>
  scanSdkCalls(readFileSync(file, 'utf8'), path.relative(FUNCTIONS_DIR, file)),
);
const listed = [...FUNCTION_NAMES.flatMap((name) => FUNCTION_CALLS[name]), ...OPERATOR_CALLS];

describe('Source scan: scanSdkCalls', () => {
  const source = [
    "import { DeleteTableCommand, type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';",
    '',
    'export class TableJanitor {',
    '  constructor(private readonly dynamodb: DynamoDBClient) {}',
    '',
    '  async read(key: string) {',
    "    return this.dynamodb.send(new GetItemCommand({ TableName: 't', Key: { pk: { S: key } } }));",
    '  }',
    '',
    '  private async wipe() {',
    '    if (Date.now() > 0) {',
    "      await this.dynamodb.send(new DeleteTableCommand({ TableName: 't' }));",
    '    }',
    '  }',
    '}',
    '',
    'export async function standalone(client: DynamoDBClient) {',
    "  const { ScanCommand } = await import('@aws-sdk/client-dynamodb');",
    "  await client.send(new ScanCommand({ TableName: 't' }));",
    '}',
  ].join('\n');

  it('finds each command with the method or function that builds it', () => {
    // Act
    const calls = scanSdkCalls(source, 'janitor.ts');

    // Assess
    expect(calls.map(({ site, command, line }) => ({ site, command, line }))).toEqual([
      { site: 'TableJanitor.read', command: 'GetItemCommand', line: 7 },
      { site: 'TableJanitor.wipe', command: 'DeleteTableCommand', line: 12 },
      { site: 'standalone', command: 'ScanCommand', line: 19 },
    ]);
  });

  it('reports a call that the list does not have', () => {
    // Prepare
    const calls = scanSdkCalls(source, 'janitor.ts');

    // Act
    const missing = unlistedCalls(calls, [
      { site: 'TableJanitor.read', command: 'GetItemCommand' },
      { site: 'standalone', command: 'ScanCommand' },
    ]);

    // Assess
    expect(missing.map((call) => `${call.site} ${call.command}`)).toEqual([
      'TableJanitor.wipe DeleteTableCommand',
    ]);
  });

  it('lists the SDK values a module imports, statically and dynamically, without type-only ones', () => {
    // Act & Assess
    expect(sdkValueImports(source)).toEqual(['DeleteTableCommand', 'GetItemCommand', 'ScanCommand']);
    expect(sdkValueImports("import { DynamoDB } from '@aws-sdk/client-dynamodb';")).toEqual(['DynamoDB']);
    expect(sdkValueImports("import type { SQSClient } from '@aws-sdk/client-sqs';")).toEqual([]);
  });
});

describe('The AWS call list (functions/adapters/aws-calls.ts)', () => {
  it('finds the SDK calls, every one of them in the adapters', () => {
    // Assess: a scan that found nothing would make every other check here pass vacuously.
    expect(found.length).toBeGreaterThanOrEqual(20);
    expect(new Set(found.map((call) => call.file.split(path.sep)[0]))).toEqual(new Set(['adapters']));
  });

  it('has every SDK call the functions and adapters make', () => {
    // Act
    const missing = unlistedCalls(found, listed);

    // Assess
    expect(missing.map((call) => `${call.file}:${call.line} ${call.site} ${call.command}`)).toEqual([]);
  });

  it('has no call that the code does not make', () => {
    // Prepare
    const made = new Set(found.map((call) => `${call.site} ${call.command}`));

    // Act
    const phantom = listed
      .filter((call) => call.command !== undefined)
      .map((call) => `${call.site} ${call.command}`)
      .filter((call) => !made.has(call));

    // Assess
    expect(phantom).toEqual([]);
  });

  it.each(FUNCTION_NAMES)('lists for the %s function only calls in the modules its handler loads', (name) => {
    // Prepare
    const loaded = new Set(
      [...modulesLoadedBy(path.join(FUNCTIONS_DIR, name, 'index.ts'))].map((file) =>
        path.relative(FUNCTIONS_DIR, file),
      ),
    );
    const reachable = new Set(
      found.filter((call) => loaded.has(call.file)).map((call) => `${call.site} ${call.command}`),
    );

    // Act
    const unreachable = FUNCTION_CALLS[name]
      .filter((call) => call.command !== undefined)
      .map((call) => `${call.site} ${call.command}`)
      .filter((call) => !reachable.has(call));

    // Assess
    expect(unreachable).toEqual([]);
  });

  it("calls the operator-only methods from no function's code", () => {
    // Prepare: the adapter that defines such a method is the only file that may name it.
    const methods = OPERATOR_CALLS.map((call) => call.site.split('.')[1] as string);
    const definedIn = new Set(
      found
        .filter((call) => OPERATOR_CALLS.some((operator) => operator.site === call.site))
        .map((call) => call.file),
    );

    // Only what a handler loads is function code: core/archive/operator.ts, say, is the CLI's and the local page's.
    const functionCode = new Set(
      FUNCTION_NAMES.flatMap((name) => [...modulesLoadedBy(path.join(FUNCTIONS_DIR, name, 'index.ts'))]),
    );

    expect(functionCode.size).toBeGreaterThan(20);

    // Act
    const callers = files
      .filter((file) => functionCode.has(file))
      .filter((file) => !definedIn.has(path.relative(FUNCTIONS_DIR, file)))
      .flatMap((file) => {
        const source = readFileSync(file, 'utf8');
        return methods
          .filter((method) => new RegExp(`\\.${method}\\(`).test(source))
          .map((method) => `${path.relative(FUNCTIONS_DIR, file)} .${method}(`);
      });

    // Assess
    expect(callers).toEqual([]);
  });

  it('makes SDK calls only through command objects, which the scan sees', () => {
    // Act: an aggregated client (`new DynamoDB().putItem(...)`) would call AWS without a Command.
    const other = files.flatMap((file) =>
      sdkValueImports(readFileSync(file, 'utf8'))
        .filter((name) => !/(?:Command|Client|Exception)$/.test(name) && name !== 'NoSuchKey')
        .map((name) => `${path.relative(FUNCTIONS_DIR, file)} ${name}`),
    );

    // Assess
    expect(other).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { jsonErrorOffset, parseConfigFile } from '../../functions/core/config/config-file';
import { ConfigError } from '../../functions/core/errors';

function problem(text: string): string {
  try {
    parseConfigFile(text, 'postroom.production.json');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.field} ${p.message}`).join('; ');
    throw error;
  }
  return 'no problem';
}

describe('Config: the configuration file', () => {
  it('reads the configuration itself, or a cdk.json with it in context.postroom: one format for every use', () => {
    const config = { sender: 'a@acme-widgets.com', forms: [] };
    expect(parseConfigFile(JSON.stringify(config), 'x.json')).toEqual(config);
    expect(
      parseConfigFile(
        JSON.stringify({ app: 'npx tsx infra/app.ts', context: { postroom: config } }),
        'site.cdk.json',
      ),
    ).toEqual(config);
  });

  it('says a cdk.json has no configuration, and that the file must hold an object', () => {
    expect(problem('{"app": "npx tsx infra/app.ts", "context": {}}')).toBe(
      'postroom.production.json is a cdk.json without context.postroom',
    );
    expect(problem('[1]')).toContain('must hold a JSON object');
  });

  it.each([
    ['{\n  "sender": "a@b.co",\n}', 3, 1, 'Expected double-quoted property name'],
    ['{\n  "sender": "a@b.co"\n  "forms": []\n}', 3, 3, "Expected ',' or '}' after property value"],
    ['{\n  "forms": [1, 2,]\n}', 2, 18, "Unexpected token ']'"],
    ['{\n  "relay": {"maxSendRate": tru}\n}', 2, 31, "Unexpected token '}'"],
    ['{\n  "sender": "a@b.co",\n', 3, 1, 'Expected double-quoted property name'],
    ['{\n  "forms": [\n', 3, 1, 'Unexpected end of JSON input'],
  ])('points at line and column of invalid JSON: %j', (text, line, column, reason) => {
    expect(problem(text)).toContain(
      `postroom.production.json is not valid JSON: line ${line}, column ${column}`,
    );
    expect(problem(text)).toContain(reason);
    expect(problem(text)).not.toContain('"sender"');
  });

  it('finds no error offset in valid JSON, whatever it holds', () => {
    const text = JSON.stringify({ a: [1, -2.5e3, true, false, null, 'x\\"\u00e9\n'], b: {} });
    expect(jsonErrorOffset(text)).toBe(text.length);
  });
});

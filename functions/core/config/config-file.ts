import { ConfigError } from '../errors';

/**
 * The configuration file, as a person writes it. Every entry point (npm start, postroom doctor, cdk synth
 * and deploy) reads the same shapes:
 * - a per-environment file holding the configuration itself: `{ "region": ..., "sender": ..., "forms": [...] }`;
 * - or a cdk.json, whose `context.postroom` holds it (the shipped default).
 * Invalid JSON is reported with its line and column.
 */
export function parseConfigFile(text: string, path: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const at = jsonErrorOffset(text);
    const { line, column } = lineAndColumn(text, at);
    const reason = error instanceof Error ? error.message.replace(/ in JSON at position \d+.*$/, '') : '';
    throw new ConfigError([
      {
        field: path,
        message: `is not valid JSON: line ${line}, column ${column}${reason ? ` (${shortReason(reason)})` : ''}`,
      },
    ]);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError([
      { field: path, message: 'must hold a JSON object: the configuration, or a cdk.json' },
    ]);
  }
  const file = parsed as { context?: { postroom?: unknown }; app?: unknown };
  if (file.context !== undefined || file.app !== undefined) {
    if (file.context?.postroom === undefined) {
      throw new ConfigError([{ field: path, message: 'is a cdk.json without context.postroom' }]);
    }
    return file.context.postroom;
  }
  return parsed;
}

function shortReason(reason: string): string {
  // V8 quotes the whole input in some messages ("Unexpected token 'x', "..." is not valid JSON").
  return reason.replace(/, (\.\.\.)?".*" is not valid JSON$/s, '');
}

/** 1-based line and column of an offset. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return { line, column: offset - before.lastIndexOf('\n') };
}

/**
 * The offset of the first character that makes `text` invalid JSON (RFC 8259), or its length when it ends
 * too soon. JSON.parse's messages give a position only for some errors, so this finds it for all.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const fail = (): never => {
    throw i;
  };
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text.charAt(i))) i++;
  };
  const literal = (word: string) => {
    for (const char of word) {
      if (text.charAt(i) !== char) fail();
      i++;
    }
  };
  const string = () => {
    if (text.charAt(i) !== '"') fail();
    i++;
    while (i < text.length) {
      const char = text.charAt(i);
      if (char === '"') {
        i++;
        return;
      }
      if (char < ' ') fail();
      if (char === '\\') {
        i++;
        const escaped = text.charAt(i);
        if (escaped === 'u') {
          for (let k = 0; k < 4; k++) {
            i++;
            if (!/[0-9a-fA-F]/.test(text.charAt(i))) fail();
          }
        } else if (!'"\\/bfnrt'.includes(escaped) || escaped === '') fail();
      }
      i++;
    }
    fail();
  };
  const number = () => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (match === null) fail();
    i += match?.[0].length ?? 0;
  };
  const value = (): void => {
    space();
    const char = text.charAt(i);
    if (char === '{') {
      i++;
      space();
      if (text.charAt(i) === '}') {
        i++;
        return;
      }
      for (;;) {
        space();
        string();
        space();
        if (text.charAt(i) !== ':') fail();
        i++;
        value();
        space();
        if (text.charAt(i) === ',') {
          i++;
          continue;
        }
        if (text.charAt(i) === '}') {
          i++;
          return;
        }
        fail();
      }
    }
    if (char === '[') {
      i++;
      space();
      if (text.charAt(i) === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        space();
        if (text.charAt(i) === ',') {
          i++;
          continue;
        }
        if (text.charAt(i) === ']') {
          i++;
          return;
        }
        fail();
      }
    }
    if (char === '"') string();
    else if (char === 't') literal('true');
    else if (char === 'f') literal('false');
    else if (char === 'n') literal('null');
    else number();
  };
  try {
    value();
    space();
    if (i < text.length) fail();
    return text.length;
  } catch (offset) {
    if (typeof offset === 'number') return Math.min(offset, text.length);
    throw offset;
  }
}

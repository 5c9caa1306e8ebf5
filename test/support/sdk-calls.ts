import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A static scan of the functions' sources for AWS SDK calls, which test/unit/aws-calls.test.ts compares with
 * the list in functions/adapters/aws-calls.ts. Static rather than recorded from the integration tests: it
 * sees every call site, including the ones only a rare failure reaches (a dead letter, a visibility change),
 * and it needs no emulator. The SDK v3 makes a call only through `client.send(new <Name>Command(...))`
 * (the aggregated clients are ruled out by sdkValueImports), so the commands constructed are the calls made.
 * The scan relies on the Biome-formatted layout: classes and functions start at column 0, methods at 2.
 */

export interface SdkCallSite {
  /** `Class.method`, or the module-level function the command is built in. */
  readonly site: string;
  readonly command: string;
  readonly file: string;
  readonly line: number;
}

const CLASS = /^(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+(\w+)/;
const FUNCTION = /^(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s*\*?\s*(\w+)/;
const CONSTANT = /^(?:export\s+)?(?:const|let)\s+(\w+)\s*[:=]/;
const METHOD =
  /^ {2}(?:(?:public|private|protected|static|async|readonly|override)\s+)*(\w+)\s*(?:<[^>]*>)?\(/;
const COMMAND = /\bnew\s+(\w+Command)\s*\(/g;

/** Each `new <Name>Command(` in `source`, with the declaration it is in. */
export function scanSdkCalls(source: string, file: string): SdkCallSite[] {
  const calls: SdkCallSite[] = [];
  let className: string | undefined;
  let scope = '<module>';
  source.split('\n').forEach((text, index) => {
    const classMatch = CLASS.exec(text);
    const functionMatch = FUNCTION.exec(text) ?? CONSTANT.exec(text);
    if (classMatch) {
      className = classMatch[1];
      scope = '<class body>';
    } else if (functionMatch) {
      className = undefined;
      scope = functionMatch[1] as string;
    } else if (text.startsWith('}')) {
      // The end of a top-level declaration: anything after it is at module level until the next one.
      className = undefined;
      scope = '<module>';
    } else if (className !== undefined) {
      const method = METHOD.exec(text);
      if (method && !['if', 'for', 'while', 'switch', 'return'].includes(method[1] as string)) {
        scope = method[1] as string;
      }
    }
    for (const match of text.matchAll(COMMAND)) {
      calls.push({
        site: className === undefined ? scope : `${className}.${scope}`,
        command: match[1] as string,
        file,
        line: index + 1,
      });
    }
  });
  return calls;
}

/**
 * The values `source` imports from an AWS SDK client package (statically or with `await import`), type-only
 * imports left out.
 */
export function sdkValueImports(source: string): string[] {
  const names: string[] = [];
  const statements = [
    ...source.matchAll(/import\s+(type\s+)?\{([^{}]*)\}\s*from\s*'@aws-sdk\/client-[\w-]+'/g),
  ].filter((match) => match[1] === undefined);
  const dynamic = [
    ...source.matchAll(/\{([^{}]*)\}\s*=\s*await\s+import\(\s*'@aws-sdk\/client-[\w-]+'\s*\)/g),
  ];
  for (const list of [...statements.map((match) => match[2]), ...dynamic.map((match) => match[1])]) {
    for (const entry of (list ?? '').split(',')) {
      const name = entry.trim();
      if (name === '' || name.startsWith('type ')) continue;
      names.push(name.split(/\s+as\s+/)[0] as string);
    }
  }
  return names;
}

/** Every `.ts` file under `directory`, recursively. */
export function sourceFiles(directory: string): string[] {
  return readdirSync(directory, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(directory, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/**
 * The files a handler loads: `entry` and every relative module it imports, statically or with `import()`,
 * transitively. A call in a file outside this set cannot be the function's.
 */
export function modulesLoadedBy(entry: string): Set<string> {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    const specifiers = [
      ...source.matchAll(/\bfrom\s*'(\.[^']+)'/g),
      ...source.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g),
    ].map((match) => match[1] as string);
    for (const specifier of specifiers) {
      const base = path.resolve(path.dirname(file), specifier.replace(/\.(?:m?js|ts)$/, ''));
      const resolved = [`${base}.ts`, path.join(base, 'index.ts')].find((candidate) => existsSync(candidate));
      if (resolved !== undefined) visit(resolved);
    }
  };
  visit(entry);
  return seen;
}

/** The calls in `found` whose site and command no entry of `listed` has. */
export function unlistedCalls(
  found: ReadonlyArray<SdkCallSite>,
  listed: ReadonlyArray<{ site: string; command?: string | undefined }>,
): SdkCallSite[] {
  const known = new Set(listed.map((call) => `${call.site} ${call.command}`));
  return found.filter((call) => !known.has(`${call.site} ${call.command}`));
}

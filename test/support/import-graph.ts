import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The repository's module graph from its relative imports (type-only imports too: a type import both ways is
 * still two modules that cannot be understood apart), and the cycles in it.
 */

const IMPORT =
  /(?:import|export)\s[^'"]*?from\s*(['"])(\.{1,2}\/[^'"]+)\1|import\s*\(\s*(['"])(\.{1,2}\/[^'"]+)\3/g;

/** The files `source` (at `file`) imports by a relative path that resolves to a TypeScript module. */
export function relativeImports(file: string, source: string): string[] {
  const deps: string[] = [];
  for (const match of source.matchAll(IMPORT)) {
    const base = path.resolve(path.dirname(file), match[2] ?? match[4] ?? '');
    const target = [base, `${base}.ts`, path.join(base, 'index.ts')].find(
      (candidate) => candidate.endsWith('.ts') && existsSync(candidate),
    );
    if (target !== undefined) deps.push(target);
  }
  return deps;
}

/** Strongly connected components of more than one module (Tarjan), each a cycle of imports. */
export function importCycles(graph: ReadonlyMap<string, ReadonlyArray<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (node: string): void => {
    index.set(node, next);
    low.set(node, next);
    next++;
    stack.push(node);
    onStack.add(node);
    for (const dep of graph.get(node) ?? []) {
      if (!index.has(dep)) {
        visit(dep);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(dep) ?? 0));
      } else if (onStack.has(dep)) low.set(node, Math.min(low.get(node) ?? 0, index.get(dep) ?? 0));
    }
    if (low.get(node) !== index.get(node)) return;
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop();
      if (member === undefined) break;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) cycles.push(component.sort());
  };
  for (const node of graph.keys()) if (!index.has(node)) visit(node);
  return cycles;
}

export function graphOf(files: ReadonlyArray<string>): Map<string, string[]> {
  return new Map(files.map((file) => [file, relativeImports(file, readFileSync(file, 'utf8'))]));
}

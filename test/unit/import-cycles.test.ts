import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { graphOf, importCycles } from '../support/import-graph';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('Layout: import cycles', () => {
  it('finds a cycle of three modules and none in a chain', () => {
    // Prepare
    const cyclic = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    const chain = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', []],
    ]);
    // Act + Assess
    expect(importCycles(cyclic)).toEqual([['a', 'b', 'c']]);
    expect(importCycles(chain)).toEqual([]);
  });

  it('has no import cycle among the project modules', () => {
    // Prepare
    const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '*.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .split('\n')
      .filter((file) => file !== '' && !file.startsWith('node_modules/'))
      .map((file) => path.join(ROOT, file));
    // Act
    const cycles = importCycles(graphOf(files)).map((cycle) =>
      cycle.map((file) => path.relative(ROOT, file)).join(' <-> '),
    );
    // Assess
    expect(cycles).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main';
import { FIXTURE_CONFIG_FILE } from '../fakes/config';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t), env: {} },
    out,
    err,
  };
}

describe('CLI: postroom cost (usage)', () => {
  it('exits 2 naming the flag when --messages is not a whole number', async () => {
    // Prepare
    const { io: cli, err } = io();

    // Act
    const code = await runCli(['cost', '--messages', 'many', '--config', FIXTURE_CONFIG_FILE], cli);

    // Assess
    expect(code).toBe(2);
    expect(err.join('')).toMatch(/--messages and --recipients take whole numbers/);
  });

  it('exits 2 naming the levels when --level is unknown', async () => {
    // Prepare
    const { io: cli, err } = io();

    // Act
    const code = await runCli(['cost', '--level', 'verbose', '--config', FIXTURE_CONFIG_FILE], cli);

    // Assess
    expect(code).toBe(2);
    expect(err.join('')).toMatch(/--level is one of essential, full/);
  });

  it('exits 2 naming --config when the configuration file does not exist', async () => {
    // Prepare
    const { io: cli, err } = io();

    // Act
    const code = await runCli(['cost', '--config', 'no-such-postroom.json'], cli);

    // Assess
    expect(code).toBe(2);
    expect(err.join('')).toMatch(/No configuration at no-such-postroom\.json: give one with --config PATH/);
  });
});

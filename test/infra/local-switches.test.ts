import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../functions/core/config/config';
import { defaultConfig, SYNTH_TIMEOUT_MS, synthesize } from './stack-fixture';

/**
 * The local runner's switches (POSTROOM_LOCAL_RATE_LIMITS=off above all) are read by local/main.ts only. A
 * synth run in a shell where they are set, as a developer's often is, must deploy the configured limits.
 */
const SWITCHES = {
  POSTROOM_LOCAL_RATE_LIMITS: 'off',
  POSTROOM_FRESH: '1',
  POSTROOM_STATE_DIR: '/tmp/postroom-local-state',
};

const rawConfig = {
  ...defaultConfig,
  forms: [
    {
      ...defaultConfig.forms[0],
      rateLimit: { perIp: { max: 5, windowSeconds: 600 }, perForm: { max: 500, windowSeconds: 3600 } },
    },
  ],
};

describe('Stack: the local runner switches do not reach a deployment', { timeout: SYNTH_TIMEOUT_MS }, () => {
  const saved: Record<string, string | undefined> = {};

  beforeAll(() => {
    for (const [name, value] of Object.entries(SWITCHES)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  });

  afterAll(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('bundles the configured rate limits, and no switch, with POSTROOM_LOCAL_RATE_LIMITS=off in the environment', () => {
    // Act
    const { app, stack } = synthesize(rawConfig, { bundle: true });

    // Assess: each function's code package carries the configuration it runs with
    const functions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Function')).filter(
      (fn) => String(fn.Properties?.Description).startsWith('Postroom '),
    );
    expect(functions.length).toBeGreaterThan(0);
    for (const fn of functions) {
      const assetDir = path.join(
        app.outdir,
        `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`,
      );
      const shipped = JSON.parse(readFileSync(path.join(assetDir, 'config.json'), 'utf8'));
      expect(shipped).toEqual(parseConfig(rawConfig));
      expect(shipped.forms[0].rateLimit.perIp).toEqual({ max: 5, windowSeconds: 600 });
      expect(JSON.stringify(fn.Properties.Environment ?? {})).not.toContain('POSTROOM_LOCAL');
    }
  });
});

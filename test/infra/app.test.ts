import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { defaultConfig, SYNTH_TIMEOUT_MS } from './stack-fixture';

const run = promisify(execFile);

interface FlagReport {
  userValue?: unknown;
  recommendedValue?: unknown;
  unconfiguredBehavesLike?: { v2?: unknown };
}

/** A configuration with nothing of an example in it: a real-looking domain, origins and thank-you page. */
const ownConfig = {
  region: 'eu-west-1',
  sender: 'Acme <no-reply@mail.acme-widgets.com>',
  forms: [
    {
      id: 'contact-sales',
      recipients: ['sales@acme-widgets.com'],
      subject: 'New message from {{name}}',
      allowedOrigins: ['https://www.acme-widgets.com'],
      redirectUrl: 'https://www.acme-widgets.com/thanks',
    },
  ],
};

/**
 * Runs the CDK app (infra/app.ts) as `cdk synth` does: context from CDK_CONTEXT_JSON, the assembly to
 * CDK_OUTDIR. Bundling is skipped (the context `cdk synth --exclusively` uses), so no function is built.
 * The app, run directly, never reads the project's cdk.json: only the CDK CLI does.
 */
async function synth(context: Record<string, unknown>, env: Record<string, string> = {}) {
  const outdir = mkdtempSync(join(tmpdir(), 'postroom-synth-'));
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'infra/app.ts'], {
      env: {
        ...process.env,
        CDK_OUTDIR: outdir,
        CDK_CONTEXT_JSON: JSON.stringify({ 'aws:cdk:bundling-stacks': [], ...context }),
        ...env,
      },
    });
    return { code: 0, stdout, stderr, outdir };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr, outdir };
  }
}

describe('CDK app: cdk synth', () => {
  it(
    'refuses placeholder senders and recipients, naming each field with the form by its id',
    async () => {
      // Act: the fixture's sender and recipient are at example.com
      const { code, stderr, outdir } = await synth({ postroom: defaultConfig });

      // Assess
      expect(code).toBe(1);
      expect(stderr).toContain('Postroom will not synthesize a stack with placeholder values (2)');
      expect(stderr).toContain('postroom.sender = no-reply@mail.example.com');
      expect(stderr).toContain('postroom.forms["contact"].recipients[0] = owner@example.com');
      expect(stderr).toContain('-c postroom:allowPlaceholders=true');
      expect(existsSync(join(outdir, 'manifest.json'))).toBe(false);
    },
    SYNTH_TIMEOUT_MS,
  );

  it(
    'builds with placeholders when told to, under a loud warning',
    async () => {
      // Act
      const { code, stdout, stderr, outdir } = await synth({
        postroom: {
          ...defaultConfig,
          forms: [{ ...defaultConfig.forms[0], allowedOrigins: ['http://localhost:3000'] }],
        },
        'postroom:allowPlaceholders': 'true',
      });

      // Assess
      expect(code).toBe(0);
      expect(stdout).toBe('');
      expect(stderr).toMatch(/^!{100}\n!! WARNING: synthesizing with 3 placeholder values/m);
      expect(stderr).toContain('postroom.forms["contact"].allowedOrigins[0] = http://localhost:3000');
      expect(stderr).toContain('placeholder values: 3 ALLOWED by postroom:allowPlaceholders');
      expect(existsSync(join(outdir, 'manifest.json'))).toBe(true);
    },
    SYNTH_TIMEOUT_MS,
  );

  it(
    'says what it built, from the file POSTROOM_CONFIG_FILE names, with the security checks it ran, and sets the feature flags a new app gets',
    async () => {
      // Prepare: a per-environment file holding the configuration itself
      const file = join(mkdtempSync(join(tmpdir(), 'postroom-config-')), 'postroom.production.json');
      writeFileSync(file, JSON.stringify(ownConfig, null, 2));

      // Act: the context's own postroom (placeholders) is replaced by the file
      const { code, stdout, stderr, outdir } = await synth(
        { postroom: defaultConfig },
        { POSTROOM_CONFIG_FILE: file },
      );

      // Assess: stdout (where cdk synth prints templates) stays clean
      expect(code).toBe(0);
      expect(stdout).toBe('');
      expect(stderr).toContain('Postroom: synthesized stack Postroom in eu-west-1');
      expect(stderr).toContain('Sender     Acme <no-reply@mail.acme-widgets.com>');
      expect(stderr).toContain('Transport  Amazon SES, configuration set created by the stack');
      expect(stderr).toContain(
        'contact-sales: POST <ApiUrl>v1/forms/contact-sales (stack output FormEndpointContactSales), 1 recipient',
      );
      expect(stderr).toContain('origins: https://www.acme-widgets.com');
      expect(stderr).toContain(`configuration: valid (${file})`);
      expect(stderr).toContain('placeholder values: none');
      expect(stderr).toMatch(
        /cdk-nag AwsSolutions: passed, no open finding; [1-9]\d* acknowledged in the code/,
      );

      // Every feature flag CDK recommends for a new app is set, as the CLI's "N feature flags are not
      // configured" warning judges it (in the assembly's feature flag report): no value, and a default
      // unlike the recommended value.
      const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8')) as {
        artifacts: Record<string, { type: string; properties?: { flags?: Record<string, FlagReport> } }>;
      };
      const report = Object.values(manifest.artifacts).find((a) => a.type === 'cdk:feature-flag-report');
      const flags = Object.entries(report?.properties?.flags ?? {});
      expect(flags.length).toBeGreaterThan(50);
      const unset = flags
        .filter(
          ([, flag]) =>
            flag.userValue === undefined &&
            (flag.unconfiguredBehavesLike?.v2 ?? false) !== flag.recommendedValue,
        )
        .map(([name]) => name);
      expect(unset).toEqual([]);
    },
    SYNTH_TIMEOUT_MS,
  );
});

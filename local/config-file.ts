import { readFileSync } from 'node:fs';
import { type PostroomConfig, parseConfig } from '../functions/core/config/config';
import { parseConfigFile } from '../functions/core/config/config-file';
import { ConfigError } from '../functions/core/errors';

/**
 * Reads the configuration from a file: a per-environment file holding the configuration itself, or a
 * cdk.json with it in `context.postroom` (functions/core/config/config-file.ts).
 */
export function readPostroomContext(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ConfigError([
      { field: path, message: code === 'ENOENT' ? 'does not exist' : `cannot be read (${String(code)})` },
    ]);
  }
  return parseConfigFile(text, path);
}

/** The `postroom` context as cdk.json ships it: its forms, and whatever else a run overrides. */
export type PostroomContext = Record<string, unknown> & { forms: Array<Record<string, unknown>> };

/**
 * The shipped context for runs that send everything from one loopback address (tests, the bench, chaos and
 * load runs): the forms' per-IP and per-form rate limits are lifted, or they would refuse most of the
 * traffic and the run would measure the limiter. Every other guard stays.
 */
export function contextWithoutRateLimits(path = 'cdk.json'): PostroomContext {
  const shipped = readPostroomContext(path) as PostroomContext;
  return { ...shipped, forms: shipped.forms.map((form) => ({ ...form, rateLimit: {} })) };
}

/**
 * Applies the local runner's environment overrides, then validates. `POSTROOM_TRANSPORT=smtp` with
 * `POSTROOM_SMTP_*` relays through any SMTP server instead of the SES emulator.
 */
export function localConfig(raw: unknown, env: NodeJS.ProcessEnv): PostroomConfig {
  return parseConfig(localContext(raw, env));
}

/** The `postroom` context with the local runner's environment overrides applied, not yet validated. */
export function localContext(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  const base = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const kind = env.POSTROOM_TRANSPORT;
  let transport = base.transport;
  if (kind === 'smtp') {
    transport = {
      kind: 'smtp',
      host: env.POSTROOM_SMTP_HOST ?? '127.0.0.1',
      port: env.POSTROOM_SMTP_PORT === undefined ? 587 : Number(env.POSTROOM_SMTP_PORT),
      secure: env.POSTROOM_SMTP_SECURE === 'true',
      tlsRejectUnauthorized: env.POSTROOM_SMTP_TLS_REJECT_UNAUTHORIZED !== 'false',
      ...(env.POSTROOM_SMTP_USER ? { user: env.POSTROOM_SMTP_USER } : {}),
    };
  } else if (kind === 'ses') {
    transport = { kind: 'ses' };
  } else if (kind !== undefined) {
    throw new ConfigError([{ field: 'env.POSTROOM_TRANSPORT', message: 'must be "ses" or "smtp"' }]);
  }
  return transport === undefined ? base : { ...base, transport };
}

/** A port from the environment, or the default; 0 picks a free port. */
export function portFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ConfigError([{ field: `env.${name}`, message: 'must be a port number from 0 to 65535' }]);
  }
  return port;
}

/** The environment variable holding a form's captcha secret locally: POSTROOM_CAPTCHA_SECRET_<FORM_ID>. */
export function captchaSecretVariable(formId: string): string {
  return `POSTROOM_CAPTCHA_SECRET_${formId.toUpperCase().replace(/-/g, '_')}`;
}

/** Captcha secrets of the forms that have a captcha, from the environment. */
export function captchaSecretsFromEnv(
  config: PostroomConfig,
  env: NodeJS.ProcessEnv,
): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const form of config.forms) {
    if (!form.captcha) continue;
    const value = env[captchaSecretVariable(form.id)];
    if (value === undefined || value === '') {
      throw new ConfigError([
        {
          field: `env.${captchaSecretVariable(form.id)}`,
          message: `is required: form "${form.id}" has a captcha`,
        },
      ]);
    }
    secrets[form.id] = value;
  }
  return secrets;
}

import path from 'node:path';
import type { FormConfig, PostroomConfig } from '../functions/core/config/config';
import { ConfigError } from '../functions/core/errors';
import type { DemoForm } from './demo-page';

/**
 * What `npm start` takes besides the configuration file, from its arguments and the environment. These are
 * read by the local runner only (local/main.ts): neither the functions nor the CDK app read them, so none
 * of them can change a deployed stack.
 */
export interface StartOptions {
  /** POSTROOM_STATE_DIR, else `.postroom` in the current folder (the project root under `npm start`). */
  readonly stateDir: string;
  /** `npm start -- --fresh` or POSTROOM_FRESH=1: forget the kept state before starting. */
  readonly fresh: boolean;
  /** POSTROOM_LOCAL_RATE_LIMITS=off: the forms' rate limits are lifted for this run. */
  readonly rateLimits: boolean;
}

export const DEFAULT_STATE_DIR = '.postroom';

export function startOptions(argv: ReadonlyArray<string>, env: NodeJS.ProcessEnv): StartOptions {
  const unknown = argv.filter((arg) => arg !== '--fresh');
  if (unknown.length > 0) {
    throw new ConfigError([
      { field: `argument ${unknown[0]}`, message: 'is not known; npm start takes --fresh' },
    ]);
  }
  const limits = env.POSTROOM_LOCAL_RATE_LIMITS;
  if (limits !== undefined && limits !== '' && limits !== 'on' && limits !== 'off') {
    throw new ConfigError([{ field: 'env.POSTROOM_LOCAL_RATE_LIMITS', message: 'must be "on" or "off"' }]);
  }
  const fresh = env.POSTROOM_FRESH;
  if (fresh !== undefined && fresh !== '' && fresh !== '0' && fresh !== '1') {
    throw new ConfigError([{ field: 'env.POSTROOM_FRESH', message: 'must be 1 (start clean) or 0' }]);
  }
  return {
    stateDir: path.resolve(env.POSTROOM_STATE_DIR || DEFAULT_STATE_DIR),
    fresh: argv.includes('--fresh') || fresh === '1',
    rateLimits: limits !== 'off',
  };
}

/**
 * The configuration with every form's per-IP and per-form limits lifted, for a local run where every
 * request comes from 127.0.0.1. Every other guard stays.
 */
export function withoutRateLimits(config: PostroomConfig): PostroomConfig {
  return { ...config, forms: config.forms.map((form) => ({ ...form, rateLimit: {} })) };
}

/** The banner's lines about each form: where a browser may post from, where it goes next, its limits. */
export function formLines(config: PostroomConfig, demo: DemoForm, rateLimits: boolean): string[] {
  return config.forms.flatMap((form) => {
    const isDemo = form.id === demo.formId;
    const origins = form.allowedOrigins.length > 0 ? form.allowedOrigins.join(', ') : 'none configured';
    const added = isDemo ? demo.origins.filter((origin) => !form.allowedOrigins.includes(origin)) : [];
    const redirect = form.redirectUrl ? `303 to ${form.redirectUrl}` : 'a built-in thank-you page';
    return [
      `  Form "${form.id}"${isDemo ? ' (the demo page posts here)' : ''}`,
      `    accepts browser posts from  ${origins}${added.length > 0 ? `; and, for the demo page this run, ${added.join(', ')}` : ''}`,
      `    after a plain HTML post     ${redirect}${isDemo ? `; the demo page asks for ${demo.thanksUrls.join(' or ')}` : ''}`,
      `    rate limits                 ${limitText(form, rateLimits)}`,
    ];
  });
}

function limitText(form: FormConfig, rateLimits: boolean): string {
  if (!rateLimits) return 'off for this run (POSTROOM_LOCAL_RATE_LIMITS=off)';
  const { perIp, perForm } = form.rateLimit;
  const parts = [
    ...(perIp ? [`${perIp.max} per IP per ${duration(perIp.windowSeconds)}`] : []),
    ...(perForm ? [`${perForm.max} per form per ${duration(perForm.windowSeconds)}`] : []),
  ];
  if (parts.length === 0) return 'none configured';
  // Every local request comes from 127.0.0.1: the per-IP limit is the whole machine's.
  return `${parts.join(', ')} (all local requests are one IP; POSTROOM_LOCAL_RATE_LIMITS=off lifts them)`;
}

function duration(seconds: number): string {
  if (seconds % 3600 === 0) return seconds === 3600 ? 'hour' : `${seconds / 3600} hours`;
  if (seconds % 60 === 0) return seconds === 60 ? 'minute' : `${seconds / 60} minutes`;
  return `${seconds} s`;
}

import { fileURLToPath } from 'node:url';
import { type PostroomConfig, parseConfig } from '../../functions/core/config/config';
import { buildFormMailJob } from '../../functions/core/forms/form-mail';
import type { FormSubmission } from '../../functions/core/forms/form-submission';
import { validateSubmission } from '../../functions/core/forms/form-submission';
import type { MailJob } from '../../functions/core/mail/mail-job';
import { readPostroomContext } from '../../local/config-file';
import { shippedTemplatesNow } from '../support/templates';

/**
 * The configuration tests run with: the `postroom` context cdk.json ships, frozen in this fixture. Users edit
 * their cdk.json; tests never read it (only test/unit/shipped-config.test.ts checks that it is valid).
 */
export const FIXTURE_CONFIG_FILE = fileURLToPath(new URL('../fixtures/postroom.cdk.json', import.meta.url));

/** The fixture's `postroom` context (the configuration cdk.json ships), as raw JSON: a fresh copy on every call. */
export function shippedConfigInput(): Record<string, unknown> {
  return readPostroomContext(FIXTURE_CONFIG_FILE) as Record<string, unknown>;
}

/** The shipped configuration (the fixture), parsed. */
export function shippedConfig(): PostroomConfig {
  return parseConfig(shippedConfigInput());
}

/** The shipped configuration with some top-level fields replaced, parsed. */
export function configWith(overrides: Record<string, unknown>): PostroomConfig {
  return parseConfig({ ...shippedConfigInput(), ...overrides });
}

export const JOB_ID = '5d3c2b1a-0f9e-4d8c-8b7a-6e5f4d3c2b1a';
export const CREATED_AT = new Date(Date.UTC(2025, 0, 15, 12, 0, 0));

/** A valid job for the shipped contact form, built the way the send function builds one. */
export function contactJob(
  fields: ReadonlyArray<readonly [string, string]> = [
    ['email', 'visitor@example.org'],
    ['name', 'Vera Visitor'],
    ['message', 'Hello, I would like a quote.'],
  ],
  id = JOB_ID,
): { job: MailJob; submission: FormSubmission; config: PostroomConfig } {
  const config = shippedConfig();
  const form = config.forms[0];
  if (!form) throw new Error('the shipped config has no form');
  const submission = validateSubmission(fields, form);
  return {
    job: buildFormMailJob(config, form, submission, { id, createdAt: CREATED_AT }, [], shippedTemplatesNow()),
    submission,
    config,
  };
}

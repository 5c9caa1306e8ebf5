import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../infra/postroom-stack';

/** Synthesis is CPU-bound (esbuild bundles both functions when asked to): allow for a slow CI machine. */
export const SYNTH_TIMEOUT_MS = 300_000;

const form = { id: 'contact', recipients: ['owner@example.com'], subject: 'New message from {{name}}' };

/** Only what the schema requires: every other setting takes its default. */
export const defaultConfig = {
  region: 'eu-west-1',
  sender: 'Postroom <no-reply@mail.example.com>',
  forms: [form],
};

/** Every optional feature on, with values unlike the defaults, so a test proves each value arrives. */
export const fullConfig = {
  ...defaultConfig,
  forms: [
    {
      ...form,
      captcha: { provider: 'turnstile', secret: 'postroom/turnstile' },
      files: { allowedTypes: ['application/pdf'] },
    },
  ],
  // SES first, an SMTP relay with its own secret as the failover (docs/failover.md).
  transports: [
    { kind: 'ses', domainIdentity: 'example.com' },
    {
      kind: 'smtp',
      id: 'backup',
      host: 'smtp.backup.example.net',
      user: 'postroom',
      passwordSecret: 'postroom/backup-smtp-password',
    },
  ],
  api: { throttleRatePerSecond: 20, throttleBurst: 40, waf: { enabled: true, requestsPerFiveMinutes: 500 } },
  queue: { batchingWindowSeconds: 5 },
  monitoring: { logRetentionDays: 14, level: 'full', encryptTopics: true, traceSamplePercent: 20 },
};

/** SMTP relay with AUTH, its password in Secrets Manager (by name). */
export const smtpConfig = {
  ...defaultConfig,
  transport: {
    kind: 'smtp',
    host: 'smtp.example.com',
    user: 'postroom',
    passwordSecret: 'postroom/smtp-password',
  },
};

/**
 * Builds the stack for `rawConfig` and returns its template. Bundling is skipped unless asked for (the
 * `aws:cdk:bundling-stacks` context that `cdk synth --exclusively` uses): template assertions do not look
 * inside the function code, and each bundle costs seconds. stack.test.ts and nag.test.ts bundle for real.
 */
export function synthesize(rawConfig: unknown, options: { bundle?: boolean } = {}) {
  const app = new App(options.bundle ? {} : { context: { 'aws:cdk:bundling-stacks': [] } });
  const { stack } = buildApp(rawConfig, app);
  return { app, stack, template: Template.fromStack(stack) };
}

/** The statements of every IAM policy attached to the role whose logical id starts with `rolePrefix`. */
export function statementsOfRole(template: Template, rolePrefix: string): PolicyStatementJson[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((policy) =>
      (policy.Properties.Roles as Array<{ Ref: string }>).some((role) => role.Ref.startsWith(rolePrefix)),
    )
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as PolicyStatementJson[]);
}

export interface PolicyStatementJson {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** A statement's actions as an array, whether CloudFormation has one or several. */
export function actionsOf(statement: PolicyStatementJson): string[] {
  return [statement.Action].flat();
}

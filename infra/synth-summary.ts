import type { PostroomConfig } from '../functions/core/config/config';
import type { Placeholder } from '../functions/core/config/placeholders';
import { pascalCase } from './postroom-stack';

/**
 * What `cdk synth` / `cdk deploy` built, for the person who ran it: printed on stderr, so a template that
 * `cdk synth` writes to stdout stays clean.
 */

export interface SynthFacts {
  readonly stackName: string;
  readonly config: PostroomConfig;
  /** Where the configuration came from: a file, or cdk.json's context. */
  readonly configSource: string;
  /** The account from the environment CDK was run in (CDK_DEFAULT_ACCOUNT), if any. */
  readonly account?: string | undefined;
  /** The placeholder values found, and whether `postroom:allowPlaceholders` let them through. */
  readonly placeholders: ReadonlyArray<Placeholder>;
  /** cdk-nag's AwsSolutions checks: whether synthesis passed them, and how many findings are acknowledged. */
  readonly nag: { readonly passed: boolean; readonly acknowledged: number };
}

export function synthSummary(facts: SynthFacts): string {
  const { config } = facts;
  const transport =
    config.transport.kind === 'ses'
      ? [
          'Amazon SES',
          config.transport.configurationSet === undefined
            ? 'configuration set created by the stack'
            : `configuration set ${config.transport.configurationSet} (yours: add its event destination)`,
          config.transport.domainIdentity === undefined
            ? 'no domain identity (the sender must already be verified in SES)'
            : `domain identity ${config.transport.domainIdentity} with Easy DKIM (publish the DkimRecord outputs)`,
        ].join(', ')
      : `SMTP ${config.transport.host}:${config.transport.port} (${
          config.transport.secure
            ? 'implicit TLS'
            : config.transport.requireTls
              ? 'STARTTLS required'
              : 'STARTTLS if offered'
        }${config.transport.user === undefined ? '' : `, AUTH as ${config.transport.user}`})`;
  const api = config.api;
  const lines = [
    `Postroom: synthesized stack ${facts.stackName} in ${config.region}${
      facts.account ? ` (account ${facts.account})` : ''
    }`,
    `  Sender     ${config.sender.name ? `${config.sender.name} <${config.sender.address}>` : config.sender.address}`,
    `  Transport  ${transport}`,
    `  API        REST, regional, stage prod; ${api.throttleRatePerSecond} requests/s, bursts of ${api.throttleBurst}; ` +
      `WAF ${api.waf.enabled ? `on (${api.waf.requestsPerFiveMinutes} requests per IP per 5 minutes)` : 'off'}`,
    '  Forms',
  ];
  for (const form of config.forms) {
    lines.push(
      `    ${form.id}: POST <ApiUrl>v1/forms/${form.id} (stack output FormEndpoint${pascalCase(form.id)}), ` +
        `${form.recipients.length} recipient${form.recipients.length === 1 ? '' : 's'}`,
      `      origins: ${form.allowedOrigins.length === 0 ? 'none (no browser may post)' : form.allowedOrigins.join(', ')}`,
      `      thank-you page: ${form.redirectUrl ?? 'none (plain HTML posts get a result page)'}` +
        (form.captcha ? `; captcha: ${form.captcha.provider}` : ''),
    );
  }
  const placeholders =
    facts.placeholders.length === 0
      ? 'none'
      : `${facts.placeholders.length} ALLOWED by postroom:allowPlaceholders (see the warning above): do not send real traffic`;
  lines.push(
    '  Checks',
    `    configuration: valid (${facts.configSource})`,
    `    placeholder values: ${placeholders}`,
    `    cdk-nag AwsSolutions: ${
      facts.nag.passed ? 'passed, no open finding' : 'FAILED (the report above lists each finding)'
    }; ${facts.nag.acknowledged} acknowledged in the code, each with its reason`,
  );
  return `${lines.join('\n')}\n`;
}

/** The refusal (or, opted out, the warning) for a synth with placeholder values. */
export function placeholderReport(placeholders: ReadonlyArray<Placeholder>, allowed: boolean): string {
  const list = placeholders.map((p) => `  ${p.field} = ${p.value}\n      ${p.reason}`).join('\n');
  if (!allowed) {
    return (
      `Postroom will not synthesize a stack with placeholder values (${placeholders.length}):\n${list}\n\n` +
      'Replace them with your own addresses, origins and pages (docs/configuration.md). To build anyway, for ' +
      'a trial stack that sends no real mail, add -c postroom:allowPlaceholders=true.\n'
    );
  }
  const bar = '!'.repeat(100);
  return (
    `${bar}\n!! WARNING: synthesizing with ${placeholders.length} placeholder value${placeholders.length === 1 ? '' : 's'} ` +
    '(postroom:allowPlaceholders is set).\n' +
    `${list}\n` +
    '!! Mail to or from reserved domains goes nowhere, and browsers on a real site are refused.\n' +
    `!! Do not point a real website at this stack.\n${bar}\n`
  );
}

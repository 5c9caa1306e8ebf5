import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoBreakerStore } from '../functions/adapters/dynamodb-breakers';
import { smtpSecretVariable } from '../functions/adapters/transport';
import type { PostroomConfig, SmtpTransportConfig, TransportConfig } from '../functions/core/config/config';
import type { BreakerState } from '../functions/core/failover/breaker';
import { maskedReason } from '../functions/core/relay/send-errors';
import type { Finding } from './command';
import { probeSender, SmtpProbeError, type SmtpProbeResult } from './smtp-probe';

/**
 * The CLI's view of failover (docs/failover.md): the breakers for `postroom status`, and for `postroom doctor`
 * whether each SMTP relay can be reached and takes mail from the sender.
 */

export interface BreakerView {
  readonly provider: string;
  readonly kind: TransportConfig['kind'];
  readonly state: BreakerState['state'];
  /** Open: when the probe may try it again; half-open: when the probe's lease ends. ISO 8601. */
  readonly until?: string;
}

/** Each configured provider's breaker, read from the record table (one GetItem each). */
export async function readBreakers(
  dynamodb: DynamoDBClient,
  tableName: string,
  config: PostroomConfig,
): Promise<BreakerView[]> {
  const store = new DynamoBreakerStore(dynamodb, tableName);
  return Promise.all(
    config.transports.map(async (transport) => {
      const state = await store.read(transport.id);
      const until =
        state.state === 'open' ? state.openUntil : state.state === 'half-open' ? state.probeUntil : undefined;
      return {
        provider: transport.id,
        kind: transport.kind,
        state: state.state,
        ...(until === undefined ? {} : { until: new Date(until).toISOString() }),
      };
    }),
  );
}

/**
 * Connects to each SMTP relay from here as the relay would: EHLO with its name, STARTTLS (required unless the
 * port speaks TLS), and AUTH when its password is in the environment (POSTROOM_SMTP_PASSWORD[_<ID>]; the CLI
 * never reads Secrets Manager). Then MAIL FROM with the configured sender, the envelope sender of every mail
 * (forms send as it; the API as any address at its domain), so a relay that will not let this login send as
 * that domain says so now; RSET and QUIT follow, and no RCPT TO or DATA is ever sent (cli/smtp-probe.ts).
 * Two findings a relay: `smtp <id>` for the session, `smtp <id> sender` for MAIL FROM.
 */
export async function checkSmtpRelays(config: PostroomConfig, env: NodeJS.ProcessEnv): Promise<Finding[]> {
  const relays = config.transports.filter(
    (t): t is TransportConfig & SmtpTransportConfig => t.kind === 'smtp',
  );
  const findings = await Promise.all(relays.map((relay) => checkRelay(relay, config.sender.address, env)));
  return findings.flat();
}

async function checkRelay(
  relay: TransportConfig & SmtpTransportConfig,
  sender: string,
  env: NodeJS.ProcessEnv,
): Promise<Finding[]> {
  const variable = smtpSecretVariable('POSTROOM_SMTP_PASSWORD', relay.id);
  const check = `smtp ${relay.id}`;
  const senderCheck = `${check} sender`;
  const where = `${relay.host}:${relay.port}`;
  const domain = sender.slice(sender.lastIndexOf('@') + 1);
  const mailFrom = `MAIL FROM:<${sender}>`;
  let result: SmtpProbeResult;
  try {
    result = await probeSender(
      {
        host: relay.host,
        port: relay.port,
        secure: relay.secure,
        requireTls: relay.requireTls,
        tlsRejectUnauthorized: relay.tlsRejectUnauthorized,
        ehloName: relay.ehloName ?? domain,
        timeoutMs: relay.timeoutSeconds * 1000,
      },
      relay.user === undefined ? undefined : { user: relay.user, password: env[variable] },
      sender,
    );
  } catch (error) {
    if (!(error instanceof SmtpProbeError)) throw error;
    return [
      {
        check,
        status: 'fail',
        // The relay's words may quote an address (the login, the sender): masked as in every log.
        detail: maskedReason(`${where}: ${error.message}`),
        fix: sessionFix(error, variable),
      },
      { check: senderCheck, status: 'skip', detail: `${mailFrom} not checked: the session failed before it` },
    ];
  }
  const tls = result.tls === 'tls' ? 'TLS' : result.tls === 'starttls' ? 'STARTTLS' : 'no TLS (not offered)';
  const session: Finding =
    result.auth === 'ok' || result.auth === 'none'
      ? {
          check,
          status: 'ok',
          detail: `${where} answers EHLO, ${tls}${result.auth === 'ok' ? `, AUTH as ${relay.user}` : ''}`,
        }
      : result.auth === 'no-password'
        ? {
            check,
            status: 'warn',
            detail: `${where} answers EHLO, ${tls}; AUTH not checked (no password here)`,
            fix: `set ${variable} to check AUTH and the sender from here (the relay reads its own secret)`,
          }
        : {
            check,
            status: 'warn',
            detail: `${where} answers EHLO, ${tls}, but offers no AUTH: the relay sends without logging in as ${relay.user}`,
            fix: 'check the port and TLS settings: relays offer AUTH on their submission port (587, or 465 with secure: true), often only after TLS',
          };
  return [session, senderFinding(result, { check: senderCheck, mailFrom, domain, variable, relay })];
}

function senderFinding(
  result: SmtpProbeResult,
  context: {
    check: string;
    mailFrom: string;
    domain: string;
    variable: string;
    relay: TransportConfig & SmtpTransportConfig;
  },
): Finding {
  const { check, mailFrom, domain, variable, relay } = context;
  const reply = result.mailFrom;
  if (reply === undefined) {
    return {
      check,
      status: 'warn',
      detail: `${mailFrom} not checked: the relay needs AUTH as ${relay.user} first, and ${variable} is not set here`,
      fix: `set ${variable} to check that the relay lets Postroom send as ${domain}`,
    };
  }
  const answer = maskedReason(reply.text);
  if (reply.code >= 200 && reply.code < 300) {
    return { check, status: 'ok', detail: `the relay accepts ${mailFrom} (${answer}); nothing was sent` };
  }
  const login = relay.user === undefined ? 'this client' : relay.user;
  if (reply.code >= 400 && reply.code < 500) {
    return {
      check,
      status: 'fail',
      detail: `the relay refuses ${mailFrom} for now (${answer}): a temporary refusal, mail would wait and be retried`,
      fix: 'run postroom doctor again later; if it persists, ask the relay operator why (rate limit, greylisting, a failed lookup on their side)',
    };
  }
  return {
    check,
    status: 'fail',
    detail: `the relay refuses ${mailFrom} (${answer}): every mail would fail on this relay`,
    fix: `let ${login} send as ${domain} at the relay (its verified senders or domains, or its sender login map), or set sender to an address it allows`,
  };
}

function sessionFix(error: SmtpProbeError, variable: string): string {
  switch (error.stage) {
    case 'auth':
      return `check the user and ${variable} (on AWS: the transport's passwordSecret)`;
    case 'starttls':
      return "check the relay's TLS: STARTTLS must succeed (requireTls), its certificate must verify (tlsRejectUnauthorized), and port 465 needs secure: true";
    case 'ehlo':
      return 'check ehloName: the relay refused the name Postroom greets it with';
    default:
      return 'check the host, the port and that this machine may reach the relay (the relay function must too)';
  }
}

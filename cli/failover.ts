import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createTransport } from 'nodemailer';
import { DynamoBreakerStore } from '../functions/adapters/dynamodb-breakers';
import { smtpSecretVariable } from '../functions/adapters/transport';
import type { PostroomConfig, SmtpTransportConfig, TransportConfig } from '../functions/core/config/config';
import type { BreakerState } from '../functions/core/failover/breaker';
import type { Finding } from './command';

/**
 * The CLI's view of failover (docs/failover.md): the breakers for `postroom status`, and the SMTP relays'
 * reachability for `postroom doctor`.
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
 * never reads Secrets Manager). nodemailer's verify() stops before MAIL FROM, so no mail is sent.
 * https://nodemailer.com/smtp/#verify-smtp-connection-configuration
 */
export async function checkSmtpRelays(config: PostroomConfig, env: NodeJS.ProcessEnv): Promise<Finding[]> {
  const relays = config.transports.filter(
    (t): t is TransportConfig & SmtpTransportConfig => t.kind === 'smtp',
  );
  return Promise.all(relays.map((relay) => checkRelay(relay, env)));
}

async function checkRelay(
  relay: TransportConfig & SmtpTransportConfig,
  env: NodeJS.ProcessEnv,
): Promise<Finding> {
  const variable = smtpSecretVariable('POSTROOM_SMTP_PASSWORD', relay.id);
  const password = env[variable];
  const withAuth = relay.user !== undefined && password !== undefined;
  const check = `smtp ${relay.id}`;
  const where = `${relay.host}:${relay.port}`;
  const transporter = createTransport({
    host: relay.host,
    port: relay.port,
    secure: relay.secure,
    requireTLS: !relay.secure && relay.requireTls,
    name: relay.ehloName,
    connectionTimeout: relay.timeoutSeconds * 1000,
    greetingTimeout: relay.timeoutSeconds * 1000,
    socketTimeout: relay.timeoutSeconds * 1000,
    tls: { rejectUnauthorized: relay.tlsRejectUnauthorized, minVersion: 'TLSv1.2' },
    ...(withAuth ? { auth: { user: relay.user, pass: password } } : {}),
    logger: false,
  });
  try {
    await transporter.verify();
    const tls = relay.secure ? 'TLS' : relay.requireTls ? 'STARTTLS' : 'no TLS required';
    return withAuth || relay.user === undefined
      ? {
          check,
          status: 'ok',
          detail: `${where} answers EHLO, ${tls}${withAuth ? `, AUTH as ${relay.user}` : ''}`,
        }
      : {
          check,
          status: 'warn',
          detail: `${where} answers EHLO, ${tls}; AUTH not checked (no password here)`,
          fix: `set ${variable} to check AUTH from here (the relay reads its own secret)`,
        };
  } catch (error) {
    const shape = error as { code?: unknown; message?: unknown };
    return {
      check,
      status: 'fail',
      detail: `${where}: ${String(shape.code ?? 'error')} ${String(shape.message ?? '')}`.trim(),
      fix:
        shape.code === 'EAUTH'
          ? `check the user and ${variable} (on AWS: the transport's passwordSecret)`
          : 'check the host, the port and that this machine may reach the relay (the relay function must too)',
    };
  } finally {
    transporter.close();
  }
}

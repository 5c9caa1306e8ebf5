import { secretSuffix, type TransportConfig } from '../core/config/config';
import type { Provider } from '../core/failover/failover';
import type { Transport } from '../core/ports';
import type { AwsClientOptions } from './aws-clients';
import { tracedTransport } from './xray-tracer';

/** The transport the configuration names. The SMTP password comes from the environment, never from config. */
export function createMailTransport(
  config: TransportConfig,
  aws: AwsClientOptions,
  secrets: {
    smtpPassword?: string | undefined;
    sesConfigurationSet?: string | undefined;
    /**
     * Another provider follows this one: SES is called once per attempt (no SDK retries), so a throttled or
     * unreachable SES moves the job on at once instead of after the SDK's backoff.
     */
    failsOver?: boolean;
  } = {},
): Transport {
  // SES calls are traced by the client; an SMTP relay is traced around each send.
  if (config.kind === 'smtp') {
    const password = secrets.smtpPassword;
    return tracedTransport(
      loadedOnFirstSend(() =>
        import('./smtp-transport').then(({ SmtpTransport }) => new SmtpTransport(config, password)),
      ),
      'SMTP',
    );
  }
  // A configuration set the stack created is named at deploy time and passed in; a configured one wins.
  const configurationSet = config.configurationSet ?? secrets.sesConfigurationSet;
  return loadedOnFirstSend(() =>
    Promise.all([import('./ses-client'), import('./ses-transport')]).then(
      ([{ createSesClient }, { SesTransport }]) =>
        new SesTransport(createSesClient(aws, secrets.failsOver ? 1 : undefined), { configurationSet }),
    ),
  );
}

/**
 * Every configured provider, in failover order, each with its own transport (and its own SMTP password:
 * `passwords(id)`). Each client still loads with the first mail that goes to it.
 */
export function createProviders(
  transports: ReadonlyArray<TransportConfig>,
  aws: AwsClientOptions,
  secrets: {
    smtpPassword: (transportId: string) => string | undefined;
    sesConfigurationSet?: string | undefined;
  },
): Provider[] {
  return transports.map((transport, index) => ({
    id: transport.id,
    kind: transport.kind,
    transport: createMailTransport(transport, aws, {
      smtpPassword: secrets.smtpPassword(transport.id),
      sesConfigurationSet: secrets.sesConfigurationSet,
      failsOver: index < transports.length - 1,
    }),
  }));
}

/** The environment variable that holds an SMTP transport's secret, by its id: `<base>` or `<base>_<ID>`. */
export function smtpSecretVariable(base: string, transportId: string): string {
  return `${base}${secretSuffix(transportId)}`;
}

/**
 * The transport's client is loaded with the first mail rather than at cold start: the SES v2 client and
 * nodemailer's SMTP client are each code the relay's start would otherwise load and compile before it
 * polls the queue, and a relay loads only the one its configuration names. The promise is kept, so a
 * container creates its client, and its connection pool, once.
 */
function loadedOnFirstSend(load: () => Promise<Transport>): Transport {
  let transport: Promise<Transport> | undefined;
  const loaded = () => {
    transport ??= load();
    return transport;
  };
  return {
    send: async (mail) => (await loaded()).send(mail),
    close: async () => {
      if (transport !== undefined) await (await transport).close?.();
    },
  };
}

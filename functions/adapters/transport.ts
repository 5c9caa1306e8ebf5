import type { TransportConfig } from '../core/config';
import type { Transport } from '../core/ports';
import type { AwsClientOptions } from './aws-clients';
import { createSesClient } from './aws-clients';
import { SesTransport } from './ses-transport';
import { tracedTransport } from './xray-tracer';

/** The transport the configuration names. The SMTP password comes from the environment, never from config. */
export function createMailTransport(
  config: TransportConfig,
  aws: AwsClientOptions,
  secrets: { smtpPassword?: string | undefined; sesConfigurationSet?: string | undefined } = {},
): Transport {
  // SES calls are traced by the client; an SMTP relay is traced around each send.
  if (config.kind === 'smtp') return tracedTransport(lazySmtpTransport(config, secrets.smtpPassword), 'SMTP');
  // A configuration set the stack created is named at deploy time and passed in; a configured one wins.
  const configurationSet = config.configurationSet ?? secrets.sesConfigurationSet;
  return new SesTransport(createSesClient(aws), { configurationSet });
}

/**
 * nodemailer's SMTP client is loaded with the first mail rather than at cold start, so a relay that sends
 * through SES never loads it (the MIME composer the relay always needs is a separate, smaller part).
 */
function lazySmtpTransport(
  config: Extract<TransportConfig, { kind: 'smtp' }>,
  password: string | undefined,
): Transport {
  let transport: Promise<Transport> | undefined;
  const load = () => {
    transport ??= import('./smtp-transport').then(({ SmtpTransport }) => new SmtpTransport(config, password));
    return transport;
  };
  return {
    send: async (mail) => (await load()).send(mail),
    close: async () => {
      if (transport !== undefined) await (await transport).close?.();
    },
  };
}

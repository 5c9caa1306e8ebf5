import type { TransportConfig } from '../core/config';
import type { Transport } from '../core/ports';
import type { AwsClientOptions } from './aws-clients';
import { createSesClient } from './aws-clients';
import { SesTransport } from './ses-transport';
import { SmtpTransport } from './smtp-transport';
import { tracedTransport } from './xray-tracer';

/** The transport the configuration names. The SMTP password comes from the environment, never from config. */
export function createMailTransport(
  config: TransportConfig,
  aws: AwsClientOptions,
  secrets: { smtpPassword?: string | undefined; sesConfigurationSet?: string | undefined } = {},
): Transport {
  // SES calls are traced by the client; an SMTP relay is traced around each send.
  if (config.kind === 'smtp') return tracedTransport(new SmtpTransport(config, secrets.smtpPassword), 'SMTP');
  // A configuration set the stack created is named at deploy time and passed in; a configured one wins.
  const configurationSet = config.configurationSet ?? secrets.sesConfigurationSet;
  return new SesTransport(createSesClient(aws), { configurationSet });
}

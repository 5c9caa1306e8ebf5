import type { TransportConfig } from '../core/config';
import type { Transport } from '../core/ports';
import type { AwsClientOptions } from './aws-clients';
import { createSesClient } from './aws-clients';
import { SesTransport } from './ses-transport';
import { SmtpTransport } from './smtp-transport';

/** The transport the configuration names. The SMTP password comes from the environment, never from config. */
export function createMailTransport(
  config: TransportConfig,
  aws: AwsClientOptions,
  secrets: { smtpPassword?: string | undefined; sesConfigurationSet?: string | undefined } = {},
): Transport {
  if (config.kind === 'smtp') return new SmtpTransport(config, secrets.smtpPassword);
  // A configuration set the stack created is named at deploy time and passed in; a configured one wins.
  const configurationSet = config.configurationSet ?? secrets.sesConfigurationSet;
  return new SesTransport(createSesClient(aws), { configurationSet });
}

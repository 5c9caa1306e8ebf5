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
  smtpPassword: string | undefined,
): Transport {
  if (config.kind === 'smtp') return new SmtpTransport(config, smtpPassword);
  return new SesTransport(createSesClient(aws), { configurationSet: config.configurationSet });
}

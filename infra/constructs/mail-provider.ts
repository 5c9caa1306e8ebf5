import { Stack } from 'aws-cdk-lib';
import { type IGrantable, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { ConfigurationSet, EmailIdentity, type IConfigurationSet, Identity } from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import { type PostroomConfig, secretSuffix } from '../../functions/core/config/config';
import { ConfigError } from '../../functions/core/errors';

export interface MailProviderProps {
  /** The From of every mail: the SES identities the relay may send as are derived from it. */
  readonly senderAddress: string;
  /** `transport` of the validated configuration. */
  readonly transport: PostroomConfig['transport'];
  /**
   * Every provider of the failover list (`transports`), in order; each SMTP relay's secret is read by the relay.
   * @default - `transport` alone
   */
  readonly transports?: PostroomConfig['transports'];
}

/**
 * What the relay needs from the mail provider. For SES: a configuration set (created, unless the config
 * names an existing one), an optional domain identity with Easy DKIM, and send rights scoped to them. For
 * SMTP: read access to the Secrets Manager secret holding the password, which never travels in config or env.
 */
export class MailProvider extends Construct {
  /** The SES configuration set the relay sends with; undefined for SMTP. */
  readonly configurationSet: IConfigurationSet | undefined;
  /**
   * The configuration set when this stack created it (and so may add event destinations to it); undefined
   * when the config names an existing set, or for SMTP.
   */
  readonly ownedConfigurationSet: ConfigurationSet | undefined;
  /** Its name, for SES per-configuration-set metrics and alarms; undefined for SMTP. */
  readonly configurationSetName: string | undefined;
  /** The domain identity the stack created (`transport.domainIdentity`), whose DKIM records go to DNS. */
  readonly domainIdentity: EmailIdentity | undefined;
  /** The secret holding the SMTP password (`transport.passwordSecret`). */
  readonly smtpPasswordSecret: ISecret | undefined;
  /** Variables the relay reads to use these resources: SES_CONFIGURATION_SET, SMTP_PASSWORD_SECRET_ARN. */
  readonly relayEnvironment: Readonly<Record<string, string>>;

  private readonly sesIdentities: readonly string[];

  /** The secrets of the SMTP relays after the first in the failover list, by transport id. */
  readonly failoverSecrets: ReadonlyArray<ISecret>;

  constructor(scope: Construct, id: string, props: MailProviderProps) {
    super(scope, id);
    const { senderAddress } = props;
    const transports = props.transports ?? [props.transport];
    // SES's resources come from the SES entry wherever it is in the list; the SMTP password of the first
    // SMTP relay keeps SMTP_PASSWORD_SECRET_ARN (as with a single relay), the others get their own variable.
    const transport = transports.find((t) => t.kind === 'ses') ?? props.transport;
    const others = transports.filter(
      (t): t is Extract<typeof t, { kind: 'smtp' }> => t.kind === 'smtp' && t !== transport,
    );
    const failover = others.flatMap((smtp) => {
      if (smtp.passwordSecret === undefined) {
        if (smtp.user !== undefined)
          throw new ConfigError([
            {
              field: `postroom.transports["${smtp.id}"].passwordSecret`,
              message:
                'is required when user is set: name the Secrets Manager secret that holds the SMTP password',
            },
          ]);
        return [];
      }
      const secret = importSecret(this, `SmtpPassword${secretSuffix(smtp.id)}`, smtp.passwordSecret);
      return [{ secret, variable: `SMTP_PASSWORD_SECRET_ARN${secretSuffix(smtp.id)}` }];
    });
    this.failoverSecrets = failover.map((f) => f.secret);
    const failoverEnvironment = Object.fromEntries(failover.map((f) => [f.variable, f.secret.secretArn]));

    if (transport.kind === 'ses') {
      // The configuration set carries reputation metrics (bounce and complaint rates per set) and is where
      // SES event destinations attach. A named existing set is used as is: the stack does not own it.
      this.ownedConfigurationSet = transport.configurationSet
        ? undefined
        : new ConfigurationSet(this, 'ConfigurationSet', { reputationMetrics: true });
      this.configurationSet =
        this.ownedConfigurationSet ??
        ConfigurationSet.fromConfigurationSetName(this, 'ConfigurationSet', transport.configurationSet ?? '');
      this.configurationSetName = this.configurationSet.configurationSetName;
      // Easy DKIM (the default): SES signs with keys it rotates; the three CNAME records prove the domain.
      // https://docs.aws.amazon.com/ses/latest/dg/send-email-authentication-dkim-easy.html
      this.domainIdentity = transport.domainIdentity
        ? new EmailIdentity(this, 'DomainIdentity', {
            identity: Identity.domain(transport.domainIdentity),
            configurationSet: this.configurationSet,
          })
        : undefined;
      const senderDomain = senderAddress.slice(senderAddress.lastIndexOf('@') + 1);
      this.sesIdentities = [
        ...new Set([
          senderDomain,
          senderAddress,
          ...(transport.domainIdentity ? [transport.domainIdentity] : []),
        ]),
      ];
      this.relayEnvironment = { SES_CONFIGURATION_SET: this.configurationSetName, ...failoverEnvironment };
      this.smtpPasswordSecret = undefined;
      return;
    }

    this.configurationSet = undefined;
    this.ownedConfigurationSet = undefined;
    this.configurationSetName = undefined;
    this.domainIdentity = undefined;
    this.sesIdentities = [];
    if (transport.passwordSecret === undefined) {
      if (transport.user !== undefined) {
        throw new ConfigError([
          {
            field: 'postroom.transport.passwordSecret',
            message:
              'is required when transport.user is set: name the Secrets Manager secret that holds the SMTP password',
          },
        ]);
      }
      this.smtpPasswordSecret = undefined;
      this.relayEnvironment = failoverEnvironment;
      return;
    }
    this.smtpPasswordSecret = importSecret(this, 'SmtpPassword', transport.passwordSecret);
    this.relayEnvironment = {
      SMTP_PASSWORD_SECRET_ARN: this.smtpPasswordSecret.secretArn,
      ...failoverEnvironment,
    };
  }

  /**
   * Lets `grantee` send through the provider: for SES, ses:SendEmail and ses:SendRawEmail on the sender's
   * identities and the configuration set only; for SMTP, reading the password secret.
   * SES authorizes a send against the identity of the From address (the address when it is verified,
   * otherwise its domain or a parent domain) and against the configuration set used.
   * https://docs.aws.amazon.com/ses/latest/dg/control-user-access.html
   */
  grantSend(grantee: IGrantable): void {
    this.smtpPasswordSecret?.grantRead(grantee);
    for (const secret of this.failoverSecrets) secret.grantRead(grantee);
    if (this.configurationSetName === undefined) return;
    const stack = Stack.of(this);
    const arn = (resource: string, resourceName: string) =>
      stack.formatArn({ service: 'ses', resource, resourceName });
    grantee.grantPrincipal.addToPrincipalPolicy(
      new PolicyStatement({
        actions: ['ses:SendEmail', 'ses:SendRawEmail'],
        resources: [
          ...this.sesIdentities.map((identity) => arn('identity', identity)),
          arn('configuration-set', this.configurationSetName),
        ],
      }),
    );
  }
}

/**
 * `transport.passwordSecret` is a secret name or ARN. A complete ARN ends in the six random characters
 * Secrets Manager appends; a name or partial ARN is granted with a `-??????` wildcard in its place.
 * https://docs.aws.amazon.com/secretsmanager/latest/userguide/reference_iam-permissions.html#iam-resources
 */
export function importSecret(scope: Construct, id: string, nameOrArn: string): ISecret {
  if (!nameOrArn.startsWith('arn:')) return Secret.fromSecretNameV2(scope, id, nameOrArn);
  return /-[A-Za-z0-9]{6}$/.test(nameOrArn)
    ? Secret.fromSecretCompleteArn(scope, id, nameOrArn)
    : Secret.fromSecretPartialArn(scope, id, nameOrArn);
}

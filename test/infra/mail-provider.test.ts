import { App } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../functions/core/errors';
import { buildApp } from '../../infra/postroom-stack';
import {
  actionsOf,
  defaultConfig,
  fullConfig,
  SYNTH_TIMEOUT_MS,
  smtpConfig,
  statementsOfRole,
  synthesize,
} from './stack-fixture';

describe('Construct: MailProvider', { timeout: SYNTH_TIMEOUT_MS }, () => {
  let byDefault: Template;
  let full: Template;
  let smtp: Template;

  beforeAll(() => {
    // Prepare & Act
    byDefault = synthesize(defaultConfig).template;
    full = synthesize(fullConfig).template;
    smtp = synthesize(smtpConfig).template;
  }, SYNTH_TIMEOUT_MS);

  describe('SES', () => {
    it('creates a configuration set with reputation metrics and names it in the relay environment', () => {
      // Assess
      byDefault.resourceCountIs('AWS::SES::ConfigurationSet', 1);
      byDefault.hasResourceProperties('AWS::SES::ConfigurationSet', {
        ReputationOptions: { ReputationMetricsEnabled: true },
      });
      byDefault.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('^Postroom relay'),
        Environment: {
          Variables: Match.objectLike({
            SES_CONFIGURATION_SET: { Ref: Match.stringLikeRegexp('^MailProviderConfigurationSet') },
          }),
        },
      });
    });

    it('allows sends through the created configuration set', () => {
      // Prepare
      const sesResources = statementsOfRole(byDefault, 'RelayRole')
        .filter((statement) => actionsOf(statement).includes('ses:SendEmail'))
        .flatMap((statement) => [statement.Resource].flat());

      // Assess
      expect(sesResources.map((resource) => JSON.stringify(resource))).toContainEqual(
        expect.stringMatching(/:configuration-set\/",\{"Ref":"MailProviderConfigurationSet[0-9A-F]+"\}/),
      );
    });

    it('creates the domain identity with Easy DKIM and the configuration set', () => {
      // Assess
      full.hasResourceProperties('AWS::SES::EmailIdentity', {
        EmailIdentity: 'example.com',
        ConfigurationSetAttributes: {
          ConfigurationSetName: { Ref: Match.stringLikeRegexp('^MailProviderConfigurationSet') },
        },
        // Easy DKIM is SES's default: no BYODKIM key, signing not turned off.
        DkimSigningAttributes: Match.absent(),
        DkimAttributes: Match.absent(),
      });
    });

    it("outputs the domain identity's three DKIM CNAME records", () => {
      // Assess
      for (const n of [1, 2, 3]) {
        full.hasOutput(`DkimRecord${n}Name`, {
          Value: {
            'Fn::GetAtt': [Match.stringLikeRegexp('^MailProviderDomainIdentity'), `DkimDNSTokenName${n}`],
          },
        });
        full.hasOutput(`DkimRecord${n}Value`, {
          Value: {
            'Fn::GetAtt': [Match.stringLikeRegexp('^MailProviderDomainIdentity'), `DkimDNSTokenValue${n}`],
          },
        });
      }
    });

    it('creates no identity and no DKIM outputs without transport.domainIdentity', () => {
      // Assess
      byDefault.resourceCountIs('AWS::SES::EmailIdentity', 0);
      expect(Object.keys(byDefault.findOutputs('DkimRecord*'))).toEqual([]);
    });
  });

  describe('SMTP', () => {
    it('lets the relay read the password secret, and nothing else of Secrets Manager', () => {
      // Prepare
      const secretStatements = statementsOfRole(smtp, 'RelayRole').filter((statement) =>
        actionsOf(statement).some((action) => action.startsWith('secretsmanager:')),
      );

      // Assess
      expect(secretStatements).toEqual([
        {
          Effect: 'Allow',
          Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
          Resource: expect.anything(),
        },
      ]);
      // A name is granted with the six random characters Secrets Manager appends to the ARN.
      expect(JSON.stringify(secretStatements[0]?.Resource)).toContain(
        ':secret:postroom/smtp-password-??????"',
      );
    });

    it('passes the secret ARN to the relay, never the password', () => {
      // Assess
      smtp.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp('^Postroom relay'),
        Environment: {
          Variables: Match.objectLike({
            SMTP_PASSWORD_SECRET_ARN: {
              'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(':secret:postroom/smtp-password$')])],
            },
          }),
        },
      });
    });

    it('allows no SES sends and creates no SES resources', () => {
      // Prepare
      const sesActions = statementsOfRole(smtp, 'RelayRole')
        .flatMap(actionsOf)
        .filter((action) => action.startsWith('ses:'));

      // Assess
      expect(sesActions).toEqual([]);
      smtp.resourceCountIs('AWS::SES::ConfigurationSet', 0);
    });

    it('fails to build, naming postroom.transport.passwordSecret, when a user has no password secret', () => {
      // Prepare
      const { passwordSecret: _, ...transport } = smtpConfig.transport;
      let thrown: unknown;

      // Act
      try {
        buildApp({ ...smtpConfig, transport }, new App({ context: { 'aws:cdk:bundling-stacks': [] } }));
      } catch (error) {
        thrown = error;
      }

      // Assess
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).problems).toEqual([
        { field: 'postroom.transport.passwordSecret', message: expect.stringContaining('transport.user') },
      ]);
    });
  });
});

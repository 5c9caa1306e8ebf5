import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  actionsOf,
  defaultConfig,
  fullConfig,
  SYNTH_TIMEOUT_MS,
  statementsOfRole,
  synthesize,
} from './stack-fixture';

describe('Construct: Relay', { timeout: SYNTH_TIMEOUT_MS }, () => {
  let byDefault: Template;
  let full: Template;

  beforeAll(() => {
    // Prepare & Act
    byDefault = synthesize(defaultConfig).template;
    full = synthesize(fullConfig).template;
  }, SYNTH_TIMEOUT_MS);

  it('gathers a batch for the configured batching window', () => {
    // Assess
    full.hasResourceProperties('AWS::Lambda::EventSourceMapping', { MaximumBatchingWindowInSeconds: 5 });
  });

  it('invokes the relay without a batching window when the window is 0', () => {
    // Assess
    byDefault.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      MaximumBatchingWindowInSeconds: Match.absent(),
    });
  });

  it.each([
    ['one provider', () => byDefault, ['job#*', 'msg#*']],
    // With failover (the full fixture lists SES and an SMTP relay), the providers' breakers too.
    ['two providers', () => full, ['job#*', 'msg#*', 'brk#*']],
  ])(
    'lets the relay only update and read its claims, message status (and breakers) in the record table: %s',
    (_name, template, keys) => {
      // Prepare
      const tableStatements = statementsOfRole(template(), 'RelayRole').filter((statement) =>
        actionsOf(statement).some((action) => action.startsWith('dynamodb:')),
      );

      // Assess
      expect(tableStatements).toEqual([
        {
          Effect: 'Allow',
          Action: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
          Resource: { 'Fn::GetAtt': [expect.stringMatching(/^StoreTable/), 'Arn'] },
          Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': keys } },
        },
      ]);
    },
  );

  it('keeps every log group for the configured retention', () => {
    // Assess
    full.resourceCountIs('AWS::Logs::LogGroup', 4);
    full.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 14 });
  });

  it('keeps every log group for 30 days by default', () => {
    // Assess
    byDefault.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('grants a wildcard resource only to X-Ray, whose actions cannot be scoped', () => {
    // Prepare
    const wildcardActions = ['RelayRole', 'ApiSendRole']
      .flatMap((role) => statementsOfRole(full, role))
      .filter((statement) => [statement.Resource].flat().includes('*'))
      .flatMap(actionsOf);

    // Assess
    expect(new Set(wildcardActions)).toEqual(new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']));
  });
});

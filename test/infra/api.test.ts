import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { defaultConfig, fullConfig, SYNTH_TIMEOUT_MS, synthesize } from './stack-fixture';

describe('Construct: Api', { timeout: SYNTH_TIMEOUT_MS }, () => {
  let byDefault: Template;
  let full: Template;

  beforeAll(() => {
    // Prepare & Act
    byDefault = synthesize(defaultConfig).template;
    full = synthesize(fullConfig).template;
  }, SYNTH_TIMEOUT_MS);

  it('routes the transactional API to the send function, authorized by its own API-key check', () => {
    // Prepare
    const paths = Object.values(byDefault.findResources('AWS::ApiGateway::Resource')).map(
      (resource) => resource.Properties.PathPart,
    );
    const methods = Object.values(byDefault.findResources('AWS::ApiGateway::Method')).map(
      (method) => `${method.Properties.HttpMethod} ${method.Properties.AuthorizationType}`,
    );

    // Assess
    expect(paths).toEqual(
      expect.arrayContaining([
        'send',
        'batch',
        'messages',
        '{messageId}',
        'templates',
        '{templateId}',
        'render',
        'cancel',
        'openapi.json',
      ]),
    );
    // /health, GET /v1/messages/{messageId}, the OpenAPI document and Resend's GET /emails/{emailId}.
    // The form, send, batch, template render and the cancel of a scheduled message (docs/scheduling.md),
    // and the Resend-compatible send, batch and cancel (docs/resend.md).
    expect(methods.filter((method) => method === 'POST NONE')).toHaveLength(8);
    expect(methods.filter((method) => method === 'GET NONE')).toHaveLength(4);
    expect(methods.filter((method) => method === 'PATCH NONE')).toHaveLength(2);
  });

  it("routes Resend's email paths under /resend to the send function", () => {
    // Prepare
    const resources = byDefault.findResources('AWS::ApiGateway::Resource');
    const pathOf = (logicalId: string): string => {
      const resource = resources[logicalId];
      if (resource === undefined) return '';
      const parent = resource.Properties.ParentId as { Ref?: string };
      return `${parent.Ref && resources[parent.Ref] ? pathOf(parent.Ref) : ''}/${resource.Properties.PathPart}`;
    };
    const sendFunction = Object.keys(byDefault.findResources('AWS::Lambda::Function')).find((id) =>
      id.startsWith('ApiSend'),
    );
    const resendMethods = Object.values(byDefault.findResources('AWS::ApiGateway::Method'))
      .map((method) => ({
        route: `${method.Properties.HttpMethod} ${pathOf((method.Properties.ResourceId as { Ref: string }).Ref)}`,
        target: JSON.stringify(method.Properties.Integration.Uri),
        type: method.Properties.Integration.Type,
      }))
      .filter((method) => method.route.includes(' /resend/'));

    // Assess
    expect(resendMethods.map((method) => method.route).sort()).toEqual([
      'GET /resend/emails/{emailId}',
      'PATCH /resend/emails/{emailId}',
      'POST /resend/emails',
      'POST /resend/emails/batch',
      'POST /resend/emails/{emailId}/cancel',
    ]);
    expect(sendFunction).toBeDefined();
    for (const method of resendMethods) {
      expect(method.type).toBe('AWS_PROXY');
      expect(method.target).toContain(`"${sendFunction}"`);
    }
  });

  it('throttles the stage at the configured rate and burst', () => {
    // Assess
    full.hasResourceProperties('AWS::ApiGateway::Stage', {
      MethodSettings: [
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 20,
          ThrottlingBurstLimit: 40,
        }),
      ],
    });
  });

  it('writes a JSON access log line per request to its own log group', () => {
    // Prepare
    const stage = Object.values(full.findResources('AWS::ApiGateway::Stage'))[0];
    const setting = stage?.Properties.AccessLogSetting;

    // Assess
    // The log group's ARN without the trailing `:*` of its GetAtt Arn, which API Gateway's destination
    // takes as is (feature flag @aws-cdk/aws-apigateway:logGroupDestinationArnWithoutWildcard).
    expect(setting?.DestinationArn).toEqual({
      'Fn::Join': [
        '',
        [
          'arn:aws:logs:eu-west-1:',
          { Ref: 'AWS::AccountId' },
          ':log-group:',
          { Ref: expect.stringMatching(/^ApiAccessLogs/) },
        ],
      ],
    });
    expect(JSON.parse(setting?.Format)).toMatchObject({
      requestId: '$context.requestId',
      ip: '$context.identity.sourceIp',
      status: '$context.status',
      responseLatency: '$context.responseLatency',
      errorType: '$context.error.responseType',
    });
  });

  it('keeps the access log for the configured retention', () => {
    // Assess
    const accessLogs = full.findResources('AWS::Logs::LogGroup', { Properties: { RetentionInDays: 14 } });
    expect(Object.keys(accessLogs)).toContainEqual(expect.stringMatching(/^ApiAccessLogs/));
  });

  it("answers API Gateway's own throttling, size and routing errors as problem+json", () => {
    // Assess
    for (const [type, status] of [
      ['DEFAULT_4XX', undefined],
      ['DEFAULT_5XX', undefined],
      ['THROTTLED', '429'],
      ['REQUEST_TOO_LARGE', '413'],
      ['MISSING_AUTHENTICATION_TOKEN', '404'],
    ] as const) {
      byDefault.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
        ResponseType: type,
        StatusCode: status ?? Match.absent(),
        ResponseParameters: { 'gatewayresponse.header.Content-Type': "'application/problem+json'" },
        ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"title":".+","(status|detail)"') },
      });
    }
  });

  it('adds no WAF web ACL by default', () => {
    // Assess
    byDefault.resourceCountIs('AWS::WAFv2::WebACL', 0);
    byDefault.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
  });

  it('blocks a client IP over the configured requests per five minutes when WAF is enabled', () => {
    // Assess
    full.hasResourceProperties('AWS::WAFv2::WebACL', {
      Scope: 'REGIONAL',
      DefaultAction: { Allow: {} },
      Rules: [
        Match.objectLike({
          Action: { Block: Match.objectLike({ CustomResponse: Match.objectLike({ ResponseCode: 429 }) }) },
          Statement: { RateBasedStatement: { Limit: 500, AggregateKeyType: 'IP', EvaluationWindowSec: 300 } },
          VisibilityConfig: Match.objectLike({ CloudWatchMetricsEnabled: true }),
        }),
      ],
    });
  });

  it('associates the web ACL with the API stage', () => {
    // Assess
    full.hasResourceProperties('AWS::WAFv2::WebACLAssociation', {
      WebACLArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^ApiFirewallWebAcl'), 'Arn'] },
      ResourceArn: {
        'Fn::Join': [
          '',
          Match.arrayWith([
            Match.stringLikeRegexp(':apigateway:eu-west-1::/restapis/$'),
            { Ref: Match.stringLikeRegexp('^ApiRestApiDeploymentStage') },
          ]),
        ],
      },
    });
  });

  it('tells the send function the table that holds its rate-limit counters', () => {
    // Assess
    full.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Postroom send'),
      Environment: {
        Variables: Match.objectLike({ TABLE_NAME: { Ref: Match.stringLikeRegexp('^StoreTable') } }),
      },
    });
  });

  it('lets the send function read the captcha secret of a form that has one, and no other secret', () => {
    full.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
            Resource: Match.objectLike({
              'Fn::Join': [
                '',
                Match.arrayWith([Match.stringLikeRegexp(':secret:postroom/turnstile-\\?\\?\\?\\?\\?\\?$')]),
              ],
            }),
          }),
        ]),
      },
      Roles: [{ Ref: Match.stringLikeRegexp('^ApiSend') }],
    });
    expect(JSON.stringify(byDefault.toJSON())).not.toContain('secretsmanager:GetSecretValue');
  });

  it('is a regional endpoint, so the stage and WAF see the client IP', () => {
    byDefault.hasResourceProperties('AWS::ApiGateway::RestApi', {
      EndpointConfiguration: { Types: ['REGIONAL'] },
    });
  });
});

import { Duration, Names, Stack, Validations } from 'aws-cdk-lib';
import {
  AccessLogField,
  AccessLogFormat,
  EndpointType,
  LambdaIntegration,
  LogGroupLogDestination,
  type Method,
  ResponseType,
  RestApi,
} from 'aws-cdk-lib/aws-apigateway';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { CfnSamplingRule } from 'aws-cdk-lib/aws-xray';
import { Construct } from 'constructs';
import type { PostroomConfig } from '../../functions/core/config/config';
import {
  SEND_DELETE_KEY_PREFIXES,
  SEND_KEY_PREFIXES,
  SEND_READ_ONLY_KEY_PREFIXES,
} from '../../functions/core/table-keys';
import type { SubmissionArchive } from './archive';
import type { Attachments } from './attachments';
import { Firewall } from './firewall';
import { MailFunction } from './mail-function';
import { importSecret } from './mail-provider';
import type { Scheduling } from './scheduling';
import { grantItems } from './store';

export interface ApiProps {
  /** The validated configuration, built into the function's code package. */
  readonly config: PostroomConfig;
  readonly mailQueue: IQueue;
  /** The record table, where the send function keeps its rate-limit counters and duplicate fingerprints. */
  readonly table: ITable;
  /**
   * Steady-state requests per second across the stage.
   * @default 50
   */
  readonly throttlingRateLimit?: number;
  /**
   * Burst of requests above the rate.
   * @default 100
   */
  readonly throttlingBurstLimit?: number;
  /**
   * Retention of the access log and of the send function's log.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: RetentionDays;
  /**
   * Put an AWS WAF web ACL with a rate limit per client IP in front of the stage (see Firewall for its cost).
   * @default - no web ACL
   */
  readonly firewall?: { readonly requestsPerFiveMinutes: number };
  /**
   * Secrets Manager names or ARNs of the forms' captcha secret keys, read by the send function at cold start.
   * @default none
   */
  readonly captchaSecrets?: ReadonlyArray<string>;
  /**
   * The claim-check bucket, when a form accepts files.
   * @default none
   */
  readonly attachments?: Attachments;
  /** Scheduled send beyond 15 minutes: the send function creates and deletes the group's schedules. */
  readonly scheduling?: Scheduling;
  /** The submission archive: the send function adds to it and serves GET /v1/forms/{formId}/submissions. */
  readonly archive?: SubmissionArchive | undefined;
  /** Secrets Manager name or ARN of the Akismet key, for forms with `akismet`. */
  readonly akismetSecret?: string | undefined;
}

/**
 * Errors API Gateway answers itself, before the send function runs, in the API's error shape (RFC 9457).
 * `status` is only written where the response type fixes it; the DEFAULT_* types cover several codes.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html
 */
const GATEWAY_ERRORS: ReadonlyArray<{
  type: ResponseType;
  statusCode?: string;
  title: string;
  detail?: string;
}> = [
  { type: ResponseType.DEFAULT_4XX, title: 'Request refused' },
  { type: ResponseType.DEFAULT_5XX, title: 'Service error' },
  {
    type: ResponseType.THROTTLED,
    statusCode: '429',
    title: 'Too Many Requests',
    detail: 'The service is receiving too many requests. Try again shortly.',
  },
  {
    type: ResponseType.REQUEST_TOO_LARGE,
    statusCode: '413',
    title: 'Content Too Large',
    detail: 'The request is larger than API Gateway accepts.',
  },
  // API Gateway answers an unknown path or method with 403 "Missing Authentication Token".
  {
    type: ResponseType.MISSING_AUTHENTICATION_TOKEN,
    statusCode: '404',
    title: 'Not Found',
    detail: 'No route matches this method and path.',
  },
  {
    type: ResponseType.INTEGRATION_TIMEOUT,
    statusCode: '504',
    title: 'Gateway Timeout',
    detail: 'The service did not answer in time. Try again.',
  },
];

/** The public HTTP API (REST, API Gateway v1), its access log, and the send function behind it. */
export class Api extends Construct {
  readonly restApi: RestApi;
  readonly function: IFunction;
  /** One JSON line per request: who, what, the status and the latencies. */
  readonly accessLogGroup: LogGroup;
  /** The web ACL in front of the stage, when the firewall is enabled. */
  readonly firewall: Firewall | undefined;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);

    const send = new MailFunction(this, 'Send', {
      entry: 'send',
      description: 'Postroom send: validates form submissions and queues mail jobs',
      config: props.config,
      // API Gateway gives up on a Lambda integration after 29 s; a submission needs one SendMessage.
      timeout: Duration.seconds(10),
      logRetention: props.logRetention,
      environment: {
        MAIL_QUEUE_URL: props.mailQueue.queueUrl,
        TABLE_NAME: props.table.tableName,
        ...(props.attachments ? { ATTACHMENTS_BUCKET: props.attachments.bucket.bucketName } : {}),
        ...(props.scheduling ? props.scheduling.environment(props.mailQueue) : {}),
        ...(props.archive ? props.archive.environment() : {}),
      },
    });
    this.function = send.function;
    // Enqueue, and GetQueueAttributes for /health. Nothing else: the API never reads mail back.
    props.mailQueue.grant(send.function, 'sqs:SendMessage', 'sqs:GetQueueAttributes');
    // The send function's own items only (functions/core/table-keys.ts): the guards' counters and
    // fingerprints, message status and Idempotency-Key records. The relay's idempotency records (`job#`)
    // stay out of the API's reach.
    // https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html
    grantItems(
      send.function,
      props.table,
      ['dynamodb:UpdateItem', 'dynamodb:PutItem', 'dynamodb:GetItem'],
      SEND_KEY_PREFIXES,
    );
    // It deletes only what it remembered for a request that then failed; message status is never deleted.
    grantItems(send.function, props.table, ['dynamodb:DeleteItem'], SEND_DELETE_KEY_PREFIXES);
    // API keys (their hashes): read only. Keys are created and revoked by an operator, never by the API.
    grantItems(send.function, props.table, ['dynamodb:GetItem'], SEND_READ_ONLY_KEY_PREFIXES);

    props.attachments?.grantUpload(send.function);
    props.scheduling?.grantSchedules(send.function);
    props.archive?.grantWrite(send.function);
    props.archive?.grantRead(send.function);
    if (props.akismetSecret)
      importSecret(this, 'AkismetSecret', props.akismetSecret).grantRead(send.function);
    (props.captchaSecrets ?? []).forEach((secret, index) => {
      importSecret(this, `CaptchaSecret${index}`, secret).grantRead(send.function);
    });

    this.accessLogGroup = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention ?? RetentionDays.ONE_MONTH,
    });

    this.restApi = new RestApi(this, 'RestApi', {
      restApiName: Stack.of(this).stackName,
      description: 'Postroom: contact forms and mail submission',
      // Multipart bodies may carry non-UTF-8 bytes; API Gateway passes them base64-encoded and intact.
      binaryMediaTypes: ['multipart/form-data'],
      // Regional: the stage (and WAF's rate rule, when enabled) sees the client's own IP, not an edge
      // location's; put CloudFront in front when a custom domain or caching is wanted.
      endpointConfiguration: { types: [EndpointType.REGIONAL] },
      // Access logging needs the account's API Gateway CloudWatch role (AWS::ApiGateway::Account), or the
      // stage fails to deploy on a fresh account. It is one setting per region: any stack that sets it
      // points it at a role with the same managed policy, and RETAIN keeps it working after a teardown.
      // https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html
      cloudWatchRole: true,
      deployOptions: {
        tracingEnabled: props.config.monitoring.traceSamplePercent > 0,
        throttlingRateLimit: props.throttlingRateLimit ?? 50,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 100,
        accessLogDestination: new LogGroupLogDestination(this.accessLogGroup),
        accessLogFormat: accessLogFormat(),
      },
    });

    if (props.config.monitoring.traceSamplePercent > 0) this.addSamplingRule(props.config.monitoring);

    for (const error of GATEWAY_ERRORS) {
      this.restApi.addGatewayResponse(error.type.responseType, {
        type: error.type,
        statusCode: error.statusCode,
        responseHeaders: { 'Content-Type': "'application/problem+json'" },
        templates: { 'application/json': problemTemplate(error) },
      });
    }

    this.firewall = props.firewall
      ? new Firewall(this, 'Firewall', {
          stage: this.restApi.deploymentStage,
          requestsPerFiveMinutes: props.firewall.requestsPerFiveMinutes,
        })
      : undefined;

    // RestApi always adds an unnamed `Endpoint` output; the stack publishes the same URL as `ApiUrl`.
    this.restApi.node.tryRemoveChild('Endpoint');

    // The function routes on the resource path and answers CORS preflight itself, per form's allowed origins.
    const integration = new LambdaIntegration(send.function, { allowTestInvoke: false });
    const form = this.restApi.root.addResource('v1').addResource('forms').addResource('{formId}');
    const publicMethods = [
      form.addMethod('POST', integration),
      form.addMethod('OPTIONS', integration),
      this.restApi.root.addResource('health').addMethod('GET', integration),
    ];

    // The transactional API: every method checks `Authorization: Bearer <api key>` in the function itself
    // (functions/core/api/api-keys.ts), against hashes in the table, and rate-limits failed attempts per IP.
    const v1 = this.restApi.root.getResource('v1') ?? this.restApi.root.addResource('v1');
    // The OpenAPI document (openapi.json), public: it describes the API, it opens nothing. The send function
    // loads it on its first request, from a chunk of its own, so a cold start does not pay for it.
    publicMethods.push(v1.addResource('openapi.json').addMethod('GET', integration));
    const sendResource = v1.addResource('send');
    const keyedMethods = [
      sendResource.addMethod('POST', integration),
      sendResource.addResource('batch').addMethod('POST', integration),
      v1
        .addResource('templates')
        .addResource('{templateId}')
        .addResource('render')
        .addMethod('POST', integration),
    ];
    // Scheduled send (docs/scheduling.md): read, move (PATCH) and cancel one message.
    const message = v1.addResource('messages').addResource('{messageId}');
    keyedMethods.push(
      message.addMethod('GET', integration),
      message.addMethod('PATCH', integration),
      message.addResource('cancel').addMethod('POST', integration),
      // The submission archive (docs/privacy.md): a key with submissions:read for the form.
      ...(props.archive ? [form.addResource('submissions').addMethod('GET', integration)] : []),
    );
    // The Resend-compatible surface (docs/resend.md): Resend's SDKs with their base URL at `<api>/resend`.
    // The same function and API-key check; the translation loads with the first request that uses it.
    const emails = this.restApi.root.addResource('resend').addResource('emails');
    const email = emails.addResource('{emailId}');
    keyedMethods.push(
      emails.addMethod('POST', integration),
      emails.addResource('batch').addMethod('POST', integration),
      email.addMethod('GET', integration),
      email.addMethod('PATCH', integration),
      email.addResource('cancel').addMethod('POST', integration),
    );

    this.acknowledgeNagFindings(publicMethods, keyedMethods);
  }

  /**
   * Which requests X-Ray traces: `monitoring.traceSamplePercent` of them, with no reservoir. X-Ray's default
   * rule (1 a second, then 5 %) records nearly every request of a low-volume API, two traces per message
   * with the relay's; at USD 5 per million that was 10 % of SES's price at any volume. The send function
   * follows this decision (PassThrough). A rule's name is unique in the account and region, so it is derived
   * from the construct path.
   * https://docs.aws.amazon.com/xray/latest/devguide/xray-console-sampling.html
   */
  private addSamplingRule(monitoring: PostroomConfig['monitoring']): void {
    new CfnSamplingRule(this, 'SamplingRule', {
      samplingRule: {
        ruleName: Names.uniqueResourceName(this, { maxLength: 32 }),
        priority: 1000,
        fixedRate: monitoring.traceSamplePercent / 100,
        reservoirSize: 0,
        serviceName: `${this.restApi.restApiName}/${this.restApi.deploymentStage.stageName}`,
        serviceType: 'AWS::ApiGateway::Stage',
        host: '*',
        httpMethod: '*',
        urlPath: '*',
        resourceArn: '*',
        version: 1,
      },
    });
  }

  /** cdk-nag (AwsSolutions) findings on the API that are decisions, each with its reason. */
  private acknowledgeNagFindings(publicMethods: readonly Method[], keyedMethods: readonly Method[]): void {
    for (const method of keyedMethods) {
      for (const id of ['AwsSolutions-APIG4', 'AwsSolutions-COG4']) {
        Validations.of(method).acknowledge({
          id,
          reason:
            'Authorized by the send function itself: a bearer API key checked against SHA-256 hashes in the ' +
            'record table (revocation is visible on the next request), with failed attempts rate-limited per ' +
            'IP. A Lambda authorizer would add a second function and a cache that delays revocation; Cognito ' +
            'does not fit server-to-server keys.',
        });
      }
    }
    for (const method of publicMethods) {
      for (const id of ['AwsSolutions-APIG4', 'AwsSolutions-COG4']) {
        Validations.of(method).acknowledge({
          id,
          reason:
            'Public by design: a contact form is posted by anonymous visitors (guarded by allowed origins, ' +
            'honeypot, rate limits and optional WAF in place of credentials); OPTIONS is CORS preflight, ' +
            'which browsers send without credentials; /health is a probe; /v1/openapi.json is the public API ' +
            'description. Authenticated routes (/v1/send, /v1/send/batch, /v1/messages/{messageId}, ' +
            '/v1/templates/{templateId}/render, /resend/emails...) bring their own API-key check.',
        });
      }
    }
    Validations.of(this.restApi).acknowledge({
      id: 'AwsSolutions-APIG2',
      reason:
        'The send function validates every body with the one schema shared with the local runner (JSON, ' +
        'urlencoded and multipart) and answers RFC 9457 field errors; an API Gateway model would duplicate ' +
        'that schema and reject in a different shape.',
    });
    Validations.of(this.restApi.node.findChild('CloudWatchRole')).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      reason:
        "AWS's own policy for the regional API Gateway logging role, as API Gateway documents it; the role " +
        'can only be assumed by apigateway.amazonaws.com and holds CloudWatch Logs actions only.',
    });
    Validations.of(this.restApi.deploymentStage).acknowledge({
      id: 'AwsSolutions-APIG6',
      reason:
        'The JSON access log records every request with its status, latencies and error type. Execution ' +
        'logs would go to an API-Gateway-Execution-Logs_* group that the stack cannot give a retention and ' +
        "may record request content (visitors' addresses and messages).",
    });
    if (this.firewall === undefined) {
      Validations.of(this.restApi.deploymentStage).acknowledge({
        id: 'AwsSolutions-APIG3',
        reason:
          'AWS WAF is opt-in (api.waf.enabled) because a web ACL costs about USD 6 a month before traffic; ' +
          'without it the stage throttles and the send function applies per-form rate limits.',
      });
    }
  }

  /** The public URL of a form's submission endpoint. */
  formEndpoint(formId: string): string {
    return this.restApi.urlForPath(`/v1/forms/${formId}`);
  }
}

/**
 * The access log line: JSON, so CloudWatch Logs Insights can filter and aggregate on fields. No request
 * bodies or headers, which carry visitors' messages and addresses.
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html#context-variable-reference
 */
export function accessLogFormat(): AccessLogFormat {
  return AccessLogFormat.custom(
    JSON.stringify({
      requestId: AccessLogField.contextRequestId(),
      ip: AccessLogField.contextIdentitySourceIp(),
      requestTime: AccessLogField.contextRequestTimeEpoch(),
      httpMethod: AccessLogField.contextHttpMethod(),
      resourcePath: AccessLogField.contextResourcePath(),
      protocol: AccessLogField.contextProtocol(),
      status: AccessLogField.contextStatus(),
      responseLength: AccessLogField.contextResponseLength(),
      responseLatency: AccessLogField.contextResponseLatency(),
      integrationLatency: AccessLogField.contextIntegrationLatency(),
      integrationStatus: AccessLogField.contextIntegrationStatus(),
      errorType: AccessLogField.contextErrorResponseType(),
      errorMessage: AccessLogField.contextErrorMessage(),
      wafStatus: AccessLogField.contextWafResponseCode(),
      xrayTraceId: AccessLogField.contextXrayTraceId(),
    }),
  );
}

/** A mapping template rendering an RFC 9457 problem; `$context.error.messageString` is already quoted. */
function problemTemplate(error: { statusCode?: string; title: string; detail?: string }): string {
  const detail = error.detail === undefined ? '$context.error.messageString' : JSON.stringify(error.detail);
  const status = error.statusCode === undefined ? '' : `"status":${error.statusCode},`;
  return `{"type":"about:blank","title":${JSON.stringify(error.title)},${status}"detail":${detail},"requestId":"$context.requestId"}`;
}

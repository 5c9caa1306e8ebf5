import { Duration, Stack } from 'aws-cdk-lib';
import { LambdaIntegration, RestApi } from 'aws-cdk-lib/aws-apigateway';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MailFunction } from './mail-function';

export interface ApiProps {
  /** The `postroom` context as written; the function validates it at cold start. */
  readonly rawConfig: unknown;
  readonly mailQueue: IQueue;
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
}

/** The public HTTP API (REST, API Gateway v1) and the send function behind it. */
export class Api extends Construct {
  readonly restApi: RestApi;
  readonly function: IFunction;

  constructor(scope: Construct, id: string, props: ApiProps) {
    super(scope, id);

    const send = new MailFunction(this, 'Send', {
      entry: 'send',
      description: 'Postroom send: validates form submissions and queues mail jobs',
      rawConfig: props.rawConfig,
      // API Gateway gives up on a Lambda integration after 29 s; a submission needs one SendMessage.
      timeout: Duration.seconds(10),
      environment: { MAIL_QUEUE_URL: props.mailQueue.queueUrl },
    });
    this.function = send.function;
    // Enqueue, and GetQueueAttributes for /health. Nothing else: the API never reads mail back.
    props.mailQueue.grant(send.function, 'sqs:SendMessage', 'sqs:GetQueueAttributes');

    this.restApi = new RestApi(this, 'RestApi', {
      restApiName: Stack.of(this).stackName,
      description: 'Postroom: contact forms and mail submission',
      // Multipart bodies may carry non-UTF-8 bytes; API Gateway passes them base64-encoded and intact.
      binaryMediaTypes: ['multipart/form-data'],
      // The account-wide API Gateway logging role is a singleton another stack may own; no execution logs here.
      cloudWatchRole: false,
      deployOptions: {
        tracingEnabled: true,
        throttlingRateLimit: props.throttlingRateLimit ?? 50,
        throttlingBurstLimit: props.throttlingBurstLimit ?? 100,
      },
    });

    // RestApi always adds an unnamed `Endpoint` output; the stack publishes the same URL as `ApiUrl`.
    this.restApi.node.tryRemoveChild('Endpoint');

    // The function routes on the resource path and answers CORS preflight itself, per form's allowed origins.
    const integration = new LambdaIntegration(send.function, { allowTestInvoke: false });
    const form = this.restApi.root.addResource('v1').addResource('forms').addResource('{formId}');
    form.addMethod('POST', integration);
    form.addMethod('OPTIONS', integration);
    this.restApi.root.addResource('health').addMethod('GET', integration);
  }

  /** The public URL of a form's submission endpoint. */
  formEndpoint(formId: string): string {
    return this.restApi.urlForPath(`/v1/forms/${formId}`);
  }
}

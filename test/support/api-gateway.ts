import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent } from 'aws-lambda';

/**
 * A post to `/v1/forms/{formId}` as API Gateway's REST proxy integration hands it to the send function,
 * with the fields the handler reads: for the tests and benches that call the handler without an API.
 */
export function formPostEvent(post: {
  readonly contentType: string;
  readonly body: string;
  readonly sourceIp: string;
  readonly formId?: string;
  readonly headers?: Readonly<Record<string, string>>;
}): APIGatewayProxyEvent {
  const formId = post.formId ?? 'contact';
  return {
    resource: '/v1/forms/{formId}',
    path: `/v1/forms/${formId}`,
    httpMethod: 'POST',
    headers: {
      'Content-Type': post.contentType,
      Accept: 'application/json',
      Origin: 'http://localhost:3000',
      ...post.headers,
    },
    multiValueHeaders: {},
    queryStringParameters: null,
    multiValueQueryStringParameters: null,
    pathParameters: { formId },
    stageVariables: null,
    body: post.body,
    isBase64Encoded: false,
    requestContext: {
      requestId: randomUUID(),
      identity: { sourceIp: post.sourceIp },
    } as APIGatewayProxyEvent['requestContext'],
  };
}

import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import type { HttpRequest, HttpResponse } from '../core/http';

/** API Gateway REST (v1) proxy event to the core's request: headers lowercased, body decoded to bytes. */
export function toHttpRequest(event: APIGatewayProxyEvent): HttpRequest {
  const headers: Record<string, string> = {};
  const given = event.headers ?? {};
  for (const name in given) {
    const value = given[name];
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  const body =
    event.body == null ? Buffer.alloc(0) : Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
  return {
    method: event.httpMethod,
    headers,
    body,
    sourceIp: event.requestContext?.identity?.sourceIp,
    correlationId: event.requestContext?.requestId || randomUUID(),
  };
}

export function toProxyResult(response: HttpResponse): APIGatewayProxyResult {
  return { statusCode: response.status, headers: response.headers, body: response.body };
}

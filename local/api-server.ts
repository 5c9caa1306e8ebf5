import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { demoPage, thanksPage } from './demo-page';
import { PORT_VARIABLE, PortInUseError } from './emulators';
import type { LocalSubmissionsPage } from './submissions-page';
import type { LocalTemplates } from './templates';

export type ApiHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

export interface ApiServerOptions {
  readonly host: string;
  readonly port: number;
  readonly handler: ApiHandler;
  readonly context: () => Context;
  /** Bodies larger than this are cut off; the handler then answers 413, as API Gateway's own limit would. */
  readonly maxBodyBytes: number;
  readonly inboxUrl: string;
  /** The form the demo page at `/` posts to, given the port the server listens on. */
  readonly demoFormId: (port: number) => string;
  /** The templates preview page at `/templates` (local/templates.ts). */
  readonly templates?: LocalTemplates;
  /** The submissions page at `/submissions` (local/submissions-page.ts). */
  readonly submissions?: LocalSubmissionsPage;
}

/** API Gateway REST routes served locally, by resource template. */
const ROUTES: ReadonlyArray<{ pattern: RegExp; resource: string; params: ReadonlyArray<string> }> = [
  { pattern: /^\/v1\/forms\/([^/]+)$/, resource: '/v1/forms/{formId}', params: ['formId'] },
  {
    pattern: /^\/v1\/forms\/([^/]+)\/submissions$/,
    resource: '/v1/forms/{formId}/submissions',
    params: ['formId'],
  },
  { pattern: /^\/v1\/send$/, resource: '/v1/send', params: [] },
  { pattern: /^\/v1\/send\/batch$/, resource: '/v1/send/batch', params: [] },
  { pattern: /^\/v1\/messages\/([^/]+)$/, resource: '/v1/messages/{messageId}', params: ['messageId'] },
  {
    pattern: /^\/v1\/templates\/([^/]+)\/render$/,
    resource: '/v1/templates/{templateId}/render',
    params: ['templateId'],
  },
  {
    pattern: /^\/v1\/messages\/([^/]+)\/cancel$/,
    resource: '/v1/messages/{messageId}/cancel',
    params: ['messageId'],
  },
  { pattern: /^\/health$/, resource: '/health', params: [] },
  { pattern: /^\/v1\/openapi\.json$/, resource: '/v1/openapi.json', params: [] },
  // The Resend-compatible surface (functions/core/resend/), as the stack's API Gateway resources route it.
  { pattern: /^\/resend\/emails$/, resource: '/resend/emails', params: [] },
  { pattern: /^\/resend\/emails\/batch$/, resource: '/resend/emails/batch', params: [] },
  { pattern: /^\/resend\/emails\/([^/]+)$/, resource: '/resend/emails/{emailId}', params: ['emailId'] },
  {
    pattern: /^\/resend\/emails\/([^/]+)\/cancel$/,
    resource: '/resend/emails/{emailId}/cancel',
    params: ['emailId'],
  },
];

// API Gateway only base64-encodes bodies of its configured binary media types; the stack lists multipart.
const BINARY_MEDIA_TYPES = ['multipart/form-data'];

/**
 * Serves the API on loopback by turning each HTTP request into the API Gateway proxy event the send
 * function receives on AWS, and serves the demo contact form at `/`.
 */
export async function startApiServer(
  options: ApiServerOptions,
): Promise<{ url: string; port: number; server: Server; stop(): Promise<void> }> {
  const server = createServer((req, res) => {
    handle(req, res, options).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/problem+json' });
      res.end(JSON.stringify({ type: 'about:blank', title: 'Internal Server Error', status: 500 }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortInUseError(PORT_VARIABLE.api, options.port) : error),
    );
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host}:${port}`,
    port,
    server,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, options: ApiServerOptions): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/') {
    const port = req.socket.localPort ?? 0;
    // The thank-you page on the origin the visitor opened: localhost or 127.0.0.1 (the two allowed).
    const host = req.headers.host === `localhost:${port}` ? 'localhost' : '127.0.0.1';
    return sendHtml(res, demoPage(options.inboxUrl, options.demoFormId(port), `http://${host}:${port}`));
  }
  if (req.method === 'GET' && url.pathname === '/thanks') return sendHtml(res, thanksPage(options.inboxUrl));
  // The API reference, rendered from openapi.json (local/api-reference.ts), loaded on first view.
  if (req.method === 'GET' && url.pathname === '/reference') {
    const { apiReferencePage } = await import('./api-reference');
    return sendHtml(res, await apiReferencePage());
  }
  if (req.method === 'GET' && url.pathname === '/templates' && options.templates) {
    const { html, nonce } = await options.templates.page();
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      // The templates' HTML is shown in sandboxed srcdoc frames (no script runs in them); the page's own
      // script is only the reload poll.
      'content-security-policy': `default-src 'self'; style-src 'unsafe-inline'; img-src * data:; script-src 'nonce-${nonce}'`,
    });
    res.end(html);
    return;
  }
  if (req.method === 'GET' && url.pathname === '/templates/stamp' && options.templates) {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(options.templates.stampDigest());
    return;
  }

  if (options.submissions && url.pathname.startsWith('/submissions')) {
    const handled = await servePage(req, res, url, options.submissions);
    if (handled) return;
  }

  for (const route of ROUTES) {
    const match = route.pattern.exec(url.pathname);
    if (!match) continue;
    const body = await readBody(req, options.maxBodyBytes + 1);
    const event = toEvent(req, url, route, match, body);
    const result = await options.handler(event, options.context());
    res.writeHead(result.statusCode, normalizeHeaders(result.headers));
    res.end(result.body);
    return;
  }
  res.writeHead(404, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'about:blank', title: 'Not Found', status: 404, detail: 'No such route.' }));
}

function toEvent(
  req: IncomingMessage,
  url: URL,
  route: (typeof ROUTES)[number],
  match: RegExpExecArray,
  body: Buffer,
): APIGatewayProxyEvent {
  const headers: Record<string, string> = {};
  const multiValueHeaders: Record<string, string[]> = {};
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i] ?? '';
    const value = req.rawHeaders[i + 1] ?? '';
    headers[name] = value;
    multiValueHeaders[name] = [...(multiValueHeaders[name] ?? []), value];
  }
  const pathParameters = Object.fromEntries(
    route.params.map((name, index) => [name, decodeURIComponent(match[index + 1] ?? '')]),
  );
  const contentType = (req.headers['content-type'] ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  const binary = BINARY_MEDIA_TYPES.includes(contentType);
  const sourceIp = req.socket.remoteAddress ?? '127.0.0.1';
  return {
    resource: route.resource,
    path: url.pathname,
    httpMethod: req.method ?? 'GET',
    headers,
    multiValueHeaders,
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : null,
    multiValueQueryStringParameters: null,
    pathParameters: route.params.length > 0 ? pathParameters : null,
    stageVariables: null,
    body: body.length === 0 ? null : binary ? body.toString('base64') : body.toString('utf8'),
    isBase64Encoded: binary,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      authorizer: null,
      protocol: `HTTP/${req.httpVersion}`,
      httpMethod: req.method ?? 'GET',
      path: `/local${url.pathname}`,
      stage: 'local',
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: route.resource,
      identity: {
        sourceIp: sourceIp.replace(/^::ffff:/, ''),
        userAgent: req.headers['user-agent'] ?? null,
        accessKey: null,
        accountId: null,
        apiKey: null,
        apiKeyId: null,
        caller: null,
        clientCert: null,
        cognitoAuthenticationProvider: null,
        cognitoAuthenticationType: null,
        cognitoIdentityId: null,
        cognitoIdentityPoolId: null,
        principalOrgId: null,
        user: null,
        userArn: null,
      },
    },
  };
}

/** Reads at most `limit` bytes; the rest is drained and dropped. */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    if (size >= limit) continue;
    const part = chunk.subarray(0, limit - size);
    chunks.push(part);
    size += part.length;
  }
  return Buffer.concat(chunks);
}

function normalizeHeaders(headers: APIGatewayProxyResult['headers']): Record<string, string> {
  return Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name, String(value)]));
}

/** `/submissions`, `/submissions/<id>`, `/submissions/<id>/files/<n>`, `POST /submissions/<id>/not-spam`. */
async function servePage(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  page: LocalSubmissionsPage,
): Promise<boolean> {
  const notFound = () => {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' });
    res.end('No such submission.');
    return true;
  };
  if (req.method === 'GET' && url.pathname === '/submissions') {
    sendHtml(res, await page.list(url.searchParams));
    return true;
  }
  const match = /^\/submissions\/([0-9a-f-]{36})(?:\/(files\/(\d{1,2})|not-spam))?$/.exec(url.pathname);
  if (!match) return false;
  const id = match[1] as string;
  if (req.method === 'GET' && match[2] === undefined) {
    const html = await page.detail(id);
    if (html === undefined) return notFound();
    sendHtml(res, html);
    return true;
  }
  if (req.method === 'GET' && match[3] !== undefined) {
    const file = await page.file(id, Number(match[3]));
    if (file === undefined) return notFound();
    // A visitor's file is downloaded, never rendered on this origin (an HTML upload would run here).
    res.writeHead(200, {
      'content-type': file.contentType,
      'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(file.name)}`,
      'x-content-type-options': 'nosniff',
      'content-security-policy': "default-src 'none'; sandbox",
    });
    res.end(file.bytes);
    return true;
  }
  if (req.method === 'POST' && match[2] === 'not-spam') {
    const body = (await readBody(req, 4_096)).toString('utf8');
    const released = await page.release(id, body);
    if (!released.ok) {
      res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('This action needs the page it came from: open the submission again.');
      return true;
    }
    const html = await page.detail(id, released.notice);
    if (html === undefined) return notFound();
    sendHtml(res, html);
    return true;
  }
  return false;
}

function sendHtml(res: ServerResponse, html: string): void {
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'self'; style-src 'unsafe-inline'; form-action 'self'",
  });
  res.end(html);
}

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * An SES v2-like SendEmail endpoint with a maximum send rate: above `ratePerSecond` accepted mails in any
 * one-second window (by arrival) it answers 429 TooManyRequestsException, as SES does when the account's
 * maximum sending rate is exceeded. https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html
 * Optionally it takes `latencyMs` to answer each mail.
 */
export interface ThrottledSesPeer {
  readonly url: string;
  /** Arrival times (performance.now ms) of the mails it accepted, in order. */
  readonly accepted: number[];
  /** The postroom-job-id tag of each accepted mail. */
  readonly jobIds: string[];
  throttled: number;
  close(): Promise<void>;
}

export async function startThrottledSesPeer(options: {
  ratePerSecond: number;
  latencyMs?: number;
}): Promise<ThrottledSesPeer> {
  const peer: Omit<ThrottledSesPeer, 'url' | 'close'> = { accepted: [], jobIds: [], throttled: 0 };
  const server = createServer((request, response) => {
    void answer(request, response).catch(() => response.destroy());
  });
  async function answer(request: IncomingMessage, response: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const arrived = performance.now();
    if (request.method !== 'POST' || !request.url?.startsWith('/v2/email/outbound-emails')) {
      return reply(response, 404, { message: 'not found' }, 'NotFoundException');
    }
    const windowStart = arrived - 1_000;
    let inWindow = 0;
    for (let i = peer.accepted.length - 1; i >= 0 && (peer.accepted[i] as number) > windowStart; i--)
      inWindow++;
    if (inWindow >= options.ratePerSecond) {
      peer.throttled += 1;
      return reply(response, 429, { message: 'Maximum sending rate exceeded.' }, 'TooManyRequestsException');
    }
    peer.accepted.push(arrived);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      EmailTags?: Array<{ Name: string; Value: string }>;
    };
    peer.jobIds.push(body.EmailTags?.find((tag) => tag.Name === 'postroom-job-id')?.Value ?? '');
    if (options.latencyMs) await new Promise((resolve) => setTimeout(resolve, options.latencyMs));
    reply(response, 200, { MessageId: randomUUID() });
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(peer, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}

function reply(response: ServerResponse, status: number, body: object, errorType?: string) {
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(payload),
    ...(errorType ? { 'x-amzn-errortype': errorType } : {}),
  });
  response.end(payload);
}

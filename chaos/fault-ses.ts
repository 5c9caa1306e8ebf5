import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type DeliveredMail, type FaultCounts, type FaultPeer, jobIdOf, REJECTED_DOMAIN } from './delivered';

export interface FaultSesOptions {
  /** Sends per second accepted; above it the peer answers 429 TooManyRequestsException, as SES does. */
  readonly maxSendRate: number;
  /** Share of sends answered with a 5xx, 0 to 1. */
  readonly serverErrorRate: number;
  /**
   * Share of accepted sends whose answer is lost: the mail is kept, then the connection is dropped with no
   * answer, as a reply lost on the network. The relay cannot tell it from a failure (docs/reliability.md).
   * @default 0
   */
  readonly lostReplyRate?: number;
  readonly random: () => number;
}

export interface FaultSesPeer extends FaultPeer {
  /** The endpoint to give the SES v2 client. */
  readonly url: string;
  /**
   * The next answers to SendEmail, in order, before the random faults (chaos/failover.ts and the failover
   * tests): `paused` (400 SendingPausedException), `throttle` (429), `unavailable` (503), `reset` (the body is
   * read, then the connection is dropped with no answer: the client cannot know), `accept`.
   */
  answerNext(...answers: ScriptedSesAnswer[]): void;
  /** Stops listening, as a provider that is down: new connections are refused. */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  revive(): Promise<void>;
}

export type ScriptedSesAnswer = 'paused' | 'throttle' | 'unavailable' | 'reset' | 'accept';

/**
 * Enough of SES v2 SendEmail (REST JSON, `POST /v2/email/outbound-emails`) for the relay's transport:
 * Raw content only. It throttles above a send rate (a token bucket, like SES's per-second quota), answers
 * 500 or 503 at random, refuses recipients at REJECTED_DOMAIN with MessageRejected, and keeps the raw
 * MIME of what it accepts. Errors carry the code in `x-amzn-ErrorType`, which the SDK reads.
 * https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html
 */
export async function startFaultSes(options: FaultSesOptions): Promise<FaultSesPeer> {
  const delivered: DeliveredMail[] = [];
  const faults: FaultCounts = { transient: 0, dropped: 0, stalled: 0, rejected: 0 };
  let faulty = true;
  let tokens = options.maxSendRate;
  let refilledAt = Date.now();
  const takeToken = () => {
    const now = Date.now();
    tokens = Math.min(options.maxSendRate, tokens + ((now - refilledAt) / 1000) * options.maxSendRate);
    refilledAt = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };

  const server = createServer((req, res) => {
    handle(req, res).catch(() => fail(res, 500, 'InternalFailure', 'the peer failed'));
  });
  const script: ScriptedSesAnswer[] = [];
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    if (req.method !== 'POST' || req.url !== '/v2/email/outbound-emails') {
      return fail(res, 404, 'NotFoundException', 'only SendEmail is served');
    }
    const scripted = script.shift();
    if (scripted === 'paused')
      return fail(res, 400, 'SendingPausedException', 'Sending is paused for this account.');
    if (scripted === 'throttle')
      return fail(res, 429, 'TooManyRequestsException', 'Maximum sending rate exceeded.');
    if (scripted === 'unavailable') return fail(res, 503, 'ServiceUnavailable', 'service unavailable');
    if (scripted === 'reset') {
      faults.dropped += 1;
      req.socket.destroy();
      return;
    }
    if (scripted === undefined && faulty && !takeToken()) {
      faults.transient += 1;
      return fail(res, 429, 'TooManyRequestsException', 'Maximum sending rate exceeded.');
    }
    if (scripted === undefined && faulty && options.random() < options.serverErrorRate) {
      faults.transient += 1;
      return options.random() < 0.5
        ? fail(res, 500, 'InternalFailure', 'internal failure')
        : fail(res, 503, 'ServiceUnavailable', 'service unavailable');
    }
    const request = JSON.parse(body.toString('utf8')) as {
      Destination?: { ToAddresses?: string[]; CcAddresses?: string[]; BccAddresses?: string[] };
      Content?: { Raw?: { Data?: string } };
    };
    const data = request.Content?.Raw?.Data;
    if (!data) return fail(res, 400, 'BadRequestException', 'Raw content is required');
    const destination = request.Destination ?? {};
    const recipients = [
      ...(destination.ToAddresses ?? []),
      ...(destination.CcAddresses ?? []),
      ...(destination.BccAddresses ?? []),
    ];
    if (recipients.some((address) => address.toLowerCase().endsWith(`@${REJECTED_DOMAIN}`))) {
      faults.rejected += 1;
      return fail(res, 400, 'MessageRejected', 'Email address is on the account suppression list.');
    }
    const raw = Buffer.from(data, 'base64');
    delivered.push({ jobId: jobIdOf(raw), at: Date.now(), bytes: raw.length });
    if (scripted === undefined && faulty && options.random() < (options.lostReplyRate ?? 0)) {
      faults.lostReplies = (faults.lostReplies ?? 0) + 1;
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ MessageId: randomUUID() }));
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    delivered,
    faults,
    answerNext(...answers) {
      script.push(...answers);
    },
    kill: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
    revive: () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', () => resolve());
      }),
    setFaulty(value) {
      faulty = value;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': code });
  res.end(JSON.stringify({ message }));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

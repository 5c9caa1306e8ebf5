import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** What the receiver did with one request. */
export type ReceiverAnswer = number | 'stall' | 'reset';

/** One request the receiver got, and what it did with it. */
export interface ReceivedRequest {
  readonly endpointId: string;
  readonly at: number;
  readonly webhookId: string;
  /** The payload as `Webhook.verify` returned it with the endpoint's secret; undefined when it did not verify. */
  readonly verified: { type: string; data: Record<string, unknown> } | undefined;
  readonly answer: ReceiverAnswer;
}

export interface WebhookFaultCounts {
  serverErrors: number;
  stalls: number;
  resets: number;
  gone: number;
}

/**
 * How an endpoint misbehaves. `flaky`: each request meets a fault with probability `faultRate`, one of a 500
 * (with Retry-After: 1 half the time), a 503, a stall (no answer: the dispatcher's timeout ends the attempt) or
 * a reset connection (TCP RST, no HTTP answer), in equal shares; otherwise 204. `gone`: 410 Gone while the
 * harness says so (setGone), 204 otherwise.
 */
export type EndpointBehaviour =
  | { readonly kind: 'flaky'; readonly faultRate: number }
  | { readonly kind: 'gone' };

export interface FaultWebhookReceiver {
  /** `http://127.0.0.1:<port>`: endpoint `id` is at `/<id>`. */
  readonly url: string;
  readonly received: ReadonlyArray<ReceivedRequest>;
  readonly faults: WebhookFaultCounts;
  /** Turns the `gone` endpoints' 410 on or off. */
  setGone(gone: boolean): void;
  /** Turns the random faults of the `flaky` endpoints on or off. */
  setFaulty(faulty: boolean): void;
  stop(): Promise<void>;
}

/**
 * A webhook receiver on 127.0.0.1 that misbehaves on purpose, and verifies every request as an owner's receiver
 * does, with standardwebhooks' Webhook.verify and the endpoint's secret: only a verified request that got a 2xx
 * counts as delivered.
 */
export async function startFaultWebhookReceiver(options: {
  readonly endpoints: Readonly<Record<string, { secret: string; behaviour: EndpointBehaviour }>>;
  readonly random: () => number;
}): Promise<FaultWebhookReceiver> {
  const received: ReceivedRequest[] = [];
  const faults: WebhookFaultCounts = { serverErrors: 0, stalls: 0, resets: 0, gone: 0 };
  const sockets = new Set<Socket>();
  let gone = false;
  let faulty = true;

  const handle = (request: IncomingMessage, response: ServerResponse, body: string) => {
    const endpointId = (request.url ?? '/').slice(1);
    const endpoint = options.endpoints[endpointId];
    if (endpoint === undefined) {
      response.writeHead(404).end();
      return;
    }
    const headers = {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    };
    let verified: ReceivedRequest['verified'];
    try {
      verified = new Webhook(endpoint.secret).verify(body, headers) as ReceivedRequest['verified'];
    } catch {
      verified = undefined;
    }
    const answer = pickAnswer(endpoint.behaviour);
    received.push({ endpointId, at: Date.now(), webhookId: headers['webhook-id'], verified, answer });
    if (answer === 'stall') {
      faults.stalls += 1;
      return;
    }
    if (answer === 'reset') {
      faults.resets += 1;
      request.socket.resetAndDestroy();
      return;
    }
    if (answer === 410) faults.gone += 1;
    if (answer >= 500) faults.serverErrors += 1;
    const retryAfter = answer === 500 && options.random() < 0.5 ? { 'retry-after': '1' } : {};
    response.writeHead(answer, retryAfter);
    response.end(answer >= 300 ? `chaos receiver answered ${answer}` : '');
  };

  const pickAnswer = (behaviour: EndpointBehaviour): ReceiverAnswer => {
    if (behaviour.kind === 'gone') return gone ? 410 : 204;
    if (!faulty || options.random() >= behaviour.faultRate) return 204;
    const fault = Math.floor(options.random() * 4);
    return fault === 0 ? 500 : fault === 1 ? 503 : fault === 2 ? 'stall' : 'reset';
  };

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => handle(request, response, Buffer.concat(chunks).toString('utf8')));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    faults,
    setGone(value) {
      gone = value;
    },
    setFaulty(value) {
      faulty = value;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      }),
  };
}

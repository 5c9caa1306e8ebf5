import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** A signing secret as an operator makes one: `whsec_` and 32 random bytes in base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

export interface ReceivedWebhook {
  readonly path: string;
  readonly at: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** The payload as `Webhook.verify` returned it with the path's secret, or undefined when it did not verify. */
  readonly verified: { type: string; timestamp: string; data: Record<string, unknown> } | undefined;
}

export interface ScriptedAnswer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  /** Never answer (the dispatcher's timeout must end the attempt). */
  readonly stall?: boolean;
}

/**
 * A webhook receiver on 127.0.0.1, the way an owner writes one: it verifies every request with
 * standardwebhooks' Webhook.verify and the secret it was given for the path. Each path answers from its script,
 * in order, the last answer repeating; a path without a script answers 204.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  private readonly scripts = new Map<string, ScriptedAnswer[]>();
  private readonly secrets = new Map<string, string>();
  private readonly byAttempt = new Map<string, (attempt: number) => ScriptedAnswer>();
  private server: Server | undefined;
  url = '';

  async start(): Promise<this> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const path = request.url ?? '/';
        const body = Buffer.concat(chunks).toString('utf8');
        this.received.push({
          path,
          at: Date.now(),
          headers: request.headers,
          body,
          verified: this.verify(path, body, request.headers),
        });
        const script = this.scripts.get(path) ?? [];
        const perAttempt = this.byAttempt.get(path);
        const id = request.headers['webhook-id'];
        const answer = perAttempt
          ? perAttempt(
              this.received.filter((entry) => entry.path === path && entry.headers['webhook-id'] === id)
                .length,
            )
          : script.length > 1
            ? script.shift()
            : script[0];
        if (answer?.stall) return;
        response.writeHead(answer?.status ?? 204, answer?.headers ?? {});
        response.end(answer && answer.status >= 300 ? `answer ${answer.status} from ${path}` : '');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** The secret a path verifies with (one, even when the sender signs with two). */
  verifyWith(path: string, secret: string): void {
    this.secrets.set(path, secret);
  }

  script(path: string, answers: ScriptedAnswer[]): void {
    this.scripts.set(path, [...answers]);
  }

  /** Answers by the attempt number of the request's webhook-id at this path (1 for the first). */
  answerByAttempt(path: string, answer: (attempt: number) => ScriptedAnswer): void {
    this.byAttempt.set(path, answer);
  }

  at(path: string): ReceivedWebhook[] {
    return this.received.filter((entry) => entry.path === path);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private verify(path: string, body: string, headers: IncomingHttpHeaders): ReceivedWebhook['verified'] {
    const secret = this.secrets.get(path);
    if (secret === undefined) return undefined;
    try {
      return new Webhook(secret).verify(body, {
        'webhook-id': String(headers['webhook-id']),
        'webhook-timestamp': String(headers['webhook-timestamp']),
        'webhook-signature': String(headers['webhook-signature']),
      }) as ReceivedWebhook['verified'];
    } catch {
      return undefined;
    }
  }
}

import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { socketOf } from '../../chaos/fault-smtp';

export interface ReceivedMail {
  readonly envelopeFrom: string;
  readonly envelopeTo: string[];
  readonly user: string | undefined;
  readonly secure: boolean;
  /** The SIZE= parameter of MAIL FROM (RFC 1870), when the client declared one. */
  readonly declaredSize: string | undefined;
  readonly raw: Buffer;
  readonly parsed: ParsedMail;
}

/** What the peer answers to the next DATA: accept, an SMTP error code, or no answer: the connection drops. */
export type PeerAnswer = 'accept' | 'drop' | number;

/**
 * A real SMTP server (nodemailer's smtp-server) on loopback with STARTTLS (its built-in certificate)
 * and AUTH, that answers DATA as a test scripts it.
 */
export class SmtpPeer {
  readonly received: ReceivedMail[] = [];
  /** Every DATA attempt, accepted or not. */
  attempts = 0;
  private readonly script: PeerAnswer[] = [];
  private fallback: PeerAnswer = 'accept';
  private server: SMTPServer | undefined;
  port = 0;

  constructor(private readonly credentials: { user: string; password: string }) {}

  /** The next answers, in order; after them, `then` for every DATA. */
  answer(answers: PeerAnswer[], then: PeerAnswer = 'accept'): void {
    this.script.splice(0, this.script.length, ...answers);
    this.fallback = then;
  }

  reset(): void {
    this.received.length = 0;
    this.attempts = 0;
    this.answer([]);
  }

  async start(): Promise<void> {
    this.server = new SMTPServer({
      secure: false,
      authMethods: ['PLAIN', 'LOGIN'],
      size: 10 * 1024 * 1024,
      logger: false,
      disabledCommands: [],
      onAuth: (auth, _session, callback) => {
        if (auth.username === this.credentials.user && auth.password === this.credentials.password) {
          callback(null, { user: auth.username });
        } else {
          callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
        }
      },
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        const answer = this.script.shift() ?? this.fallback;
        if (answer === 'drop') {
          // In the middle of DATA, as a failing network would.
          this.attempts += 1;
          stream.once('data', () => {
            if (this.server) socketOf(this.server, session.id)?.destroy();
          });
          stream.resume();
          return;
        }
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          this.attempts += 1;
          if (answer !== 'accept') {
            callback(
              Object.assign(new Error(`scripted failure ${answer} for <rcpt@example.com>`), {
                responseCode: answer,
              }),
            );
            return;
          }
          const raw = Buffer.concat(chunks);
          simpleParser(raw).then((parsed) => {
            this.received.push({
              envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              envelopeTo: session.envelope.rcptTo.map((r) => r.address),
              user: typeof session.user === 'string' ? session.user : undefined,
              secure: session.secure,
              declaredSize: mailFromSize(session.envelope.mailFrom),
              raw,
              parsed,
            });
            callback(null, 'Queued');
          }, callback);
        });
      },
    });
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (server.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function mailFromSize(mailFrom: unknown): string | undefined {
  const args = (mailFrom as { args?: Record<string, unknown> } | false)?.valueOf() as
    | { args?: Record<string, unknown> }
    | undefined;
  const size = args?.args?.SIZE;
  return typeof size === 'string' ? size : undefined;
}

/** The SMTP transport configuration that relays to `peer` with STARTTLS and AUTH. */
export function smtpTransportFor(peer: SmtpPeer, user: string) {
  return {
    kind: 'smtp',
    host: '127.0.0.1',
    port: peer.port,
    requireTls: true,
    // smtp-server's built-in certificate is self-signed.
    tlsRejectUnauthorized: false,
    user,
    timeoutSeconds: 5,
  } as const;
}

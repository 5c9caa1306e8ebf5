import { createTransport, type Transporter } from 'nodemailer';
import type { SmtpTransportConfig } from '../core/config/config';
import { PermanentSendError, RecipientsRefusedError } from '../core/errors';
import type { SmtpPhase } from '../core/failover/attempt-outcome';
import type { OutboundMail, RefusedRecipient, SendReceipt, Transport } from '../core/ports';
import { maskedReason } from '../core/relay/send-errors';

type SmtpConfig = SmtpTransportConfig;

export interface SmtpTransportOptions {
  /**
   * A pooled connection idle this long is ended with QUIT. nodemailer's default, 4 minutes, stays under the
   * 5 minutes RFC 5321 4.5.3.2.7 asks servers to wait; tests shorten it.
   */
  readonly idleTimeoutMs?: number;
}

/** What nodemailer reports for one refused RCPT TO (info.rejectedErrors, or the EENVELOPE error's). */
interface RcptError {
  readonly recipient?: unknown;
  readonly responseCode?: unknown;
  readonly response?: unknown;
}

/** The part of nodemailer's pool that close() reaches into: it ends idle connections without QUIT. */
interface PoolView {
  readonly _connections?: ReadonlyArray<{
    readonly available?: boolean;
    readonly connection?: { quit(): void; once(event: 'end', listener: () => void): void };
  }>;
}

const QUIT_WAIT_MS = 2_000;

/**
 * Any SMTP relay, through a pooled nodemailer transport: connections are reused across a batch,
 * STARTTLS is required unless the port speaks TLS from the start, and AUTH is used when a user is set.
 */
export class SmtpTransport implements Transport {
  private readonly transporter: Transporter;

  constructor(config: SmtpConfig, password: string | undefined, options: SmtpTransportOptions = {}) {
    this.transporter = createTransport({
      pool: true,
      host: config.host,
      port: config.port,
      secure: config.secure,
      requireTLS: !config.secure && config.requireTls,
      // Without a name nodemailer greets with the machine's hostname or, when that is no FQDN (as in Lambda),
      // an address literal such as [127.0.0.1].
      name: config.ehloName,
      maxConnections: config.maxConnections,
      // When a connection closes mid-send without an error (a dropped one reports ECONNECTION instead), the
      // pool would resend the message on a new one, up to 5 times by default, inside one relay attempt and
      // outside its accounting. With 0 the attempt fails; the relay retries it with backoff, counted against
      // maxReceiveCount, under its claim.
      maxRequeues: 0,
      ...(options.idleTimeoutMs === undefined ? {} : { idleTimeout: options.idleTimeoutMs }),
      connectionTimeout: config.timeoutSeconds * 1000,
      greetingTimeout: config.timeoutSeconds * 1000,
      socketTimeout: config.timeoutSeconds * 1000,
      tls: { rejectUnauthorized: config.tlsRejectUnauthorized, minVersion: 'TLSv1.2' },
      auth: config.user === undefined ? undefined : { user: config.user, pass: password ?? '' },
      logger: false,
    });
  }

  async send(mail: OutboundMail): Promise<SendReceipt> {
    const size = wireSize(mail.raw);
    let info: { response?: string; messageId?: string; rejectedErrors?: ReadonlyArray<RcptError> };
    try {
      info = await this.transporter.sendMail({
        // With `size`, MAIL FROM declares SIZE= when the relay offers the extension (RFC 1870), so a mail
        // too large is refused before its body is sent; nodemailer itself refuses one larger than the
        // limit the EHLO reply announced.
        envelope: { from: mail.from, to: [...mail.to], size },
        raw: mail.raw,
      });
    } catch (error) {
      throw sizeRefusal(error, size) ?? allRefused(error, mail.from) ?? withPhase(error);
    }
    const refused = refusals(info.rejectedErrors);
    // The relay's final reply to DATA is its reference to the mail: Postfix says
    // `250 2.0.0 Ok: queued as <queue id>`, the id its logs carry. The id nodemailer made up is nobody's.
    return {
      providerMessageId: info.response?.trim() || info.messageId || '',
      ...(refused.length > 0 ? { refused } : {}),
    };
  }

  /** Ends idle pooled connections with QUIT, as a polite client does, then closes the pool. */
  async close(): Promise<void> {
    // nodemailer's pool.close() ends idle connections without QUIT (10.6.1); its idle timer does send it.
    const pool = (this.transporter as unknown as { transporter?: PoolView }).transporter;
    // A connection that has just delivered resets its session (RSET) before the pool marks it available
    // again; closing it before that answer drops it without QUIT. Wait, bounded, until none is busy.
    const deadline = Date.now() + QUIT_WAIT_MS;
    do await new Promise((resolve) => setTimeout(resolve, 5));
    while (
      Date.now() < deadline &&
      (pool?._connections ?? []).some((resource) => resource.connection && !resource.available)
    );
    const idle = (pool?._connections ?? []).filter((resource) => resource.available && resource.connection);
    await Promise.all(
      idle.map(
        (resource) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(resolve, QUIT_WAIT_MS);
            resource.connection?.once('end', () => {
              clearTimeout(timer);
              resolve();
            });
            resource.connection?.quit();
          }),
      ),
    );
    this.transporter.close();
  }
}

/**
 * Names where the session failed (core/failover/attempt-outcome.ts decides from it whether another relay may
 * be tried). nodemailer marks each error with the command it answered (`command`) and its kind (`code`):
 * a reply to EHLO, STARTTLS, AUTH, MAIL FROM, RCPT TO or DATA came before the body; "Message failed"
 * (EMESSAGE at DATA) is the final reply to the body. A connection that could not be opened (refused, no
 * name, no answer to connect or to the greeting) is before anything. A connection lost or silent later
 * (`CONN` with ECONNECTION or a socket timeout) may be during the body or after it: nodemailer does not say,
 * so it is `unknown`, which the relay treats as possibly sent.
 */
function withPhase(error: unknown): unknown {
  if (typeof error !== 'object' || error === null) return error;
  return Object.assign(error, { smtpPhase: smtpPhase(error) });
}

function smtpPhase(error: object): SmtpPhase {
  const { code, command, errno, timeoutType } = error as {
    code?: unknown;
    command?: unknown;
    errno?: unknown;
    timeoutType?: unknown;
  };
  if (code === 'EMESSAGE' && command === 'DATA') return 'after-body';
  if (code === 'ETLS' || command === 'STARTTLS') return 'starttls';
  if (code === 'EAUTH' || (typeof command === 'string' && command.startsWith('AUTH'))) return 'auth';
  if (command === 'EHLO' || command === 'HELO' || command === 'LHLO') return 'ehlo';
  if (command === 'MAIL FROM') return 'mail';
  if (command === 'RCPT TO') return 'rcpt';
  if (command === 'DATA') return 'data';
  if (code === 'EDNS') return 'connect';
  if (typeof errno === 'string' && NOT_CONNECTED.has(errno)) return 'connect';
  const cause = (error as { cause?: { code?: unknown } }).cause?.code;
  if (typeof cause === 'string' && NOT_CONNECTED.has(cause)) return 'connect';
  if (code === 'ETIMEDOUT' && (timeoutType === 'CONNECTION' || timeoutType === 'GREETING')) return 'connect';
  // nodemailer reports a refused connect as ESOCKET with Node's message (`connect ECONNREFUSED ...`).
  const message = (error as { message?: unknown }).message;
  if (
    typeof message === 'string' &&
    /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH)\b/.test(message)
  )
    return 'connect';
  return 'unknown';
}

const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

function refusals(errors: ReadonlyArray<RcptError> | undefined): RefusedRecipient[] {
  return (errors ?? []).map((error) => ({
    recipient: String(error.recipient ?? ''),
    // A refusal without a readable code is taken as one for now: retrying is the safe side.
    code: typeof error.responseCode === 'number' ? error.responseCode : 450,
    reply: String(error.response ?? ''),
  }));
}

/** EENVELOPE at RCPT TO with every recipient refused: the relay took the mail for nobody. */
function allRefused(error: unknown, sender: string): RecipientsRefusedError | undefined {
  const shape = error as { code?: unknown; rejectedErrors?: unknown };
  if (shape?.code !== 'EENVELOPE' || !Array.isArray(shape.rejectedErrors)) return undefined;
  const refused = refusals(shape.rejectedErrors as RcptError[]);
  return refused.length > 0 ? new RecipientsRefusedError(refused, { cause: error, sender }) : undefined;
}

/**
 * The octets the relay receives: nodemailer ends every line with CRLF in DATA, and SIZE counts them
 * (RFC 1870 section 3: "including CR-LF pairs"). The composed mail ends its lines with LF, so its length
 * alone undercounts by one octet a line.
 */
export function wireSize(raw: Buffer): number {
  let bareLineFeeds = 0;
  for (let index = raw.indexOf(10); index !== -1; index = raw.indexOf(10, index + 1)) {
    if (index === 0 || raw[index - 1] !== 13) bareLineFeeds += 1;
  }
  return raw.length + bareLineFeeds;
}

/**
 * A mail too large for the relay: refused by nodemailer against the SIZE the relay announced, or by the
 * relay with 552 (RFC 1870 section 6). Sending it again cannot pass, and the reason says how large it was.
 */
function sizeRefusal(error: unknown, size: number): PermanentSendError | undefined {
  const shape = error as {
    code?: unknown;
    command?: unknown;
    responseCode?: unknown;
    response?: unknown;
    message?: unknown;
  };
  const message = typeof shape?.message === 'string' ? shape.message : '';
  const announced = /^Message size larger than allowed (\d+)/.exec(message);
  if (shape?.code === 'EMESSAGE' && announced)
    return new PermanentSendError(
      `message of ${size} bytes is larger than the ${announced[1]} bytes the relay accepts (its SIZE limit); not sent`,
      { cause: error },
    );
  // At RCPT TO, 552 is about that mailbox (full, say), not this mail's size.
  if (shape?.responseCode === 552 && shape.command !== 'RCPT TO') {
    const reply = typeof shape.response === 'string' ? shape.response : message;
    return new PermanentSendError(maskedReason(`message of ${size} bytes refused as too large: ${reply}`), {
      cause: error,
    });
  }
  return undefined;
}

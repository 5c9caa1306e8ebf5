import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

/**
 * A small SMTP client for `postroom doctor`: it opens a session as the relay function would (EHLO, STARTTLS,
 * AUTH) and asks the relay whether it takes mail from the sender (MAIL FROM), then ends the transaction with
 * RSET and leaves with QUIT. It never sends RCPT TO or DATA, so no mail can be queued.
 *
 * Why not nodemailer, which the relay uses: its SMTPConnection (10.6) has no public way to issue MAIL FROM
 * alone. send() requires recipients and, with PIPELINING, writes MAIL FROM, RCPT TO and DATA together;
 * verify() stops after AUTH. What nodemailer does that matters here is repeated: STARTTLS when the relay
 * offers it or requireTls asks for it, TLS 1.2 at least, the certificate checked unless
 * tlsRejectUnauthorized is off, AUTH only when a user is configured and the relay offers AUTH.
 */

export interface SmtpProbeTarget {
  readonly host: string;
  readonly port: number;
  /** TLS from the first byte (port 465); otherwise STARTTLS. */
  readonly secure: boolean;
  readonly requireTls: boolean;
  readonly tlsRejectUnauthorized: boolean;
  readonly ehloName: string;
  /** For the connection, the greeting and each reply, as the relay's connection, greeting and socket timeouts. */
  readonly timeoutMs: number;
}

/** The SMTP AUTH user, and its password when this machine has it. */
export interface SmtpProbeLogin {
  readonly user: string;
  readonly password: string | undefined;
}

export interface SmtpReply {
  readonly code: number;
  /** The reply's lines joined by spaces, codes included, as the relay wrote them. */
  readonly text: string;
  readonly lines: ReadonlyArray<string>;
}

export type SmtpProbeStage = 'connect' | 'greeting' | 'ehlo' | 'starttls' | 'auth' | 'mail';

/** The session failed before the relay could answer MAIL FROM: where, and the relay's reply if there was one. */
export class SmtpProbeError extends Error {
  override readonly name = 'SmtpProbeError';

  constructor(
    readonly stage: SmtpProbeStage,
    message: string,
    readonly reply?: SmtpReply,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface SmtpProbeResult {
  /** `tls`: TLS from the start; `starttls`: upgraded; `none`: the relay offered no STARTTLS and none was required. */
  readonly tls: 'tls' | 'starttls' | 'none';
  /**
   * `ok`: logged in; `none`: no user configured; `no-password`: a user but no password here, so the session
   * stopped before MAIL FROM; `not-offered`: a user, but the relay offers no AUTH (nodemailer then sends
   * without logging in, and so does this probe).
   */
  readonly auth: 'ok' | 'none' | 'no-password' | 'not-offered';
  /** The relay's answer to MAIL FROM; absent when the session stopped before it (no password). */
  readonly mailFrom?: SmtpReply;
}

/** Largest reply accepted, as nodemailer's maxResponseSize guards against a peer that never ends a line. */
const MAX_REPLY_BYTES = 64 * 1024;

export async function probeSender(
  target: SmtpProbeTarget,
  login: SmtpProbeLogin | undefined,
  sender: string,
): Promise<SmtpProbeResult> {
  // The address goes on the command line: a CR, LF or angle bracket would end or change the command.
  if (/[\r\n<>]/.test(sender))
    throw new SmtpProbeError('mail', 'the sender address cannot be sent in MAIL FROM');
  const session = await SmtpSession.open(target);
  try {
    const greeting = await session.read('greeting');
    if (greeting.code !== 220) throw new SmtpProbeError('greeting', `greeting: ${greeting.text}`, greeting);
    let extensions = await session.ehlo(target.ehloName);
    let tls: SmtpProbeResult['tls'] = target.secure ? 'tls' : 'none';
    if (!target.secure && (target.requireTls || extensions.has('STARTTLS'))) {
      const reply = await session.command('STARTTLS', 'starttls');
      if (reply.code !== 220) throw new SmtpProbeError('starttls', `STARTTLS refused: ${reply.text}`, reply);
      await session.upgrade(target);
      tls = 'starttls';
      // RFC 3207 section 4.2: after TLS the client forgets what it knew and greets again.
      extensions = await session.ehlo(target.ehloName);
    }
    let auth: SmtpProbeResult['auth'] = 'none';
    if (login !== undefined) {
      const offered = extensions.get('AUTH');
      if (offered === undefined) auth = 'not-offered';
      else if (login.password === undefined) auth = 'no-password';
      else {
        await session.login(login.user, login.password, offered);
        auth = 'ok';
      }
    }
    if (auth === 'no-password') {
      await session.quit();
      return { tls, auth };
    }
    // RFC 6531: a non-ASCII address needs SMTPUTF8, as nodemailer adds it.
    const utf8 = /[\u0080-\uffff]/.test(sender) && extensions.has('SMTPUTF8') ? ' SMTPUTF8' : '';
    const mailFrom = await session.command(`MAIL FROM:<${sender}>${utf8}`, 'mail');
    // RSET ends the transaction whatever MAIL FROM's answer (RFC 5321 4.1.1.5). Its failure is not a finding:
    // the answer to MAIL FROM is in hand, and a transaction without a recipient can queue nothing.
    await session.command('RSET', 'mail').catch(() => undefined);
    await session.quit();
    return { tls, auth, mailFrom };
  } finally {
    session.destroy();
  }
}

/** One SMTP session: writes a command, reads one reply (RFC 5321 4.2: `250-` lines continue, `250 ` ends). */
class SmtpSession {
  private socket: Socket;
  private buffer = '';
  private readonly replies: SmtpReply[] = [];
  private lines: string[] = [];
  private failure: Error | undefined;
  private waiting: (() => void) | undefined;
  private readonly onData = (chunk: Buffer) => this.receive(chunk);
  private readonly onError = (error: Error) => this.fail(error);
  private readonly onClose = () => this.fail(new Error('the relay closed the connection'));

  private constructor(
    socket: Socket,
    private readonly timeoutMs: number,
  ) {
    this.socket = socket;
    this.attach(socket);
  }

  static async open(target: SmtpProbeTarget): Promise<SmtpSession> {
    const socket = target.secure
      ? tlsConnect({ host: target.host, port: target.port, ...tlsOptions(target) })
      : netConnect({ host: target.host, port: target.port });
    await settle(
      socket,
      target.secure ? 'secureConnect' : 'connect',
      target.timeoutMs,
      'connect',
      `connection to ${target.host}:${target.port}`,
    );
    return new SmtpSession(socket, target.timeoutMs);
  }

  /** EHLO, and the extensions the relay offers: keyword to its parameters (`AUTH` to `PLAIN LOGIN`). */
  async ehlo(name: string): Promise<Map<string, string>> {
    const reply = await this.command(`EHLO ${name}`, 'ehlo');
    if (reply.code !== 250) throw new SmtpProbeError('ehlo', `EHLO refused: ${reply.text}`, reply);
    const extensions = new Map<string, string>();
    for (const line of reply.lines.slice(1)) {
      // `250-AUTH PLAIN LOGIN`; some relays still write the pre-RFC 4954 `AUTH=PLAIN LOGIN`.
      const [keyword = '', ...parameters] = line
        .slice(4)
        .trim()
        .split(/[\s=]+/);
      extensions.set(keyword.toUpperCase(), parameters.join(' ').toUpperCase());
    }
    return extensions;
  }

  /** AUTH PLAIN when offered (one round trip), else AUTH LOGIN; the credentials never reach a message. */
  async login(user: string, password: string, offered: string): Promise<void> {
    const mechanisms = offered.split(' ');
    let reply: SmtpReply;
    if (mechanisms.includes('PLAIN')) {
      // RFC 4616: authzid NUL authcid NUL passwd, as the initial response (RFC 4954 section 4).
      reply = await this.command(`AUTH PLAIN ${base64(`\0${user}\0${password}`)}`, 'auth');
    } else if (mechanisms.includes('LOGIN')) {
      reply = await this.command('AUTH LOGIN', 'auth');
      if (reply.code === 334) reply = await this.command(base64(user), 'auth');
      if (reply.code === 334) reply = await this.command(base64(password), 'auth');
    } else {
      throw new SmtpProbeError('auth', `the relay offers AUTH ${offered}, neither PLAIN nor LOGIN`);
    }
    if (reply.code !== 235) throw new SmtpProbeError('auth', `AUTH refused: ${reply.text}`, reply);
  }

  /** STARTTLS accepted: the TLS handshake on the same connection, honouring the relay's TLS settings. */
  async upgrade(target: SmtpProbeTarget): Promise<void> {
    this.detach(this.socket);
    // Anything the relay wrote after its 220 came before TLS and may be an attacker's (CVE-2011-0411,
    // "STARTTLS command injection"): it is dropped, not read as a reply.
    this.buffer = '';
    this.replies.length = 0;
    const secure = tlsConnect({ socket: this.socket, ...tlsOptions(target) });
    await settle(secure, 'secureConnect', this.timeoutMs, 'starttls', 'TLS handshake');
    this.socket = secure;
    this.attach(secure);
  }

  async command(line: string, stage: SmtpProbeStage): Promise<SmtpReply> {
    this.socket.write(`${line}\r\n`);
    return this.read(stage);
  }

  async read(stage: SmtpProbeStage): Promise<SmtpReply> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const reply = this.replies.shift();
      if (reply !== undefined) return reply;
      if (this.failure !== undefined)
        throw new SmtpProbeError(stage, describeSocketError(this.failure), undefined, {
          cause: this.failure,
        });
      const left = deadline - Date.now();
      if (left <= 0)
        throw new SmtpProbeError(stage, `no answer within ${this.timeoutMs / 1000} s (timeoutSeconds)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiting = undefined;
    }
  }

  /** QUIT, and its answer for a short while; a relay that hangs up first is fine. */
  async quit(): Promise<void> {
    await this.command('QUIT', 'mail').catch(() => undefined);
    this.socket.end();
  }

  destroy(): void {
    this.detach(this.socket);
    this.socket.on('error', () => {});
    this.socket.destroy();
  }

  private attach(socket: Socket): void {
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
  }

  private receive(chunk: Buffer): void {
    this.buffer += chunk.toString('latin1');
    if (this.buffer.length > MAX_REPLY_BYTES) {
      this.fail(new Error(`the relay sent more than ${MAX_REPLY_BYTES} bytes without ending its reply`));
      return;
    }
    for (let end = this.buffer.indexOf('\n'); end !== -1; end = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, end).replace(/\r$/, '');
      this.buffer = this.buffer.slice(end + 1);
      this.lines.push(line);
      if (!/^\d{3}(-|$| )/.test(line)) {
        this.fail(new Error(`the relay's reply is not SMTP: ${line.slice(0, 80)}`));
        return;
      }
      if (line[3] !== '-') {
        this.replies.push({ code: Number(line.slice(0, 3)), text: this.lines.join(' '), lines: this.lines });
        this.lines = [];
      }
    }
    this.waiting?.();
  }

  private fail(error: Error): void {
    this.failure ??= error;
    this.waiting?.();
  }
}

function tlsOptions(target: SmtpProbeTarget) {
  return {
    // SNI only for a name (RFC 6066 section 3 forbids an address literal), as nodemailer does.
    ...(isIP(target.host) === 0 ? { servername: target.host } : {}),
    rejectUnauthorized: target.tlsRejectUnauthorized,
    minVersion: 'TLSv1.2' as const,
  };
}

/** Waits for `event` on a new socket, or fails with its error or after the timeout. */
async function settle(
  socket: Socket,
  event: 'connect' | 'secureConnect',
  timeoutMs: number,
  stage: SmtpProbeStage,
  what: string,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      done();
      socket.on('error', () => {});
      socket.destroy();
      reject(new SmtpProbeError(stage, `${what}: no answer within ${timeoutMs / 1000} s (timeoutSeconds)`));
    }, timeoutMs);
    const onEvent = () => {
      done();
      resolve();
    };
    const onError = (error: Error) => {
      done();
      socket.destroy();
      reject(
        new SmtpProbeError(stage, `${what}: ${describeSocketError(error)}`, undefined, { cause: error }),
      );
    };
    const done = () => {
      clearTimeout(timer);
      socket.off(event, onEvent);
      socket.off('error', onError);
    };
    socket.once(event, onEvent);
    socket.once('error', onError);
  });
}

/** `ECONNREFUSED connect ECONNREFUSED 127.0.0.1:25` reads better as Node's message with its code once. */
function describeSocketError(error: Error): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && !error.message.includes(code)
    ? `${code} ${error.message}`
    : error.message;
}

function base64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

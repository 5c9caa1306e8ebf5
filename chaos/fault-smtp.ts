import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { type DeliveredMail, type FaultCounts, type FaultPeer, jobIdOf, REJECTED_DOMAIN } from './delivered';

export interface FaultSmtpOptions {
  readonly credentials: { user: string; password: string };
  /** Share of DATA commands that meet a fault, 0 to 1. */
  readonly faultRate: number;
  /**
   * Share of accepted messages whose answer is lost: the mail is kept and the final reply never sent, so the
   * client's socket timeout ends the session, as a reply lost on the network (docs/reliability.md).
   * @default 0
   */
  readonly lostReplyRate?: number;
  readonly random: () => number;
}

export interface FaultSmtpPeer extends FaultPeer {
  readonly port: number;
  /** Stops listening and drops every session, as a relay that is down: new connections are refused. */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  revive(): Promise<void>;
}

/**
 * An SMTP relay on loopback (smtp-server, STARTTLS and AUTH like a real one) that misbehaves at random
 * after the message has been sent: it answers 421, 451 or 454 (RFC 5321 transient codes), drops the
 * connection in the middle of DATA, or says nothing until the client's socket timeout. A fault never
 * keeps the mail: only a 250 counts as accepted. Recipients at REJECTED_DOMAIN get 550 at RCPT TO.
 */
export async function startFaultSmtp(options: FaultSmtpOptions): Promise<FaultSmtpPeer> {
  const delivered: DeliveredMail[] = [];
  const faults: FaultCounts = { transient: 0, dropped: 0, stalled: 0, rejected: 0 };
  let faulty = true;
  const server: SMTPServer = new SMTPServer({
    secure: false,
    authMethods: ['PLAIN', 'LOGIN'],
    size: 10 * 1024 * 1024,
    logger: false,
    onAuth: (auth, _session, callback) => {
      if (auth.username === options.credentials.user && auth.password === options.credentials.password) {
        callback(null, { user: auth.username });
      } else {
        callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
      }
    },
    onRcptTo: (address, _session, callback) => {
      if (address.address.toLowerCase().endsWith(`@${REJECTED_DOMAIN}`)) {
        faults.rejected += 1;
        callback(Object.assign(new Error('5.1.1 mailbox unavailable'), { responseCode: 550 }));
        return;
      }
      callback();
    },
    onData: (stream, session, callback) => {
      const roll = faulty ? options.random() / options.faultRate : 1;
      const chunks: Buffer[] = [];
      let dropped = false;
      stream.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        if (roll < 0.25 && !dropped) {
          dropped = true;
          faults.dropped += 1;
          socketOf(server, session.id)?.destroy();
        }
      });
      stream.on('end', () => {
        if (dropped) return;
        if (roll < 0.5) {
          // Never answered: the client's socket timeout ends the attempt, and the mail is not kept.
          faults.stalled += 1;
          return;
        }
        if (roll < 1) {
          faults.transient += 1;
          const code = [421, 451, 454][Math.floor(options.random() * 3)] ?? 451;
          callback(Object.assign(new Error('4.3.0 try again later'), { responseCode: code }));
          return;
        }
        const raw = Buffer.concat(chunks);
        delivered.push({ jobId: jobIdOf(raw), at: Date.now(), bytes: raw.length });
        if (faulty && options.random() < (options.lostReplyRate ?? 0)) {
          faults.lostReplies = (faults.lostReplies ?? 0) + 1;
          return;
        }
        callback(null, 'Queued');
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  // smtp-server logs an error event for every dropped connection; those are the point of this peer.
  server.on('error', () => {});
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    delivered,
    faults,
    kill: () =>
      new Promise<void>((resolve) => {
        for (const connection of connectionsOf(server)) connection._socket?.destroy();
        server.server.close(() => resolve());
      }),
    revive: () =>
      new Promise<void>((resolve, reject) => {
        server.server.once('error', reject);
        server.server.listen(port, '127.0.0.1', () => resolve());
      }),
    setFaulty(value) {
      faulty = value;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const connection of connectionsOf(server)) connection._socket?.destroy();
        server.close(() => resolve());
      }),
  };
}

interface ConnectionInternals {
  readonly id: string;
  readonly _socket?: { destroy(): void };
}

// smtp-server gives onData no socket; its connections set (keyed by the session id) has it.
function connectionsOf(server: SMTPServer): ConnectionInternals[] {
  const connections = (server as unknown as { connections?: Set<ConnectionInternals> }).connections;
  return connections ? [...connections] : [];
}

/** The socket of an SMTP session, to drop the connection as a failing network would. */
export function socketOf(server: SMTPServer, sessionId: string) {
  return connectionsOf(server).find((connection) => connection.id === sessionId)?._socket;
}

import { type AddressInfo, createServer, type Server } from 'node:net';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import { probeSender, SmtpProbeError, type SmtpProbeTarget } from '../../cli/smtp-probe';

/**
 * The doctor's SMTP client against smtp-server (nodemailer's project): the session shapes a relay can have
 * that the Postfix test does not cover (AUTH LOGIN only, TLS from the start, STARTTLS refused, a certificate
 * that does not verify, a relay that never greets). Postfix's own verdicts: cli-doctor-postfix.test.ts.
 */

const login = { user: 'relay', password: 'relay-secret' };
const stops: Array<() => Promise<void>> = [];

afterEach(async () => {
  await Promise.all(stops.splice(0).map((stop) => stop()));
});

interface Seen {
  commands: string[];
  auth: Array<{ method: string; username?: string | null; password?: string | null }>;
}

async function relay(options: SMTPServerOptions = {}): Promise<{ port: number; seen: Seen }> {
  const seen: Seen = { commands: [], auth: [] };
  const server = new SMTPServer({
    logger: false,
    authMethods: ['PLAIN', 'LOGIN'],
    onAuth: (auth, _session, callback) => {
      seen.auth.push({ method: auth.method, username: auth.username, password: auth.password });
      callback(null, { user: auth.username });
    },
    onMailFrom: (address, _session, callback) => {
      seen.commands.push(`MAIL ${address.address}`);
      if (address.address.endsWith('@refused.example'))
        callback(Object.assign(new Error('5.7.1 not your domain'), { responseCode: 550 }));
      else callback();
    },
    onRcptTo: (_address, _session, callback) => {
      seen.commands.push('RCPT');
      callback();
    },
    onData: (stream, _session, callback) => {
      seen.commands.push('DATA');
      stream.resume();
      stream.on('end', () => callback());
    },
    ...options,
  });
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  stops.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { port: (server.server.address() as AddressInfo).port, seen };
}

function target(port: number, overrides: Partial<SmtpProbeTarget> = {}): SmtpProbeTarget {
  return {
    host: '127.0.0.1',
    port,
    secure: false,
    requireTls: true,
    // smtp-server's built-in certificate is self-signed.
    tlsRejectUnauthorized: false,
    ehloName: 'mail.example.com',
    timeoutMs: 2_000,
    ...overrides,
  };
}

async function refusal(promise: Promise<unknown>): Promise<SmtpProbeError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof SmtpProbeError)) throw new Error(`expected an SmtpProbeError, got ${String(error)}`);
  return error;
}

describe('SMTP probe: postroom doctor asks MAIL FROM without sending', () => {
  it('logs in with AUTH LOGIN when the relay offers no PLAIN, and stops at MAIL FROM', async () => {
    const { port, seen } = await relay({ authMethods: ['LOGIN'] });

    const result = await probeSender(target(port), login, 'noreply@example.com');

    expect(result).toMatchObject({ tls: 'starttls', auth: 'ok', mailFrom: { code: 250 } });
    expect(seen.auth).toEqual([{ method: 'LOGIN', username: 'relay', password: 'relay-secret' }]);
    expect(seen.commands).toEqual(['MAIL noreply@example.com']);
  });

  it("returns the relay's refusal of MAIL FROM as it wrote it", async () => {
    const { port, seen } = await relay();

    const result = await probeSender(target(port), login, 'noreply@refused.example');

    expect(result.mailFrom).toEqual({
      code: 550,
      text: '550 5.7.1 not your domain',
      lines: ['550 5.7.1 not your domain'],
    });
    expect(seen.auth.map((a) => a.method)).toEqual(['PLAIN']);
    expect(seen.commands).toEqual(['MAIL noreply@refused.example']);
  });

  it('speaks TLS from the first byte on a secure port', async () => {
    const { port } = await relay({ secure: true });

    const result = await probeSender(target(port, { secure: true }), login, 'noreply@example.com');

    expect(result).toMatchObject({ tls: 'tls', auth: 'ok', mailFrom: { code: 250 } });
  });

  it('fails at STARTTLS when TLS is required and the relay refuses it; never logs in in plaintext', async () => {
    const { port, seen } = await relay({ disabledCommands: ['STARTTLS'], allowInsecureAuth: true });

    const error = await refusal(probeSender(target(port), login, 'noreply@example.com'));

    expect(error.stage).toBe('starttls');
    expect(error.message).toMatch(/^STARTTLS refused: 5\d\d /);
    expect(seen.auth).toEqual([]);
  });

  it('goes on without TLS only when requireTls is off and the relay offers none', async () => {
    const { port } = await relay({ disabledCommands: ['STARTTLS'], allowInsecureAuth: true });

    const result = await probeSender(target(port, { requireTls: false }), login, 'noreply@example.com');

    expect(result).toMatchObject({ tls: 'none', auth: 'ok', mailFrom: { code: 250 } });
  });

  it('fails the TLS handshake on a certificate that does not verify (tlsRejectUnauthorized)', async () => {
    const { port, seen } = await relay();

    const error = await refusal(
      probeSender(target(port, { tlsRejectUnauthorized: true }), login, 'noreply@example.com'),
    );

    expect(error.stage).toBe('starttls');
    expect(error.message).toMatch(/^TLS handshake: .*certificate/i);
    expect(seen.auth).toEqual([]);
  });

  it('gives up on a relay that never greets after timeoutMs', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          silent.close(() => resolve());
          silent.unref();
        }),
    );
    const started = Date.now();

    const error = await refusal(
      probeSender(
        target((silent.address() as AddressInfo).port, { timeoutMs: 300 }),
        login,
        'noreply@example.com',
      ),
    );

    expect(error.stage).toBe('greeting');
    expect(error.message).toBe('no answer within 0.3 s (timeoutSeconds)');
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

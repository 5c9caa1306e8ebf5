import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SmtpTransport } from '../../functions/adapters/smtp-transport';
import { PermanentSendError, RecipientsRefusedError } from '../../functions/core/errors';
import { classifySendError, relaySessionFailure } from '../../functions/core/relay/send-errors';
import { eventually, testConfig } from '../support/local-stack';
import { LATER_ADDRESS, PostfixPeer, postfixSupport, REFUSED_ADDRESS } from '../support/postfix';

const support = postfixSupport();

/** A plain RFC 5322 message with CRLF line ends, as core/mail/mime composes them. */
function message(to: string, marker: string, extra = ''): Buffer {
  return Buffer.from(
    [
      'From: Postroom <no-reply@example.com>',
      `To: ${to}`,
      `Subject: Postfix ${marker}`,
      `Message-ID: <${marker}@example.com>`,
      'Date: Thu, 03 Dec 2026 15:00:00 +0000',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      '',
      `Body ${marker}${extra}`,
      '',
    ].join('\r\n'),
  );
}

describe.skipIf(!support.ok)(
  `SMTP transport against Postfix (STARTTLS, SASL AUTH, strict settings)${support.ok ? '' : ` (skipped: ${support.reason})`}`,
  // A real MTA on a loaded machine: restarts and deliveries take seconds.
  { timeout: 60_000 },
  () => {
    const peer = new PostfixPeer();
    const inbox = peer.mailbox('inbox');
    const other = peer.mailbox('other');
    const transports: SmtpTransport[] = [];

    function transport(overrides: Record<string, unknown> = {}, idleTimeoutMs?: number): SmtpTransport {
      const config = testConfig({ transport: peer.transportConfig(overrides) });
      if (config.transport.kind !== 'smtp') throw new Error('not smtp');
      const created = new SmtpTransport(config.transport, peer.password, { idleTimeoutMs });
      transports.push(created);
      return created;
    }

    beforeAll(async () => {
      await peer.start();
    }, 600_000);

    afterEach(async () => {
      await Promise.all(transports.splice(0).map((t) => t.close()));
    });

    afterAll(async () => {
      await peer.stop();
    });

    it("records the relay's queue id as the provider reference; Postfix's log names the same id", async () => {
      const marker = randomUUID();
      const receipt = await transport().send({
        jobId: marker,
        from: 'no-reply@example.com',
        to: [inbox],
        raw: message(inbox, marker),
      });

      expect(receipt.providerMessageId).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-Za-z]+$/);
      expect(receipt.refused).toBeUndefined();
      const queueId = receipt.providerMessageId.split(' ').pop() ?? '';
      // The id an operator greps the relay's log for: the session, the delivery, the sender's login.
      expect(await peer.logLines(`${queueId}: client=localhost[127.0.0.1], sasl_method=PLAIN`)).toHaveLength(
        1,
      );
      await eventually(async () =>
        (await peer.logLines(`${queueId}: to=<${inbox}>`)).length ? true : undefined,
      );
      const [mail] = await peer.waitFor(inbox, marker);
      expect(mail?.defects).toEqual([]);
      expect(mail?.headers.find(([name]) => name === 'Received')?.[1]).toContain(
        `with ESMTPSA id ${queueId}`,
      );
    });

    it("greets with the sender's domain by default and with transport.smtp.ehloName when set", async () => {
      const first = randomUUID();
      await transport().send({
        jobId: first,
        from: 'no-reply@example.com',
        to: [inbox],
        raw: message(inbox, first),
      });
      const second = randomUUID();
      await transport({ ehloName: 'mta.example.net' }).send({
        jobId: second,
        from: 'no-reply@example.com',
        to: [inbox],
        raw: message(inbox, second),
      });

      const received = async (marker: string) =>
        (await peer.waitFor(inbox, marker))[0]?.headers.find(([name]) => name === 'Received')?.[1];
      // Postfix writes the EHLO name first in its Received header: `from <helo> (<host> [<address>])`.
      expect(await received(first)).toMatch(/^from example\.com \(localhost \[127\.0\.0\.1\]\)/);
      expect(await received(second)).toMatch(/^from mta\.example\.net \(localhost \[127\.0\.0\.1\]\)/);
    });

    it('reports the recipients refused at RCPT with their replies while the others get the mail', async () => {
      const marker = randomUUID();
      const receipt = await transport().send({
        jobId: marker,
        from: 'no-reply@example.com',
        to: [inbox, REFUSED_ADDRESS, LATER_ADDRESS, other],
        raw: message(inbox, marker),
      });

      expect(receipt.providerMessageId).toMatch(/^250 2\.0\.0 Ok: queued as /);
      expect(receipt.refused).toEqual([
        {
          recipient: REFUSED_ADDRESS,
          code: 550,
          reply: `550 5.1.1 <${REFUSED_ADDRESS}>: Recipient address rejected: no such user here`,
        },
        {
          recipient: LATER_ADDRESS,
          code: 451,
          reply: `451 4.2.0 <${LATER_ADDRESS}>: Recipient address rejected: mailbox busy, try again later`,
        },
      ]);
      for (const address of [inbox, other]) expect(await peer.waitFor(address, marker)).toHaveLength(1);
    });

    it('throws RecipientsRefusedError with each reply when every recipient is refused', async () => {
      const error = await transport()
        .send({
          jobId: 'x',
          from: 'no-reply@example.com',
          to: [REFUSED_ADDRESS, LATER_ADDRESS],
          raw: message(REFUSED_ADDRESS, randomUUID()),
        })
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(RecipientsRefusedError);
      expect((error as RecipientsRefusedError).refused.map((r) => [r.recipient, r.code])).toEqual([
        [REFUSED_ADDRESS, 550],
        [LATER_ADDRESS, 451],
      ]);
    });

    it('ends a shut-down pool and an idle pooled connection with QUIT (Postfix counts quit=1)', async () => {
      const before = (await peer.logLines(' quit=1 ')).length;
      const closing = transport();
      const marker = randomUUID();
      await closing.send({
        jobId: marker,
        from: 'no-reply@example.com',
        to: [inbox],
        raw: message(inbox, marker),
      });
      await closing.close();
      await eventually(async () =>
        (await peer.logLines(' quit=1 ')).length >= before + 1 ? true : undefined,
      );

      const idle = transport({}, 300);
      const idleMarker = randomUUID();
      await idle.send({
        jobId: idleMarker,
        from: 'no-reply@example.com',
        to: [inbox],
        raw: message(inbox, idleMarker),
      });
      // No close(): the pool's idle timer ends the session.
      await eventually(
        async () => ((await peer.logLines(' quit=1 ')).length >= before + 2 ? true : undefined),
        5_000,
      );
      // Sessions of earlier tests' pools may end in the same window, so the counts are lower bounds; that no
      // session was dropped without QUIT is what the log's "lost connection after" lines would show.
      expect(await peer.logLines('lost connection after')).toEqual([]);
    });

    it.each([
      ['starttls', 'an untrusted certificate', { tlsRejectUnauthorized: true }, /^smtp starttls failed: /],
      ['auth', 'a wrong password', { user: 'nobody@postroom.test' }, /^smtp auth failed: .*535 5\.7\.8/],
    ] as const)(
      'retries a session refused at %s (%s) and sends nothing',
      async (stage, _what, overrides, reason) => {
        const before = (await peer.logLines(' data=')).length;
        const error = await transport(overrides)
          .send({
            jobId: stage,
            from: 'no-reply@example.com',
            to: [inbox],
            raw: message(inbox, randomUUID()),
          })
          .catch((e: unknown) => e);

        expect(relaySessionFailure(error)).toBe(stage);
        const failure = classifySendError(error);
        expect(failure.retryable).toBe(true);
        expect(failure.reason).toMatch(reason);
        expect((await peer.logLines(' data=')).length).toBe(before);
      },
    );

    it('fails a mail larger than the SIZE the relay announced before sending its body, naming the size', async () => {
      const raw = message(inbox, randomUUID(), `\r\n${'x'.repeat(998)}\r\n`.repeat(11_000));
      const error = await transport()
        .send({ jobId: 'big', from: 'no-reply@example.com', to: [inbox], raw })
        .catch((e: unknown) => e);

      expect(error).toBeInstanceOf(PermanentSendError);
      expect((error as PermanentSendError).reason).toBe(
        `message of ${raw.length} bytes is larger than the 10240000 bytes the relay accepts (its SIZE limit); not sent`,
      );
      expect(await peer.logLines('size=')).not.toContainEqual(expect.stringContaining(`size=${raw.length}`));
    });
  },
);

describe.skipIf(!support.ok)(
  `SMTP transport against a Postfix that stops offering STARTTLS${support.ok ? '' : ` (skipped: ${support.reason})`}`,
  // A real MTA on a loaded machine: restarts and deliveries take seconds.
  { timeout: 60_000 },
  () => {
    const peer = new PostfixPeer();
    const inbox = peer.mailbox('inbox');

    beforeAll(async () => {
      await peer.start();
    }, 600_000);

    afterAll(async () => {
      await peer.stop();
    });

    it('never sends in plaintext: the attempt fails as a retryable STARTTLS failure', async () => {
      await peer.configure({ smtpd_tls_security_level: 'none' });
      const config = testConfig({ transport: peer.transportConfig() });
      if (config.transport.kind !== 'smtp') throw new Error('not smtp');
      const smtp = new SmtpTransport(config.transport, peer.password);
      const error = await smtp
        .send({ jobId: 'tls', from: 'no-reply@example.com', to: [inbox], raw: message(inbox, randomUUID()) })
        .catch((e: unknown) => e);
      await smtp.close();

      expect(relaySessionFailure(error)).toBe('starttls');
      const failure = classifySendError(error);
      expect(failure.retryable).toBe(true);
      expect(failure.reason).toMatch(/^smtp starttls failed: .*502 5\.5\.1 Error: command not implemented/);
      // The session ended after STARTTLS was refused: no AUTH, no MAIL FROM, nothing of the mail.
      const sessions = await eventually(async () => {
        const lines = await peer.logLines('disconnect from localhost[127.0.0.1]');
        return lines.length > 0 ? lines : undefined;
      });
      expect(sessions.join('\n')).not.toMatch(/ (auth|mail|rcpt|data)=/);
      expect(await peer.delivered(inbox)).toEqual([]);
    });
  },
);

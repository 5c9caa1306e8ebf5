import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Finding } from '../../cli/command';
import { checkSmtpRelays } from '../../cli/failover';
import { configWith } from '../fakes/config';
import { BUSY_SENDER_DOMAIN, LOGIN_DOMAIN, PostfixPeer, postfixSupport } from '../support/postfix';

const support = postfixSupport();

describe.skipIf(!support.ok)(
  `CLI: postroom doctor asks a real Postfix whether it takes mail from the sender${support.ok ? '' : ` (skipped: ${support.reason})`}`,
  { timeout: 60_000 },
  () => {
    // The SASL user may send as its own domain only, decided at MAIL FROM (test/support/postfix.ts).
    const peer = new PostfixPeer({ ownDomainSenderOnly: true });
    const withPassword = () => ({ POSTROOM_SMTP_PASSWORD_RELAY: peer.password });

    beforeAll(async () => {
      await peer.start();
    }, 600_000);

    afterAll(async () => {
      await peer.stop();
    });

    /** The doctor's SMTP findings for `sender`, and what Postfix logged for that one session. */
    async function doctor(sender: string, env: NodeJS.ProcessEnv) {
      const before = (await peer.logText()).length;
      const findings = await checkSmtpRelays(
        configWith({ sender: `Postroom <${sender}>`, transport: { ...peer.transportConfig(), id: 'relay' } }),
        env,
      );
      const deadline = Date.now() + 10_000;
      let log = '';
      // postlogd writes the log shortly after smtpd: wait for the session's last line.
      while (!log.includes('disconnect from') && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        log = (await peer.logText()).slice(before);
      }
      const disconnect = log.split('\n').find((line) => line.includes('disconnect from')) ?? '';
      return {
        session: byCheck(findings, 'smtp relay'),
        sender: byCheck(findings, 'smtp relay sender'),
        log,
        disconnect,
      };
    }

    it('passes a sender at the login domain after AUTH, and queues nothing (no RCPT TO, no DATA)', async () => {
      const { session, sender, log, disconnect } = await doctor(`noreply@${LOGIN_DOMAIN}`, withPassword());

      expect(session).toEqual({
        check: 'smtp relay',
        status: 'ok',
        detail: `127.0.0.1:${peer.port} answers EHLO, STARTTLS, AUTH as ${peer.user}`,
      });
      expect(sender).toEqual({
        check: 'smtp relay sender',
        status: 'ok',
        detail: `the relay accepts MAIL FROM:<noreply@${LOGIN_DOMAIN}> (250 2.1.0 Ok); nothing was sent`,
      });
      // Postfix counts each command of the session: MAIL FROM taken, then RSET and QUIT, nothing else.
      expect(disconnect).toMatch(/ ehlo=2 starttls=1 auth=1 mail=1 rset=1 quit=1 commands=7$/);
      expect(log).not.toContain('queued as');
      expect(log).not.toMatch(/: client=/);
    });

    it("fails a sender at another domain with Postfix's 553, addresses masked, and says what to fix", async () => {
      const { sender, log, disconnect } = await doctor('noreply@refused.example', withPassword());

      expect(sender?.status).toBe('fail');
      expect(sender?.detail).toBe(
        'the relay refuses MAIL FROM:<noreply@refused.example> (553 5.7.1 <***@refused.example>: Sender ' +
          'address rejected: not owned by user ***@postroom.test): every mail would fail on this relay',
      );
      expect(sender?.fix).toBe(
        `let ${peer.user} send as refused.example at the relay (its verified senders or domains, or its sender ` +
          'login map), or set sender to an address it allows',
      );
      expect(log).toContain('NOQUEUE: reject: MAIL from');
      expect(disconnect).toMatch(/ mail=0\/1 rset=1 quit=1 /);
      expect(disconnect).not.toMatch(/rcpt=|data=/);
    });

    it('does not ask MAIL FROM without the password, says why, and never shows a password', async () => {
      const { session, sender, disconnect } = await doctor(`noreply@${LOGIN_DOMAIN}`, {});
      const wrong = await doctor(`noreply@${LOGIN_DOMAIN}`, {
        POSTROOM_SMTP_PASSWORD_RELAY: 'not-the-password',
      });

      expect(session?.status).toBe('warn');
      expect(sender).toEqual({
        check: 'smtp relay sender',
        status: 'warn',
        detail: `MAIL FROM:<noreply@${LOGIN_DOMAIN}> not checked: the relay needs AUTH as ${peer.user} first, and POSTROOM_SMTP_PASSWORD_RELAY is not set here`,
        fix: `set POSTROOM_SMTP_PASSWORD_RELAY to check that the relay lets Postroom send as ${LOGIN_DOMAIN}`,
      });
      expect(disconnect).toMatch(/ ehlo=2 starttls=1 quit=1 commands=4$/);
      expect(wrong.session?.status).toBe('fail');
      expect(wrong.session?.detail).toMatch(/AUTH refused: 535 5\.7\.8 /);
      expect(wrong.sender?.status).toBe('skip');
      expect(JSON.stringify([session, sender, wrong])).not.toContain(peer.password);
      expect(JSON.stringify(wrong)).not.toContain('not-the-password');
    });

    it('fails a temporary refusal (4xx) and says it is temporary', async () => {
      const { sender, disconnect } = await doctor(`noreply@${BUSY_SENDER_DOMAIN}`, withPassword());

      expect(sender?.status).toBe('fail');
      expect(sender?.detail).toBe(
        `the relay refuses MAIL FROM:<noreply@${BUSY_SENDER_DOMAIN}> for now (451 4.3.0 <***@${BUSY_SENDER_DOMAIN}>: ` +
          'Sender address rejected: sender lookup failed, try again later): a temporary refusal, mail would wait ' +
          'and be retried',
      );
      expect(sender?.fix).toMatch(/^run postroom doctor again later/);
      expect(disconnect).not.toMatch(/rcpt=|data=/);
    });
  },
);

function byCheck(findings: ReadonlyArray<Finding>, check: string): Finding | undefined {
  return findings.find((finding) => finding.check === check);
}

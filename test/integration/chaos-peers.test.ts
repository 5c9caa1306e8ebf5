import { randomUUID } from 'node:crypto';
import { SESv2Client } from '@aws-sdk/client-sesv2';
import { afterEach, describe, expect, it } from 'vitest';
import { REJECTED_DOMAIN } from '../../chaos/delivered';
import { type FaultSesPeer, startFaultSes } from '../../chaos/fault-ses';
import { type FaultSmtpPeer, startFaultSmtp } from '../../chaos/fault-smtp';
import { SesTransport } from '../../functions/adapters/ses-transport';
import { SmtpTransport } from '../../functions/adapters/smtp-transport';
import type { OutboundMail } from '../../functions/core/ports';
import { classifySendError } from '../../functions/core/relay/send-errors';

function mail(to = 'jane@example.org'): OutboundMail {
  const jobId = randomUUID();
  const raw = Buffer.from(
    `From: shop@example.com\r\nTo: ${to}\r\nSubject: Receipt\r\nX-Postroom-Job-Id: ${jobId}\r\n\r\nThank you.\r\n`,
  );
  return { jobId, from: 'shop@example.com', to: [to], raw };
}

async function failure(send: Promise<unknown>) {
  const error = await send.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeDefined();
  return classifySendError(error);
}

describe('Chaos peers: the faults they inject reach the relay as the real providers would', () => {
  let ses: FaultSesPeer | undefined;
  let smtp: FaultSmtpPeer | undefined;
  afterEach(async () => {
    await ses?.stop();
    await smtp?.stop();
    ses = undefined;
    smtp = undefined;
  });

  const sesTransport = (url: string) =>
    new SesTransport(
      new SESv2Client({
        region: 'us-east-1',
        endpoint: url,
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
        maxAttempts: 1,
      }),
    );

  it('SES peer keeps accepted raw MIME under its job id', async () => {
    ses = await startFaultSes({ maxSendRate: 100, serverErrorRate: 0, random: () => 0.5 });
    const sent = mail();
    const result = await sesTransport(ses.url).send(sent);
    expect(result.providerMessageId).not.toBe('');
    expect(ses.delivered.map((d) => d.jobId)).toEqual([sent.jobId]);
  });

  it('SES peer throttles above its rate with TooManyRequestsException, which the relay retries', async () => {
    ses = await startFaultSes({ maxSendRate: 1, serverErrorRate: 0, random: () => 0.5 });
    const transport = sesTransport(ses.url);
    await transport.send(mail());
    const error = await failure(transport.send(mail()));
    expect(error.retryable).toBe(true);
    expect(error.reason).toContain('TooManyRequestsException');
    expect(ses.delivered).toHaveLength(1);
  });

  it('SES peer refuses a marked recipient with MessageRejected, which the relay dead-letters', async () => {
    ses = await startFaultSes({ maxSendRate: 100, serverErrorRate: 0, random: () => 0.5 });
    const error = await failure(sesTransport(ses.url).send(mail(`gone@${REJECTED_DOMAIN}`)));
    expect(error.retryable).toBe(false);
    expect(error.reason).toContain('MessageRejected');
    expect(ses.delivered).toHaveLength(0);
  });

  it('SES peer answers 5xx without keeping the mail', async () => {
    ses = await startFaultSes({ maxSendRate: 100, serverErrorRate: 1, random: () => 0.1 });
    const error = await failure(sesTransport(ses.url).send(mail()));
    expect(error.retryable).toBe(true);
    expect(ses.delivered).toHaveLength(0);
  });

  const credentials = { user: 'relay', password: randomUUID() };
  const smtpTransport = (port: number) =>
    new SmtpTransport(
      {
        kind: 'smtp',
        host: '127.0.0.1',
        port,
        secure: false,
        requireTls: true,
        tlsRejectUnauthorized: false,
        user: credentials.user,
        maxConnections: 1,
        timeoutSeconds: 1,
      },
      credentials.password,
    );

  // With faultRate 1 the roll is the random value itself: < 0.25 drops, < 0.5 stalls, else a 4xx.
  it.each([
    ['drops the connection in the middle of DATA', 0.1, 'dropped'],
    ['stalls past the client timeout', 0.3, 'stalled'],
    ['answers a transient 4xx', 0.7, 'transient'],
  ] as const)('SMTP peer %s, keeps nothing, and the relay retries', async (_name, roll, counter) => {
    smtp = await startFaultSmtp({ credentials, faultRate: 1, random: () => roll });
    const transport = smtpTransport(smtp.port);
    try {
      const error = await failure(transport.send(mail()));
      expect(error.retryable).toBe(true);
      expect(smtp.faults[counter]).toBeGreaterThan(0);
      expect(smtp.delivered).toHaveLength(0);
    } finally {
      await transport.close();
    }
  });

  it('SMTP peer refuses a marked recipient with 550, which the relay dead-letters', async () => {
    smtp = await startFaultSmtp({ credentials, faultRate: 0, random: () => 0.5 });
    const transport = smtpTransport(smtp.port);
    try {
      const error = await failure(transport.send(mail(`gone@${REJECTED_DOMAIN}`)));
      expect(error.retryable).toBe(false);
      expect(error.reason).toMatch(/^every recipient was refused: 550 /);
      const sent = mail();
      await transport.send(sent);
      expect(smtp.delivered.map((d) => d.jobId)).toEqual([sent.jobId]);
    } finally {
      await transport.close();
    }
  });
});

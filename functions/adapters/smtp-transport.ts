import { createTransport, type Transporter } from 'nodemailer';
import type { TransportConfig } from '../core/config';
import type { OutboundMail, Transport } from '../core/ports';

type SmtpConfig = Extract<TransportConfig, { kind: 'smtp' }>;

/**
 * Any SMTP relay, through a pooled nodemailer transport: connections are reused across a batch,
 * STARTTLS is required unless the port speaks TLS from the start, and AUTH is used when a user is set.
 */
export class SmtpTransport implements Transport {
  private readonly transporter: Transporter;

  constructor(config: SmtpConfig, password: string | undefined) {
    this.transporter = createTransport({
      pool: true,
      host: config.host,
      port: config.port,
      secure: config.secure,
      requireTLS: !config.secure && config.requireTls,
      maxConnections: config.maxConnections,
      // When a connection closes mid-send without an error (a dropped one reports ECONNECTION instead), the
      // pool would resend the message on a new one, up to 5 times by default, inside one relay attempt and
      // outside its accounting. With 0 the attempt fails; the relay retries it with backoff, counted against
      // maxReceiveCount, under its claim.
      maxRequeues: 0,
      connectionTimeout: config.timeoutSeconds * 1000,
      greetingTimeout: config.timeoutSeconds * 1000,
      socketTimeout: config.timeoutSeconds * 1000,
      tls: { rejectUnauthorized: config.tlsRejectUnauthorized, minVersion: 'TLSv1.2' },
      auth: config.user === undefined ? undefined : { user: config.user, pass: password ?? '' },
      logger: false,
    });
  }

  async send(mail: OutboundMail): Promise<{ providerMessageId: string }> {
    const info = await this.transporter.sendMail({
      envelope: { from: mail.from, to: [...mail.to] },
      raw: mail.raw,
    });
    return { providerMessageId: info.messageId ?? info.response ?? '' };
  }

  async close(): Promise<void> {
    this.transporter.close();
  }
}

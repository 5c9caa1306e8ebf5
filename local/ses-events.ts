import { randomUUID } from 'node:crypto';
import type { SNSEvent } from 'aws-lambda';
import { errorName } from '../functions/core/errors';
import { providerTags } from '../functions/core/mail/message-tags';
import type { Log, OutboundMail, Transport } from '../functions/core/ports';

/**
 * SES's mailbox simulator: addresses that behave as a real mailbox that bounces, complains or is on the
 * account's suppression list, without hurting the account's reputation.
 * https://docs.aws.amazon.com/ses/latest/dg/send-an-email-from-console.html#send-email-simulator
 */
export const SIMULATOR = {
  success: 'success@simulator.amazonses.com',
  bounce: 'bounce@simulator.amazonses.com',
  complaint: 'complaint@simulator.amazonses.com',
  suppressionList: 'suppressionlist@simulator.amazonses.com',
} as const;

export interface LocalSesEventsOptions {
  /** The events function's handler, given an SNS event as Lambda would. */
  readonly handler: (event: SNSEvent) => Promise<unknown>;
  readonly log: Log;
  readonly region: string;
  /** The configuration set named in `mail.tags`, as SES does. */
  readonly configurationSet?: string | undefined;
  /**
   * How long after SES accepted a mail its events are published. On AWS the Delivery event comes when the
   * receiving server answers, seconds later; here a short pause keeps the history in the order AWS shows.
   * @default 200
   */
  readonly delayMs?: number;
}

const ACCOUNT = '000000000000';

/**
 * The SES emulator accepts mail and publishes no events. This decorator does what the configuration set's
 * SNS event destination does on AWS: after SES accepted a mail, it builds each event notification in SES's
 * JSON shape and invokes the real events handler with it, asynchronously (SNS invokes Lambda
 * asynchronously: the relay never waits for it), logging what fails.
 * Every recipient is delivered except the simulator addresses: `bounce@` bounces (Permanent, General),
 * `complaint@` is delivered then complains, `suppressionlist@` bounces (Permanent, OnAccountSuppressionList).
 */
export class LocalSesEvents implements Transport {
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly inner: Transport,
    private readonly options: LocalSesEventsOptions,
  ) {}

  async send(mail: OutboundMail): Promise<{ providerMessageId: string }> {
    const result = await this.inner.send(mail);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const run = this.publish(mail, result.providerMessageId).finally(() => this.running.delete(run));
      this.running.add(run);
    }, this.options.delayMs ?? 200);
    this.timers.add(timer);
    return result;
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
    await this.inner.close?.();
  }

  private async publish(mail: OutboundMail, providerMessageId: string): Promise<void> {
    // One SNS notification per event, each its own invocation, in the order SES sends them.
    for (const notification of sesNotifications(mail, providerMessageId, new Date(), this.options)) {
      try {
        await this.options.handler(snsEvent(JSON.stringify(notification), this.options.region));
      } catch (error) {
        this.options.log.error('local SES event handler failed', {
          jobId: mail.jobId,
          eventType: notification.eventType,
          error: errorName(error),
        });
      }
    }
  }
}

type Notification = Record<string, unknown> & { eventType: string };

/**
 * The notifications SES publishes for one accepted mail, in SES's event-publishing JSON shape.
 * https://docs.aws.amazon.com/ses/latest/dg/event-publishing-retrieving-sns-examples.html
 */
export function sesNotifications(
  mail: OutboundMail,
  providerMessageId: string,
  now: Date,
  options: Pick<LocalSesEventsOptions, 'region' | 'configurationSet'>,
): Notification[] {
  const timestamp = now.toISOString();
  const later = new Date(now.getTime() + 1).toISOString();
  const recipients = mail.to.map((address) => address.toLowerCase());
  const fromDomain = mail.from.slice(mail.from.lastIndexOf('@') + 1).replace(/>$/, '');
  const tags: Record<string, string[]> = {
    ...(options.configurationSet ? { 'ses:configuration-set': [options.configurationSet] } : {}),
    'ses:source-ip': ['127.0.0.1'],
    'ses:from-domain': [fromDomain],
    'ses:caller-identity': ['postroom-relay'],
    // The tags the SES transport sets on SendEmail, as SES hands them back.
    ...Object.fromEntries(providerTags(mail).map((tag) => [tag.name, [tag.value]])),
  };
  const mailObject = {
    timestamp,
    source: mail.from,
    sourceArn: `arn:aws:ses:${options.region}:${ACCOUNT}:identity/${fromDomain}`,
    sendingAccountId: ACCOUNT,
    messageId: providerMessageId,
    destination: [...mail.to],
    headersTruncated: false,
    tags,
  };
  const delivered = recipients.filter(
    (address) => address !== SIMULATOR.bounce && address !== SIMULATOR.suppressionList,
  );
  const out: Notification[] = [];
  if (delivered.length > 0) {
    out.push({
      eventType: 'Delivery',
      mail: mailObject,
      delivery: {
        timestamp,
        processingTimeMillis: 1,
        recipients: delivered,
        smtpResponse: '250 2.6.0 Message received',
        reportingMTA: 'a1-1.smtp-out.local.amazonses.com',
      },
    });
  }
  const bounce = (address: string, subType: string, diagnosticCode: string): Notification => ({
    eventType: 'Bounce',
    mail: mailObject,
    bounce: {
      feedbackId: randomUUID(),
      bounceType: 'Permanent',
      bounceSubType: subType,
      bouncedRecipients: [{ emailAddress: address, action: 'failed', status: '5.1.1', diagnosticCode }],
      timestamp,
      reportingMTA: 'dns; local.amazonses.com',
    },
  });
  if (recipients.includes(SIMULATOR.bounce)) {
    out.push(bounce(SIMULATOR.bounce, 'General', 'smtp; 550 5.1.1 user unknown'));
  }
  if (recipients.includes(SIMULATOR.suppressionList)) {
    out.push(
      bounce(
        SIMULATOR.suppressionList,
        'OnAccountSuppressionList',
        'Amazon SES did not send the message to this address because it is on the suppression list for your account.',
      ),
    );
  }
  if (recipients.includes(SIMULATOR.complaint)) {
    out.push({
      eventType: 'Complaint',
      mail: mailObject,
      complaint: {
        feedbackId: randomUUID(),
        complainedRecipients: [{ emailAddress: SIMULATOR.complaint }],
        timestamp: later,
        userAgent: 'Amazon SES Mailbox Simulator',
        complaintFeedbackType: 'abuse',
        arrivalDate: timestamp,
      },
    });
  }
  return out;
}

/** The event SNS gives Lambda for one published message. */
function snsEvent(message: string, region: string): SNSEvent {
  const topicArn = `arn:aws:sns:${region}:${ACCOUNT}:postroom-ses-events`;
  return {
    Records: [
      {
        EventSource: 'aws:sns',
        EventVersion: '1.0',
        EventSubscriptionArn: `${topicArn}:${randomUUID()}`,
        Sns: {
          Type: 'Notification',
          MessageId: randomUUID(),
          TopicArn: topicArn,
          Subject: '',
          Message: message,
          Timestamp: new Date().toISOString(),
          SignatureVersion: '1',
          Signature: 'local',
          SigningCertUrl: 'https://sns.local/cert.pem',
          UnsubscribeUrl: 'https://sns.local/unsubscribe',
          MessageAttributes: {},
        },
      },
    ],
  };
}

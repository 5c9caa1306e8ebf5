import { type SESv2Client, SendEmailCommand } from '@aws-sdk/client-sesv2';
import { providerTags } from '../core/mail/message-tags';
import type { OutboundMail, Transport } from '../core/ports';

/**
 * Amazon SES v2 SendEmail with Raw content: the exact MIME that core built (and tested) is what SES
 * sends, and the envelope recipients are the job's, given as Destination.
 * https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_SendEmail.html
 */
export class SesTransport implements Transport {
  constructor(
    private readonly ses: SESv2Client,
    private readonly options: { configurationSet?: string | undefined } = {},
  ) {}

  async send(mail: OutboundMail): Promise<{ providerMessageId: string }> {
    const result = await this.ses.send(
      new SendEmailCommand({
        FromEmailAddress: mail.from,
        // With Raw content the Destination is the envelope: Bcc recipients are here and in no header.
        Destination: { ToAddresses: [...mail.to] },
        Content: { Raw: { Data: mail.raw } },
        ConfigurationSetName: this.options.configurationSet,
        EmailTags: providerTags(mail).map((tag) => ({ Name: tag.name, Value: tag.value })),
      }),
    );
    return { providerMessageId: result.MessageId ?? '' };
  }
}

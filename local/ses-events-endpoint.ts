import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SNSEvent } from 'aws-lambda';
import {
  CORRELATION_ID_TAG,
  FORM_ID_TAG,
  JOB_ID_TAG,
  RESERVED_TAGS,
} from '../functions/core/mail/message-tags';
import type { Log, OutboundMail } from '../functions/core/ports';
import { LOCAL_HOST } from './emulators';
import { LocalSesEvents } from './ses-events';

export interface SesEventsEndpointOptions {
  /** The SES endpoint mail is forwarded to (the emulator, or a test's peer). */
  readonly target: string;
  /** The events function, given each SNS event as Lambda would be. */
  readonly handler: (event: SNSEvent) => Promise<unknown>;
  readonly log: Log;
  readonly region: string;
  readonly configurationSet?: string | undefined;
}

interface SendEmailRequest {
  FromEmailAddress?: string;
  Destination?: { ToAddresses?: string[]; CcAddresses?: string[]; BccAddresses?: string[] };
  Content?: { Raw?: { Data?: string } };
  EmailTags?: Array<{ Name: string; Value: string }>;
}

/**
 * The SES endpoint a relay bundle in its own process is given. It forwards every request to `target`
 * unchanged and, for each SendEmail the target accepts, publishes the mail's events to the events function
 * as the configuration set's SNS destination does on AWS (local/ses-events.ts, LocalSesEvents, builds them):
 * the bundle's SES client is the one that runs, and the events are built from what it sent, its tags
 * included. In-process the stack wraps the transport instead; a bundle's transport cannot be wrapped.
 */
export async function startSesEventsEndpoint(
  options: SesEventsEndpointOptions,
): Promise<{ url: string; stop(): Promise<void> }> {
  const providerIds = new WeakMap<OutboundMail, string>();
  const events = new LocalSesEvents(
    { send: async (mail) => ({ providerMessageId: providerIds.get(mail) ?? '' }) },
    {
      handler: options.handler,
      log: options.log,
      region: options.region,
      configurationSet: options.configurationSet,
    },
  );
  const target = new URL(options.target);
  const server = createServer((req, res) => {
    void forward(req).then(
      async ({ status, headers, body }) => {
        res.writeHead(status, headers);
        res.end(body);
        if (req.method === 'POST' && req.url?.startsWith('/v2/email/outbound-emails') && status === 200) {
          await publish(requestBodies.get(req), body);
        }
      },
      (error: unknown) => {
        options.log.error('SES events endpoint could not reach SES', { error: String(error) });
        res.writeHead(502).end();
      },
    );
  });
  const requestBodies = new WeakMap<IncomingMessage, Buffer>();

  async function forward(req: IncomingMessage) {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    requestBodies.set(req, body);
    return new Promise<{ status: number; headers: IncomingMessage['headers']; body: Buffer }>(
      (resolve, reject) => {
        const out = httpRequest(
          {
            host: target.hostname,
            port: target.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: target.host },
          },
          (response) => {
            const received: Buffer[] = [];
            response.on('data', (chunk: Buffer) => received.push(chunk));
            response.on('end', () =>
              resolve({
                status: response.statusCode ?? 502,
                headers: response.headers,
                body: Buffer.concat(received),
              }),
            );
            response.on('error', reject);
          },
        );
        out.on('error', reject);
        out.end(body);
      },
    );
  }

  async function publish(requestBody: Buffer | undefined, responseBody: Buffer): Promise<void> {
    try {
      const sent = JSON.parse(requestBody?.toString('utf8') ?? '{}') as SendEmailRequest;
      const { MessageId } = JSON.parse(responseBody.toString('utf8')) as { MessageId?: string };
      const tags = (sent.EmailTags ?? []).map((tag) => ({ name: tag.Name, value: tag.Value }));
      const destination = sent.Destination ?? {};
      const mail: OutboundMail = {
        jobId: tags.find((tag) => tag.name === JOB_ID_TAG)?.value ?? '',
        correlationId: tags.find((tag) => tag.name === CORRELATION_ID_TAG)?.value,
        formId: tags.find((tag) => tag.name === FORM_ID_TAG)?.value,
        from: sent.FromEmailAddress ?? '',
        to: [
          ...(destination.ToAddresses ?? []),
          ...(destination.CcAddresses ?? []),
          ...(destination.BccAddresses ?? []),
        ],
        raw: Buffer.from(sent.Content?.Raw?.Data ?? '', 'base64'),
        tags: tags.filter((tag) => !RESERVED_TAGS.has(tag.name)),
      };
      providerIds.set(mail, MessageId ?? '');
      await events.send(mail);
    } catch (error) {
      // The mail went out; only its events are lost, as when an SNS delivery fails. Said, not thrown.
      options.log.error('SES events endpoint could not read a SendEmail', { error: String(error) });
    }
  }

  await new Promise<void>((resolve) => server.listen(0, LOCAL_HOST, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${LOCAL_HOST}:${port}`,
    async stop() {
      await events.close();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

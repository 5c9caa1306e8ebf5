import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTRIBUTE } from '../../functions/adapters/queue-attributes';
import { maskAddress } from '../../functions/core/mail/address';
import type { StatusChange } from '../../functions/core/messages';
import { METRIC } from '../../functions/core/metrics';
import { RecordingMetrics } from '../fakes/ports';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { LATER_ADDRESS, PostfixPeer, postfixSupport, REFUSED_ADDRESS } from '../support/postfix';

const support = postfixSupport();
const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;

describe.skipIf(!support.ok)(
  `Relay through Postfix: partial refusals, provider references, strict MIME${support.ok ? '' : ` (skipped: ${support.reason})`}`,
  // A real MTA on a loaded machine: restarts and deliveries take seconds.
  { timeout: 60_000 },
  () => {
    const peer = new PostfixPeer();
    const inbox = peer.mailbox('inbox');
    const copy = peer.mailbox('copy');
    const metrics = new RecordingMetrics();
    let stack: TestStack;

    beforeAll(async () => {
      await peer.start();
      const config = testConfig({
        transport: peer.transportConfig(),
        // Room for a Postfix restart between two attempts.
        relay: {
          timeoutSeconds: 5,
          claimLeaseSeconds: 6,
          retryBaseSeconds: 4,
          retryMaxSeconds: 4,
          recordTtlDays: 30,
        },
      });
      stack = await startTestStack(config, { smtpPassword: peer.password, apiKey: API_KEY, metrics });
    }, 600_000);

    afterAll(async () => {
      await stack?.stop();
      await peer.stop();
    });

    async function send(body: Record<string, unknown>): Promise<string> {
      const response = await fetch(`${stack.apiUrl}/v1/send`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
        body: JSON.stringify({ from: 'no-reply@example.com', ...body }),
      });
      expect(response.status).toBe(202);
      return ((await response.json()) as { id: string }).id;
    }

    async function message(id: string) {
      const response = await fetch(`${stack.apiUrl}/v1/messages/${id}`, {
        headers: { authorization: `Bearer ${API_KEY}` },
      });
      expect(response.status).toBe(200);
      return (await response.json()) as { status: string; history: StatusChange[] };
    }

    it('delivers a mail whose every part Python parses without a defect under policy.strict', async () => {
      const marker = randomUUID();
      const id = await send({
        to: inbox,
        subject: `Grüße ${marker}`,
        text: `Zeile eins ${marker}\nZeile zwei: Ünïcödé\n${'long '.repeat(300)}`,
        html: `<p>Grüße ${marker}</p>`,
        attachments: [
          {
            filename: 'notes.txt',
            contentType: 'text/plain',
            content: Buffer.from('a\nb\n').toString('base64'),
          },
        ],
      });

      const [mail] = await peer.waitFor(inbox, marker);
      expect(mail?.defects).toEqual([]);
      expect(mail?.headers.find(([name]) => name === 'Subject')?.[1]).toBe(`Grüße ${marker}`);
      expect(mail?.parts.map((part) => part.contentType)).toEqual(['text/plain', 'text/html', 'text/plain']);
      expect(mail?.parts[0]?.text).toContain('Zeile zwei: Ünïcödé');
      expect(mail?.parts[2]?.filename).toBe('notes.txt');

      const record = await eventually(async () => {
        const current = await message(id);
        return current.status === 'sent' ? current : undefined;
      }, 15_000);
      const sent = record.history.find((change) => change.status === 'sent');
      // The relay's own reference, and the same queue id in the mail's Received header.
      expect(sent?.detail).toMatch(/^250 2\.0\.0 Ok: queued as [0-9A-Za-z]+$/);
      const queueId = sent?.detail?.split(' ').pop() ?? '';
      expect(mail?.headers.find(([name]) => name === 'Received')?.[1]).toContain(`id ${queueId}`);
      expect(await peer.logLines(`${queueId}: client=localhost[127.0.0.1], sasl_method=PLAIN`)).toHaveLength(
        1,
      );
    });

    it('fails a mail whose every recipient is refused, with each refusal (masked) in its history', async () => {
      const id = await send({ to: REFUSED_ADDRESS, subject: 'Nobody', text: 'nobody' });

      const [letter] = await stack.deadLetters(15_000);
      expect(letter?.attributes[ATTRIBUTE.jobId]).toBe(id);
      expect(letter?.attributes[ATTRIBUTE.reason]).toBe(
        'every recipient was refused: 550 5.1.1 <***@inbox.test>: Recipient address rejected: no such user here',
      );
      const record = await eventually(async () => {
        const current = await message(id);
        return current.status === 'failed' ? current : undefined;
      }, 15_000);
      expect(record.history.find((change) => change.status === 'failed')?.refused).toEqual([
        {
          recipient: maskAddress(REFUSED_ADDRESS),
          reply: '550 5.1.1 <***@inbox.test>: Recipient address rejected: no such user here',
        },
      ]);
      expect(metrics.dimensioned.get(`${METRIC.recipientRefused}{kind=permanent}`)).toBeGreaterThanOrEqual(1);
      await stack.drained(stack.resources.queueUrl);
    });

    it('records refused recipients, and retries one refused for now alone: nobody gets the mail twice', async () => {
      const marker = randomUUID();
      const before = { ...Object.fromEntries(metrics.dimensioned) };
      const id = await send({
        to: inbox,
        cc: [REFUSED_ADDRESS, LATER_ADDRESS],
        bcc: copy,
        subject: `Partly refused ${marker}`,
        text: `Body ${marker}`,
      });

      // Attempt 1: the relay takes it for inbox and copy, refuses one for good and one for now.
      const first = await eventually(async () => {
        const current = await message(id);
        return current.history.some((change) => change.status === 'queued' && change.refused)
          ? current
          : undefined;
      }, 15_000);
      const retry = first.history.find((change) => change.status === 'queued' && change.refused);
      expect(retry?.refused).toEqual([
        {
          recipient: maskAddress(REFUSED_ADDRESS),
          reply: '550 5.1.1 <***@inbox.test>: Recipient address rejected: no such user here',
        },
        {
          recipient: maskAddress(LATER_ADDRESS),
          reply: '451 4.2.0 <***@inbox.test>: Recipient address rejected: mailbox busy, try again later',
        },
      ]);
      expect(retry?.detail).toMatch(
        /^will retry: 1 of 4 recipients refused for now: 451 4\.2\.0 .*; sent to 2: 250 2\.0\.0 Ok: queued as \w+$/,
      );
      expect(JSON.stringify(first)).not.toContain(LATER_ADDRESS);

      // The relay stops refusing it; the retry goes to that recipient alone.
      await peer.acceptLater();
      let last: unknown;
      const record = await eventually(
        async () => {
          const current = await message(id);
          last = current;
          return current.status === 'sent' ? current : undefined;
        },
        30_000,
        'sent',
      ).catch((error: unknown) => {
        throw new Error(`${String(error)}: ${JSON.stringify(last)}`);
      });
      const sent = record.history.filter((change) => change.status === 'sent');
      expect(sent).toHaveLength(1);
      expect(sent[0]?.detail).toMatch(/^250 2\.0\.0 Ok: queued as \w+$/);
      await stack.drained(stack.resources.queueUrl, 10_000);

      for (const address of [inbox, copy, LATER_ADDRESS]) {
        const mails = await peer.waitFor(address, marker);
        expect(mails, address).toHaveLength(1);
        expect(mails[0]?.defects).toEqual([]);
      }
      // Postfix's log: one RCPT per attempt for `later`, and the second session carried nothing else.
      const secondQueueId = sent[0]?.detail?.split(' ').pop() ?? '';
      expect(
        (await peer.logLines(`${secondQueueId}: to=<`)).map((line) => /to=<([^>]+)>/.exec(line)?.[1]),
      ).toEqual([LATER_ADDRESS]);
      expect(metrics.dimensioned.get(`${METRIC.recipientRefused}{kind=transient}`) ?? 0).toBe(
        (before[`${METRIC.recipientRefused}{kind=transient}`] ?? 0) + 1,
      );
    }, 60_000);
  },
);

import { randomUUID } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, GetItemCommand, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import dynalite from 'dynalite';
import { buildApp as buildFauxqs } from 'fauxqs';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDynamoClient } from '../../functions/adapters/aws-clients';
import { createSesClient } from '../../functions/adapters/ses-client';
import { SesTransport } from '../../functions/adapters/ses-transport';
import { createSqsClient } from '../../functions/adapters/sqs-client';
import { createMailTransport } from '../../functions/adapters/transport';
import { xray } from '../../functions/adapters/xray-tracer';
import type { OutboundMail } from '../../functions/core/ports';
import { testConfig } from '../support/local-stack';
import { SmtpPeer, smtpTransportFor } from '../support/smtp-peer';

const TRACE_ID = '1-5759e988-bd862e3fe1be46a994272793';
const PARENT_ID = '53995c3f42cd8ad8';
const HEADER_LINE = '{"format": "json", "version": 1}';
const LOCAL = { accessKeyId: 'local', secretAccessKey: 'local' };

type Subsegment = Record<string, unknown> & {
  aws?: Record<string, unknown>;
  http?: { response?: { status?: number } };
  cause?: { exceptions: Array<Record<string, unknown>> };
};

/** A stand-in for the X-Ray daemon: a UDP socket on loopback that keeps every datagram. */
class DaemonPeer {
  readonly datagrams: string[] = [];
  private socket: Socket | undefined;
  port = 0;

  async start(): Promise<void> {
    const socket = createSocket('udp4');
    socket.on('message', (message) => this.datagrams.push(message.toString('utf8')));
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    this.port = socket.address().port;
    this.socket = socket;
  }

  /** The documents received, after checking each datagram is the header line then one JSON document. */
  documents(): Subsegment[] {
    return this.datagrams.map((datagram) => {
      const [header, body, ...rest] = datagram.split('\n');
      expect(header).toBe(HEADER_LINE);
      expect(rest).toEqual([]);
      return JSON.parse(body ?? '') as Subsegment;
    });
  }

  /** Waits for `count` documents, then a little longer to see that no more come. */
  async received(count: number, timeoutMs = 5_000): Promise<Subsegment[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.datagrams.length < count && Date.now() < deadline) await sleep(10);
    await sleep(100);
    return this.documents();
  }

  stop(): void {
    this.socket?.close();
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A loopback SES v2 endpoint that answers each SendEmail as told and keeps the request bodies. */
async function startSesPeer(answer: () => { status: number; body: object }) {
  const bodies: Array<Record<string, unknown>> = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Record<string, unknown>);
      const { status, body } = answer();
      response.writeHead(status, {
        'content-type': 'application/json',
        'x-amzn-requestid': `ses-req-${bodies.length}`,
        ...(status >= 400 ? { 'x-amzn-errortype': (body as { __type?: string }).__type ?? '' } : {}),
      });
      response.end(JSON.stringify(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    bodies,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function mail(overrides: Partial<OutboundMail> = {}): OutboundMail {
  return {
    jobId: randomUUID(),
    from: 'no-reply@example.com',
    to: ['jane.doe@example.org'],
    raw: Buffer.from('Subject: Hello\r\n\r\nsecret body text\r\n'),
    ...overrides,
  };
}

describe('Adapter: X-Ray subsegments over UDP to the daemon', () => {
  const daemon = new DaemonPeer();
  let dynamo: ReturnType<typeof dynalite>;
  let dynamoUrl: string;
  let sqs: Awaited<ReturnType<typeof startFauxqs>>;
  const saved = { trace: process.env._X_AMZN_TRACE_ID, daemon: process.env.AWS_XRAY_DAEMON_ADDRESS };

  async function startFauxqs() {
    const app = buildFauxqs({ logger: false });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return app;
  }

  beforeAll(async () => {
    await daemon.start();
    dynamo = dynalite({ createTableMs: 0 });
    await new Promise<void>((resolve) => dynamo.listen(0, '127.0.0.1', () => resolve()));
    dynamoUrl = `http://127.0.0.1:${(dynamo.address() as AddressInfo).port}`;
    sqs = await startFauxqs();
  });

  afterAll(async () => {
    daemon.stop();
    xray.close();
    await new Promise<void>((resolve) => dynamo.close(() => resolve()));
    await sqs.close();
  });

  beforeEach(() => {
    daemon.datagrams.length = 0;
    process.env.AWS_XRAY_DAEMON_ADDRESS = `127.0.0.1:${daemon.port}`;
  });

  afterEach(() => {
    for (const [name, value] of [
      ['_X_AMZN_TRACE_ID', saved.trace],
      ['AWS_XRAY_DAEMON_ADDRESS', saved.daemon],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  const sampled = (parent = PARENT_ID) => {
    process.env._X_AMZN_TRACE_ID = `Root=${TRACE_ID};Parent=${parent};Sampled=1;Lineage=a87bd80c:0`;
  };
  const dynamoClient = () =>
    createDynamoClient({ region: 'eu-west-1', endpoints: { dynamodb: dynamoUrl }, credentials: LOCAL });

  it('sends one subsegment per DynamoDB call, under the invocation trace read at call time', async () => {
    // Prepare: the client is created before the invocation's header exists, as at cold start
    const client = dynamoClient();
    sampled();
    const before = Date.now() / 1000;

    // Act
    await client.send(new ListTablesCommand({}));
    const after = Date.now() / 1000;
    process.env._X_AMZN_TRACE_ID = `Root=${TRACE_ID};Parent=aaaaaaaaaaaaaaaa;Sampled=1`;
    await client.send(new ListTablesCommand({}));
    client.destroy();

    // Assess
    const [first, second] = await daemon.received(2);
    expect(daemon.datagrams).toHaveLength(2);
    expect(first).toMatchObject({
      name: 'DynamoDB',
      namespace: 'aws',
      type: 'subsegment',
      trace_id: TRACE_ID,
      parent_id: PARENT_ID,
      aws: { operation: 'ListTables', region: 'eu-west-1', retries: 0 },
      http: { response: { status: 200 } },
    });
    expect(first?.id).toMatch(/^[0-9a-f]{16}$/);
    expect(first?.aws?.request_id).toEqual(expect.any(String));
    const start = first?.start_time as number;
    const end = first?.end_time as number;
    expect(start).toBeGreaterThanOrEqual(before - 0.001);
    expect(end).toBeGreaterThanOrEqual(start);
    expect(end).toBeLessThanOrEqual(after + 0.001);
    for (const flag of ['error', 'fault', 'throttle', 'cause']) expect(first).not.toHaveProperty(flag);
    // The next invocation's header is read again: its subsegment hangs under the new parent.
    expect(second?.parent_id).toBe('aaaaaaaaaaaaaaaa');
    expect(second?.id).not.toBe(first?.id);
  });

  it('marks a refused call as an error with the exception name only, and records the table', async () => {
    // Prepare
    const client = dynamoClient();
    sampled();

    // Act
    const failure = await client
      .send(new GetItemCommand({ TableName: 'no-such-table', Key: { pk: { S: 'jane.doe@example.org' } } }))
      .catch((error: unknown) => error);
    client.destroy();

    // Assess: the call failed as it would have untraced
    expect((failure as Error).name).toBe('ResourceNotFoundException');
    const [document] = await daemon.received(1);
    expect(document).toMatchObject({
      name: 'DynamoDB',
      error: true,
      aws: { operation: 'GetItem', table_name: 'no-such-table' },
      http: { response: { status: 400 } },
      cause: { exceptions: [{ type: 'ResourceNotFoundException', remote: true }] },
    });
    expect(document).not.toHaveProperty('fault');
    expect(document?.cause?.exceptions[0]).not.toHaveProperty('message');
    expect(daemon.datagrams.join('')).not.toContain('jane.doe');
  });

  it('traces SQS calls with the queue, and never the message body', async () => {
    // Prepare
    const client = createSqsClient({
      region: 'us-east-1',
      endpoints: { sqs: `http://127.0.0.1:${(sqs.server.address() as AddressInfo).port}` },
      credentials: LOCAL,
    });
    const { CreateQueueCommand } = await import('@aws-sdk/client-sqs');
    const { QueueUrl } = await client.send(new CreateQueueCommand({ QueueName: 'traced' }));
    sampled();

    // Act
    await client.send(new SendMessageCommand({ QueueUrl, MessageBody: 'secret job body' }));
    client.destroy();

    // Assess
    const [document] = await daemon.received(1);
    expect(document).toMatchObject({
      name: 'SQS',
      namespace: 'aws',
      aws: { operation: 'SendMessage', queue_url: QueueUrl },
      http: { response: { status: 200 } },
    });
    expect(daemon.datagrams.join('')).not.toContain('secret job body');
  });

  it('marks a provider 5xx as a fault and counts the SDK retries; SendEmail carries the correlation tag', async () => {
    // Prepare: SES answers 500 every time
    const ses = await startSesPeer(() => ({
      status: 500,
      body: { __type: 'InternalFailure', message: 'boom for jane.doe@example.org' },
    }));
    const client = createSesClient({ region: 'us-east-1', endpoints: { ses: ses.url }, credentials: LOCAL });
    sampled();

    // Act
    const failure = await new SesTransport(client)
      .send(mail({ correlationId: 'req-123', tags: [{ name: 'category', value: 'receipt' }] }))
      .catch((error: unknown) => error);
    client.destroy();
    await ses.stop();

    // Assess
    expect(failure).toBeInstanceOf(Error);
    const [document] = await daemon.received(1);
    expect(document).toMatchObject({
      name: 'SESv2',
      fault: true,
      aws: { operation: 'SendEmail', retries: ses.bodies.length - 1 },
      http: { response: { status: 500 } },
      cause: { exceptions: [{ type: 'InternalFailure' }] },
    });
    expect(ses.bodies.length).toBeGreaterThan(1);
    expect(document).not.toHaveProperty('error');
    expect(daemon.datagrams.join('')).not.toContain('jane.doe');
    expect(ses.bodies[0]?.EmailTags).toEqual([
      { Name: 'postroom-job-id', Value: expect.any(String) },
      { Name: 'postroom-correlation-id', Value: 'req-123' },
      { Name: 'category', Value: 'receipt' },
    ]);
  });

  it('records a throttled attempt that the SDK retried as one successful call with one retry', async () => {
    // Prepare
    let calls = 0;
    const ses = await startSesPeer(() => {
      calls += 1;
      return calls === 1
        ? { status: 429, body: { __type: 'TooManyRequestsException', message: 'slow down' } }
        : { status: 200, body: { MessageId: 'ses-message-1' } };
    });
    const client = createSesClient({ region: 'us-east-1', endpoints: { ses: ses.url }, credentials: LOCAL });
    sampled();

    // Act: the SDK retries the throttled attempt and succeeds
    const result = await new SesTransport(client).send(mail());
    client.destroy();
    await ses.stop();

    // Assess: the call as a whole succeeded, after one retry
    expect(result.providerMessageId).toBe('ses-message-1');
    const [document] = await daemon.received(1);
    expect(document).toMatchObject({ name: 'SESv2', aws: { operation: 'SendEmail', retries: 1 } });
    expect(document).not.toHaveProperty('throttle');
  });

  it('marks a call still throttled (429) after the retries as an error and a throttle, not a fault', async () => {
    // Prepare
    const ses = await startSesPeer(() => ({
      status: 429,
      body: { __type: 'TooManyRequestsException', message: 'Maximum sending rate exceeded' },
    }));
    const client = createSesClient({ region: 'us-east-1', endpoints: { ses: ses.url }, credentials: LOCAL });
    sampled();

    // Act
    const failure = await new SesTransport(client).send(mail()).catch((error: unknown) => error);
    client.destroy();
    await ses.stop();

    // Assess
    expect((failure as Error).name).toBe('TooManyRequestsException');
    const [document] = await daemon.received(1);
    expect(document).toMatchObject({
      error: true,
      throttle: true,
      http: { response: { status: 429 } },
      cause: { exceptions: [{ type: 'TooManyRequestsException' }] },
    });
    expect(document).not.toHaveProperty('fault');
  });

  it('traces each SMTP send as a remote subsegment, an SMTP 5xx refusal as an error', async () => {
    // Prepare
    const credentials = { user: 'postroom', password: randomUUID() };
    const peer = new SmtpPeer(credentials);
    await peer.start();
    peer.answer(['accept', 550]);
    const transport = createMailTransport(
      testConfig({ transport: smtpTransportFor(peer, credentials.user) }).transport,
      { region: 'us-east-1' },
      { smtpPassword: credentials.password },
    );
    sampled();

    // Act
    await transport.send(mail());
    const refused = await transport.send(mail()).catch((error: unknown) => error);
    await transport.close?.();
    await peer.stop();

    // Assess
    expect((refused as { responseCode?: number }).responseCode).toBe(550);
    const [sent, failed] = await daemon.received(2);
    expect(sent).toMatchObject({
      name: 'SMTP',
      namespace: 'remote',
      trace_id: TRACE_ID,
      parent_id: PARENT_ID,
    });
    for (const flag of ['error', 'fault', 'aws']) expect(sent).not.toHaveProperty(flag);
    expect(failed).toMatchObject({
      name: 'SMTP',
      error: true,
      cause: { exceptions: [{ type: 'EMESSAGE' }] },
    });
    expect(daemon.datagrams.join('')).not.toContain('rcpt@example.com');
  });

  it.each([
    ['not sampled', `Root=${TRACE_ID};Parent=${PARENT_ID};Sampled=0`],
    ['without a parent', `Root=${TRACE_ID};Sampled=1`],
    ['absent', undefined],
  ])('sends nothing when the trace header is %s', async (_, header) => {
    // Prepare
    const client = dynamoClient();
    if (header === undefined) delete process.env._X_AMZN_TRACE_ID;
    else process.env._X_AMZN_TRACE_ID = header;

    // Act
    await client.send(
      new CreateTableCommand({
        TableName: `t-${randomUUID()}`,
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    client.destroy();

    // Assess
    expect(await daemon.received(0, 0)).toEqual([]);
  });

  it('never fails the call when the daemon address is unusable', async () => {
    // Prepare
    const client = dynamoClient();
    sampled();
    process.env.AWS_XRAY_DAEMON_ADDRESS = 'not an address';

    // Act & Assess
    await expect(client.send(new ListTablesCommand({}))).resolves.toMatchObject({
      TableNames: expect.any(Array),
    });
    client.destroy();
  });
});

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Loopback stand-ins for the AWS control-plane calls no emulator serves: CloudFormation DescribeStacks
 * (awsQuery: form-encoded POST in, XML out), CloudWatch DescribeAlarms (awsJson1_0, as the SDK's
 * client-cloudwatch speaks it) and SES v2 GetEmailIdentity/GetAccount (restJson). Each answers from what
 * the test gives it and records the requests.
 */

export interface Peer {
  readonly url: string;
  /** `Action Key=Value...` for CloudFormation, the target and body for CloudWatch, `METHOD path` for SES. */
  readonly requests: string[];
  stop(): Promise<void>;
}

async function listen(handle: (body: string, req: IncomingMessage, res: ServerResponse) => void): Promise<{
  server: Server;
  url: string;
}> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handle(Buffer.concat(chunks).toString('utf8'), req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function stopper(server: Server): () => Promise<void> {
  return () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
}

const xml = (text: string) =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** DescribeStacks for the given stacks (name to outputs); any other name gets CloudFormation's ValidationError. */
export async function startCloudFormationPeer(
  stacks: Readonly<Record<string, Readonly<Record<string, string>>>>,
): Promise<Peer> {
  const requests: string[] = [];
  const ns = 'http://cloudformation.amazonaws.com/doc/2010-05-15/';
  const { server, url } = await listen((body, _req, res) => {
    const form = new URLSearchParams(body);
    const name = form.get('StackName') ?? '';
    requests.push(`${form.get('Action')} StackName=${name}`);
    const outputs = form.get('Action') === 'DescribeStacks' ? stacks[name] : undefined;
    res.setHeader('content-type', 'text/xml');
    if (outputs === undefined) {
      res.statusCode = 400;
      res.end(
        `<ErrorResponse xmlns="${ns}"><Error><Type>Sender</Type><Code>ValidationError</Code>` +
          `<Message>Stack with id ${xml(name)} does not exist</Message></Error>` +
          '<RequestId>peer-1</RequestId></ErrorResponse>',
      );
      return;
    }
    const members = Object.entries(outputs)
      .map(
        ([key, value]) =>
          `<member><OutputKey>${xml(key)}</OutputKey><OutputValue>${xml(value)}</OutputValue></member>`,
      )
      .join('');
    res.end(
      `<DescribeStacksResponse xmlns="${ns}"><DescribeStacksResult><Stacks><member>` +
        `<StackName>${xml(name)}</StackName>` +
        `<StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/${xml(name)}/1</StackId>` +
        '<CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>UPDATE_COMPLETE</StackStatus>' +
        `<Outputs>${members}</Outputs></member></Stacks></DescribeStacksResult>` +
        '<ResponseMetadata><RequestId>peer-2</RequestId></ResponseMetadata></DescribeStacksResponse>',
    );
  });
  return { url, requests, stop: stopper(server) };
}

export interface PeerAlarm {
  readonly name: string;
  readonly state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
  readonly description: string;
  /** The alarm actions: DescribeAlarms' ActionPrefix filters on them. */
  readonly actions: ReadonlyArray<string>;
}

/** DescribeAlarms over awsJson1_0, filtering by ActionPrefix and paging two alarms at a time. */
export async function startCloudWatchPeer(alarms: ReadonlyArray<PeerAlarm>): Promise<Peer> {
  const requests: string[] = [];
  const { server, url } = await listen((body, req, res) => {
    const target = String(req.headers['x-amz-target'] ?? '');
    requests.push(`${target} ${body}`);
    res.setHeader('content-type', 'application/x-amz-json-1.0');
    if (target !== 'GraniteServiceVersion20100801.DescribeAlarms') {
      res.statusCode = 400;
      res.end(JSON.stringify({ __type: 'InvalidAction', message: `peer does not serve ${target}` }));
      return;
    }
    const input = JSON.parse(body || '{}') as { ActionPrefix?: string; NextToken?: string };
    const matching = alarms.filter(
      (a) =>
        input.ActionPrefix === undefined ||
        a.actions.some((action) => action.startsWith(input.ActionPrefix ?? '')),
    );
    const start = Number(input.NextToken ?? 0);
    const page = matching.slice(start, start + 2);
    res.end(
      JSON.stringify({
        MetricAlarms: page.map((a) => ({
          AlarmName: a.name,
          AlarmDescription: a.description,
          AlarmActions: a.actions,
          StateValue: a.state,
          StateReason:
            a.state === 'ALARM' ? 'Threshold Crossed: 1 datapoint [3.0] was >= the threshold (1.0).' : 'ok',
          // awsJson1_0 carries timestamps as epoch seconds.
          StateUpdatedTimestamp: 1_780_000_000,
        })),
        CompositeAlarms: [],
        ...(start + 2 < matching.length ? { NextToken: String(start + 2) } : {}),
      }),
    );
  });
  return { url, requests, stop: stopper(server) };
}

export interface PeerIdentity {
  readonly type: 'DOMAIN' | 'EMAIL_ADDRESS';
  readonly verified: boolean;
  readonly dkim: 'SUCCESS' | 'PENDING' | 'FAILED' | 'TEMPORARY_FAILURE' | 'NOT_STARTED';
}

/** SES v2 GetEmailIdentity for the given identities (NotFoundException for others) and GetAccount. */
export async function startSesIdentityPeer(
  identities: Readonly<Record<string, PeerIdentity>>,
): Promise<Peer> {
  const requests: string[] = [];
  const { server, url } = await listen((_body, req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://peer').pathname);
    requests.push(`${req.method} ${path}`);
    res.setHeader('content-type', 'application/json');
    if (path === '/v2/email/account') {
      res.end(
        JSON.stringify({
          ProductionAccessEnabled: true,
          SendingEnabled: true,
          EnforcementStatus: 'HEALTHY',
          SendQuota: { Max24HourSend: 50_000, MaxSendRate: 100, SentLast24Hours: 0 },
        }),
      );
      return;
    }
    const identity = path.startsWith('/v2/email/identities/') ? identities[path.slice(21)] : undefined;
    if (identity === undefined) {
      res.statusCode = 404;
      res.setHeader('x-amzn-errortype', 'NotFoundException');
      res.end(JSON.stringify({ message: `Email identity ${path.slice(21)} does not exist.` }));
      return;
    }
    res.end(
      JSON.stringify({
        IdentityType: identity.type,
        VerifiedForSendingStatus: identity.verified,
        VerificationStatus: identity.verified ? 'SUCCESS' : 'PENDING',
        DkimAttributes: {
          SigningEnabled: true,
          Status: identity.dkim,
          Tokens: ['token1', 'token2', 'token3'],
          SigningAttributesOrigin: 'AWS_SES',
        },
      }),
    );
  });
  return { url, requests, stop: stopper(server) };
}

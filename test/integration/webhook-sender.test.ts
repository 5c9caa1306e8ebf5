import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpWebhookSender, refusedAddresses } from '../../functions/adapters/webhook-sender';
import { ANSWER_START_CHARS } from '../../functions/core/webhooks/dispatch';

describe('Adapter: HttpWebhookSender against a server on 127.0.0.1', () => {
  let server: Server;
  let base: string;
  const requests: string[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      requests.push(request.url ?? '');
      if (request.url === '/stall') return;
      if (request.url === '/large') {
        response.writeHead(500);
        response.end('e'.repeat(1_000_000));
        return;
      }
      response.writeHead(503, { 'retry-after': '7' });
      response.end('busy');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('returns the status, Retry-After and the start of the answer', async () => {
    const answer = await new HttpWebhookSender({ guardAddresses: false }).post(
      `${base}/busy`,
      {},
      '{}',
      5_000,
    );
    expect(answer).toEqual({ kind: 'answered', status: 503, retryAfter: '7', bodyStart: 'busy' });
  });

  it('keeps only the start of a large answer', async () => {
    const answer = await new HttpWebhookSender({ guardAddresses: false }).post(
      `${base}/large`,
      {},
      '{}',
      5_000,
    );
    expect(answer.kind === 'answered' && answer.bodyStart.length).toBe(ANSWER_START_CHARS);
  });

  it('ends an attempt the endpoint never answers at the timeout, as retryable', async () => {
    const started = Date.now();
    const answer = await new HttpWebhookSender({ guardAddresses: false }).post(
      `${base}/stall`,
      {},
      '{}',
      300,
    );
    expect(answer).toEqual({ kind: 'unreachable', reason: 'no answer within 0.3 s', retryable: true });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('with the AWS guard, refuses loopback by literal and by name, at send time, without connecting', async () => {
    const guarded = new HttpWebhookSender({ guardAddresses: true });
    const before = requests.length;
    const https = base.replace('http:', 'https:');
    expect(await guarded.post(`${https}/a`, {}, '{}', 2_000)).toMatchObject({
      kind: 'unreachable',
      retryable: false,
      reason: expect.stringContaining('127.0.0.1'),
    });
    const byName = await guarded.post(https.replace('127.0.0.1', 'localhost'), {}, '{}', 2_000);
    expect(byName).toMatchObject({
      kind: 'unreachable',
      retryable: false,
      reason: expect.stringContaining('refused to connect'),
    });
    expect(await guarded.post(`${base}/a`, {}, '{}', 2_000)).toMatchObject({
      retryable: false,
      reason: 'plain http is refused on AWS',
    });
    expect(requests.length).toBe(before);
  });

  it('blocks private, link-local, metadata and mapped addresses; lets public ones through', () => {
    const list = refusedAddresses();
    for (const address of [
      '10.1.2.3',
      '172.31.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
    ])
      expect(list.check(address, 'ipv4'), address).toBe(true);
    for (const address of ['::1', 'fe80::1', 'fd00:ec2::254', 'fc00::1', '::ffff:127.0.0.1'])
      expect(list.check(address, 'ipv6'), address).toBe(true);
    expect(list.check('93.184.215.14', 'ipv4')).toBe(false);
    expect(list.check('2606:2800:21f:cb07:6820:80da:af6b:8b2c', 'ipv6')).toBe(false);
  });
});

import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ANSWER_START_CHARS, type WebhookAnswer, type WebhookSender } from '../core/webhooks/dispatch';

/**
 * Addresses a deployed dispatcher never posts to (SSRF): a webhook URL is configuration, but what its name
 * resolves to can change at any time (DNS rebinding), so the check is on the address actually connected to,
 * in the socket's own lookup. Private (RFC 1918, RFC 4193), loopback, link-local (which holds the instance
 * metadata service, 169.254.169.254, and fd00:ec2::254), CGNAT, unspecified and multicast. BlockList checks an
 * IPv4-mapped IPv6 address (::ffff:127.0.0.1) against the IPv4 rules, so those need no rule of their own.
 * https://owasp.org/www-community/attacks/Server_Side_Request_Forgery
 */
export function refusedAddresses(): BlockList {
  const list = new BlockList();
  for (const [network, prefix] of [
    ['0.0.0.0', 8],
    ['10.0.0.0', 8],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['172.16.0.0', 12],
    ['192.0.0.0', 24],
    ['192.168.0.0', 16],
    ['198.18.0.0', 15],
    ['224.0.0.0', 4],
    ['240.0.0.0', 4],
  ] as const)
    list.addSubnet(network, prefix, 'ipv4');
  for (const [network, prefix] of [
    ['::', 128],
    ['::1', 128],
    ['64:ff9b::', 96],
    ['fc00::', 7],
    ['fe80::', 10],
    ['ff00::', 8],
    ['fd00:ec2::', 32],
  ] as const)
    list.addSubnet(network, prefix, 'ipv6');
  return list;
}

export class RefusedAddressError extends Error {
  constructor(readonly address: string) {
    super(`refused to connect to ${address}: a private, loopback, link-local or metadata address`);
    this.name = 'RefusedAddressError';
  }
}

export interface HttpWebhookSenderOptions {
  /** Refuse private, loopback, link-local and metadata addresses (on AWS). Locally loopback is allowed. */
  readonly guardAddresses: boolean;
}

/** Posts webhooks with node:http(s): no redirects followed, a hard timeout, only the start of the answer read. */
export class HttpWebhookSender implements WebhookSender {
  private readonly blocked = refusedAddresses();

  constructor(private readonly options: HttpWebhookSenderOptions) {}

  post(
    url: string,
    headers: Readonly<Record<string, string>>,
    body: string,
    timeoutMs: number,
  ): Promise<WebhookAnswer> {
    const target = new URL(url);
    if (this.options.guardAddresses && target.protocol !== 'https:')
      return Promise.resolve({
        kind: 'unreachable',
        reason: 'plain http is refused on AWS',
        retryable: false,
      });
    const literal = target.hostname.replace(/^\[|\]$/g, '');
    if (this.options.guardAddresses && isIP(literal) !== 0 && this.isBlocked(literal))
      return Promise.resolve({
        kind: 'unreachable',
        reason: new RefusedAddressError(literal).message,
        retryable: false,
      });
    const lookup: LookupFunction | undefined = this.options.guardAddresses ? this.guardedLookup() : undefined;
    const client = target.protocol === 'https:' ? https : http;
    return new Promise<WebhookAnswer>((resolve) => {
      let settled = false;
      const finish = (answer: WebhookAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(answer);
      };
      const request = client.request(
        target,
        {
          method: 'POST',
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          ...(lookup ? { lookup } : {}),
          // One connection per attempt: a pooled socket could outlive the address check.
          agent: false,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let length = 0;
          const done = () => {
            response.destroy();
            finish({
              kind: 'answered',
              status: response.statusCode ?? 0,
              retryAfter: headerValue(response.headers['retry-after']),
              bodyStart: Buffer.concat(chunks).toString('utf8').slice(0, ANSWER_START_CHARS),
            });
          };
          response.on('data', (chunk: Buffer) => {
            chunks.push(chunk);
            length += chunk.length;
            // Only the start is kept: a receiver cannot make the dispatcher read a large answer.
            if (length >= ANSWER_START_CHARS * 4) done();
          });
          response.on('end', done);
          response.on('error', done);
        },
      );
      const timer = setTimeout(() => {
        request.destroy();
        finish({ kind: 'unreachable', reason: `no answer within ${timeoutMs / 1000} s`, retryable: true });
      }, timeoutMs);
      request.on('error', (error) => {
        const refused =
          error instanceof RefusedAddressError ||
          (error as { cause?: unknown }).cause instanceof RefusedAddressError;
        finish({
          kind: 'unreachable',
          reason: refused
            ? error.message
            : `could not connect: ${(error as NodeJS.ErrnoException).code ?? error.name}`,
          retryable: !refused,
        });
      });
      request.end(body);
    });
  }

  private isBlocked(address: string): boolean {
    return this.blocked.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }

  /** dns.lookup, then a refusal when any address it gives is one the dispatcher must not reach. */
  private guardedLookup(): LookupFunction {
    return (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
        if (error) return callback(error, '', 0);
        const bad = addresses.find((entry) => this.isBlocked(entry.address));
        if (bad) return callback(new RefusedAddressError(bad.address) as NodeJS.ErrnoException, '', 0);
        if ((options as { all?: boolean }).all)
          return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
        const first = addresses[0];
        if (!first)
          return callback(
            Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }),
            '',
            0,
          );
        callback(null, first.address, first.family);
      });
    };
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

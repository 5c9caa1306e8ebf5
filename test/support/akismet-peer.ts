import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A comment-check endpoint on loopback that answers as Akismet does
 * (https://akismet.com/developers/detailed-docs/comment-check/): `true` or `false` as text/plain; `invalid`
 * with X-akismet-debug-help for a wrong key; `Missing required field: user_ip.` for a missing one; `true`
 * with `X-akismet-pro-tip: discard` for blatant spam. As on the real service, the author
 * `akismet-guaranteed-spam` is always spam. The comment's text names other outcomes for the tests:
 * `[discard]`, `[slow]` (answers after 2 s), `[error]` (500).
 */
export class AkismetPeer {
  readonly calls: Array<Record<string, string>> = [];
  private server: Server | undefined;
  url = '';

  constructor(private readonly expectedKey: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        const params = Object.fromEntries(new URLSearchParams(body));
        this.calls.push(params);
        const answer = (text: string, headers: Record<string, string> = {}, status = 200) => {
          res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
          res.end(text);
        };
        const content = params.comment_content ?? '';
        if (req.url !== '/1.1/comment-check' || req.method !== 'POST') return answer('Not found', {}, 404);
        if (content.includes('[slow]')) {
          setTimeout(() => answer('false'), 2_000);
          return;
        }
        if (content.includes('[error]')) return answer('Internal error', {}, 500);
        if (params.api_key !== this.expectedKey) {
          return answer('invalid', { 'X-akismet-debug-help': 'We were unable to verify your API key.' });
        }
        for (const required of ['blog', 'user_ip']) {
          if (!params[required]) {
            return answer(`Missing required field: ${required}.`, {
              'X-akismet-debug-help': `Missing required field: ${required}.`,
            });
          }
        }
        if (content.includes('[discard]')) return answer('true', { 'X-akismet-pro-tip': 'discard' });
        if (params.comment_author === 'akismet-guaranteed-spam') return answer('true');
        return answer('false');
      });
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/1.1/comment-check`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

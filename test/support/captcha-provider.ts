import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A siteverify endpoint on loopback that answers like Turnstile, hCaptcha and reCAPTCHA do. A token
 * names its own outcome (`good`, `invalid`, `wrong-host`, `wrong-action`, `low-score`, `slow`, `error`,
 * `garbage`); anything after a colon makes it unique. Like the real services, a token is good once: a
 * second use answers `timeout-or-duplicate`, unless it starts with `lenient`.
 */
export class CaptchaProvider {
  readonly calls: Array<{ secret: string; response: string; remoteip: string | undefined }> = [];
  private readonly used = new Set<string>();
  private server: Server | undefined;
  url = '';

  constructor(
    private readonly expectedSecret: string,
    private readonly hostname = '127.0.0.1',
  ) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => {
        body += chunk.toString();
      });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const call = {
          secret: form.get('secret') ?? '',
          response: form.get('response') ?? '',
          remoteip: form.get('remoteip') ?? undefined,
        };
        this.calls.push(call);
        const outcome = call.response.split(':')[0] ?? '';
        const answer = (status: number, value: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(typeof value === 'string' ? value : JSON.stringify(value));
        };
        if (outcome === 'slow') {
          setTimeout(() => answer(200, { success: true, hostname: this.hostname }), 2_000);
          return;
        }
        if (outcome === 'error') return answer(500, { error: 'internal' });
        if (outcome === 'garbage') return answer(200, '<html>not json</html>');
        if (call.secret !== this.expectedSecret) {
          return answer(200, { success: false, 'error-codes': ['invalid-input-secret'] });
        }
        if (this.used.has(call.response) && !outcome.startsWith('lenient')) {
          return answer(200, { success: false, 'error-codes': ['timeout-or-duplicate'] });
        }
        this.used.add(call.response);
        switch (outcome) {
          case 'good':
          case 'lenient':
            return answer(200, { success: true, hostname: this.hostname, action: 'contact', score: 0.9 });
          case 'wrong-host':
            return answer(200, { success: true, hostname: 'evil.example', action: 'contact', score: 0.9 });
          case 'wrong-action':
            return answer(200, { success: true, hostname: this.hostname, action: 'login', score: 0.9 });
          case 'low-score':
            return answer(200, { success: true, hostname: this.hostname, action: 'contact', score: 0.1 });
          default:
            return answer(200, { success: false, 'error-codes': ['invalid-input-response'] });
        }
      });
    });
    const server = this.server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/siteverify`;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

import { createServer } from 'node:net';

/**
 * A loopback port nothing listens on: the kernel picks a free one, and the listener is closed again before
 * the test uses it. A connection to it is refused at once, as when the local stack is not running.
 */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

import { connect } from 'node:net';

/**
 * A loopback port nothing listens on, as when the local stack is not running: a connection to it is refused
 * at once. Not a port the kernel hands out: test files run side by side, and an ephemeral port freed here can
 * be bound by another file's server a moment later (a test then waits on a server that never answers as the
 * one it expects). Every server of the suite listens on port 0, so takes its port from the ephemeral range
 * (32768 and up on Linux, /proc/sys/net/ipv4/ip_local_port_range); this one comes from below it, and is
 * checked to refuse a connection before it is handed out.
 */
export async function unusedPort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 10_000);
    if (await refused(port)) return port;
  }
  throw new Error('no refused loopback port found between 20000 and 29999');
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

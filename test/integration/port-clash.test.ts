import { createServer, type Server } from 'node:net';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../../local/api-server';
import { PortInUseError, startEmulators } from '../../local/emulators';
import { unusedPort } from '../support/unused-port';

/** `npm start` when a port is taken: the error names the POSTROOM_*_PORT variable to change. */
describe('Local stack: a port already in use', () => {
  let taken: Server;
  let port: number;

  beforeAll(async () => {
    taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    port = (taken.address() as { port: number }).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => taken.close(() => resolve()));
  });

  it.each([
    ['sqs', 'POSTROOM_SQS_PORT'],
    ['ses', 'POSTROOM_SES_PORT'],
    ['dynamodb', 'POSTROOM_DYNAMODB_PORT'],
  ] as const)("names %s's variable, %s, when its emulator cannot listen", async (emulator, variable) => {
    // Prepare: the other emulators get free ports
    const ports = {
      sqs: await unusedPort(),
      ses: await unusedPort(),
      dynamodb: await unusedPort(),
      [emulator]: port,
    };

    // Act
    const failure = startEmulators(ports);

    // Assess
    await expect(failure).rejects.toThrow(PortInUseError);
    await expect(failure).rejects.toThrow(
      `Port ${port} on 127.0.0.1 is already in use (another program, or Postroom already running). Set ${variable} to a free port`,
    );
  });

  it('names POSTROOM_API_PORT when the API cannot listen', async () => {
    const failure = startApiServer({
      host: '127.0.0.1',
      port,
      handler: async () => ({ statusCode: 200, body: '' }),
      context: () => ({}) as Context,
      maxBodyBytes: 1024,
      inboxUrl: 'http://127.0.0.1:1',
      demoFormId: () => 'contact',
    });

    await expect(failure).rejects.toThrow(
      `Set POSTROOM_API_PORT to a free port, e.g. POSTROOM_API_PORT=${port + 1} npm start`,
    );
  });
});

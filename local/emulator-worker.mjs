// One emulator in its own worker thread, so the emulators' work runs beside the handlers' instead of in
// turn with them. Plain JavaScript: a worker starts without the TypeScript loader the parent may run under.
import { createServer } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import sesLocal from 'aws-ses-v2-local';
import dynalite from 'dynalite';
import { buildApp as buildFauxqs } from 'fauxqs';

const { emulator, host, port, dynamodbPath } = workerData;
const calls = {};

/** The operation of a JSON-protocol call (`X-Amz-Target: DynamoDB_20120810.PutItem`), else method and path. */
function operation(request) {
  const target = request.headers['x-amz-target'];
  if (typeof target === 'string') return target.slice(target.indexOf('.') + 1);
  const path = (request.url ?? '').split('?')[0] ?? '';
  return `${request.method} ${path.replace(/\/[^/]*[0-9][^/]*$/, '/{id}')}`;
}

function count(request) {
  const call = `${emulator} ${operation(request)}`;
  calls[call] = (calls[call] ?? 0) + 1;
}

/** The error listening on host:port gives now (EADDRINUSE, EACCES...). */
function listenError(port, host) {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', resolve);
    probe.listen(port, host, () =>
      probe.close(() => resolve(new Error(`could not listen on ${host}:${port}`))),
    );
  });
}

function closeServer(server) {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

async function start() {
  if (emulator === 'sqs') {
    // fauxqs's own start helper binds every interface; its app, listened to here, stays on loopback.
    const app = buildFauxqs({ logger: false });
    await app.listen({ port, host });
    app.server.on('request', count);
    return { server: app.server, stop: () => app.close() };
  }
  if (emulator === 'ses') {
    const startSes = typeof sesLocal === 'function' ? sesLocal : sesLocal.default;
    const server = await startSes({ host, port });
    // Express 5 hands a listen error to the callback the emulator resolves with, so a taken port shows only
    // as a server that is not listening; binding the port once more tells why.
    if (!server.listening) throw await listenError(port, host);
    server.on('request', count);
    return { server, stop: () => closeServer(server) };
  }
  // With a path, dynalite keeps its tables in LevelDB there (classic-level's prebuilt binary, no build step);
  // without one, in memory.
  const server = dynalite({
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
    ...(dynamodbPath ? { path: dynamodbPath } : {}),
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  server.on('request', count);
  return { server, stop: () => closeServer(server) };
}

start().then(
  (running) => {
    parentPort.on('message', (message) => {
      if (message === 'calls') parentPort.postMessage({ calls: { ...calls } });
      if (message === 'stop') running.stop().finally(() => parentPort.postMessage({ stopped: true }));
    });
    parentPort.postMessage({ port: running.server.address().port });
  },
  (error) =>
    parentPort.postMessage({
      error: error instanceof Error ? error.message : String(error),
      // EADDRINUSE tells the parent which port variable to change.
      code: typeof error?.code === 'string' ? error.code : undefined,
    }),
);

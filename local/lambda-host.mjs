// A local stand-in for one Lambda execution environment: it imports a synthesized bundle's handler and runs
// the invocations its parent sends over IPC, one at a time, as the Lambda runtime does with the events it
// takes from the Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html). Plain
// JavaScript, so the Lambda runtime's Node (22) runs it as is, without tsx. Started by local/lambda-bundles.ts.
//
// Parent → host: { type: 'invoke', id, event, context }   (context without functions: `deadline` in ms)
// Host → parent: { type: 'ready', nodeVersion } once the handler is imported (Lambda's init phase), or
//                { type: 'init-error', error } and the host exits, as Lambda reports Runtime.ImportModuleError;
//                { type: 'result', id, result } or { type: 'error', id, error }, error as the Runtime API's
//                { errorType, errorMessage, stackTrace }.
import dns from 'node:dns';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const HOST_VARIABLES = ['POSTROOM_LAMBDA_HOST_TASK_ROOT', 'POSTROOM_LAMBDA_HOST_HANDLER'];
const taskRoot = process.env.POSTROOM_LAMBDA_HOST_TASK_ROOT;
const handlerName = process.env.POSTROOM_LAMBDA_HOST_HANDLER ?? 'index.handler';
// The bundle sees the function's environment only, not the host's settings.
for (const name of HOST_VARIABLES) delete process.env[name];

// fauxqs names its queues on sqs.<region>.localhost and the SQS client sends to the queue URL's host, which
// not every resolver answers (RFC 6761 reserves .localhost for loopback). The host, not the bundle, answers it.
const lookup = dns.lookup;
dns.lookup = (host, ...rest) => lookup(host.endsWith('.localhost') ? '127.0.0.1' : host, ...rest);

function send(message) {
  if (process.connected) process.send(message);
}

function asRuntimeError(error) {
  if (error instanceof Error) {
    return {
      errorType: error.name,
      errorMessage: error.message,
      stackTrace: (error.stack ?? '').split('\n').slice(1),
      ...(typeof error.code === 'string' ? { code: error.code } : {}),
    };
  }
  return { errorType: 'Error', errorMessage: String(error), stackTrace: [] };
}

function lambdaContext(context) {
  return {
    ...context,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, context.deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

// A crash outside an invocation's promise ends the environment, as it does on Lambda
// (Runtime.ExitError); the parent fails what was running and starts a new one.
process.on('uncaughtException', (error) => {
  send({ type: 'crash', error: asRuntimeError(error) });
  process.exit(129);
});
process.on('unhandledRejection', (error) => {
  send({ type: 'crash', error: asRuntimeError(error) });
  process.exit(128);
});

let handler;
try {
  if (!taskRoot) throw new Error('POSTROOM_LAMBDA_HOST_TASK_ROOT must name the function code folder');
  const dot = handlerName.lastIndexOf('.');
  const moduleFile = path.join(taskRoot, `${handlerName.slice(0, dot)}.mjs`);
  const exported = (await import(pathToFileURL(moduleFile).href))[handlerName.slice(dot + 1)];
  if (typeof exported !== 'function') {
    throw Object.assign(new Error(`${handlerName} is not a function exported by ${moduleFile}`), {
      name: 'Runtime.HandlerNotFound',
    });
  }
  handler = exported;
} catch (error) {
  send({ type: 'init-error', error: asRuntimeError(error) });
  // Let the message leave before the channel closes.
  process.disconnect?.();
  process.exitCode = 1;
}

if (handler) {
  process.on('message', async (message) => {
    if (message?.type !== 'invoke') return;
    try {
      const result = await handler(message.event, lambdaContext(message.context));
      send({ type: 'result', id: message.id, result: result ?? null });
    } catch (error) {
      send({ type: 'error', id: message.id, error: asRuntimeError(error) });
    }
  });
  // The parent going away ends the environment.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready', nodeVersion: process.version });
}

import { exceptionName, failureKind, type XrayEmitter, xray } from './xray-tracer';

/** The part of an AWS SDK v3 client the tracing middleware needs. */
interface SdkClient {
  readonly config: { region?: unknown };
  readonly middlewareStack: {
    add(
      middleware: (
        next: (args: { input: object }) => Promise<{ output: unknown }>,
        context: { clientName?: string; commandName?: string },
      ) => (args: { input: object }) => Promise<{ output: unknown }>,
      options: { step: 'initialize'; name: string; override: boolean },
    ): void;
  };
}

interface ResponseMetadata {
  readonly $metadata?: { httpStatusCode?: number; requestId?: string; attempts?: number };
}

/**
 * Adds an X-Ray subsegment per SDK call to `client`. In the initialize step the middleware wraps the whole
 * call, retries included, and sees the command's name and the response metadata (status, request id,
 * attempts) on the output or on the error. It passes both through untouched.
 * https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/middleware-stack.html
 */
export function traceAwsCalls<C extends SdkClient>(client: C, emitter: XrayEmitter = xray): C {
  let region: string | undefined;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const trace = emitter.context();
      if (trace === undefined) return next(args);
      region ??= await resolveRegion(client.config.region);
      const startMs = Date.now();
      const call = (metadata: ResponseMetadata['$metadata']) => ({
        name: (context.clientName ?? 'AWS').replace(/Client$/, ''),
        namespace: 'aws' as const,
        startMs,
        endMs: Date.now(),
        httpStatus: metadata?.httpStatusCode,
        aws: {
          operation: (context.commandName ?? 'Unknown').replace(/Command$/, ''),
          region,
          request_id: metadata?.requestId,
          retries: metadata?.attempts === undefined ? undefined : Math.max(0, metadata.attempts - 1),
          ...resourceNames(args.input),
        },
      });
      try {
        const result = await next(args);
        emitter.record(trace, call((result.output as ResponseMetadata | undefined)?.$metadata));
        return result;
      } catch (error) {
        const metadata = (error as ResponseMetadata | null)?.$metadata;
        emitter.record(trace, {
          ...call(metadata),
          failure: { kind: failureKind(metadata?.httpStatusCode), exceptionName: exceptionName(error) },
        });
        throw error;
      }
    },
    { step: 'initialize', name: 'postroomXrayTracing', override: true },
  );
  return client;
}

// The resource a call touched, as the X-Ray SDK records it: names, never item keys or message bodies.
function resourceNames(input: object): { table_name?: string; queue_url?: string } {
  const { TableName, QueueUrl } = input as { TableName?: unknown; QueueUrl?: unknown };
  return {
    ...(typeof TableName === 'string' ? { table_name: TableName } : {}),
    ...(typeof QueueUrl === 'string' ? { queue_url: QueueUrl } : {}),
  };
}

async function resolveRegion(region: unknown): Promise<string | undefined> {
  try {
    const value = typeof region === 'function' ? await region() : region;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import type { OutboundMail, Transport } from '../core/ports';

/**
 * A small AWS X-Ray emitter: one subsegment document per call to SQS, DynamoDB, S3, SES or an SMTP relay,
 * sent over UDP to the X-Ray daemon that Lambda runs beside a function with active tracing. The subsegments
 * hang under the function's segment, which Lambda itself records, so a trace shows where an invocation's
 * time went and which call failed.
 *
 * Not Powertools Tracer: with aws-xray-sdk-core it adds about 127 KB minified to a bundle, most of it for
 * features (automatic HTTP capture, sampling rules, plugins) a function whose segment Lambda owns never uses.
 *
 * Segment document: https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html
 * Sending to the daemon: https://docs.aws.amazon.com/xray/latest/devguide/xray-api-sendingdata.html
 */

/** What Lambda puts in `_X_AMZN_TRACE_ID` for the current invocation. */
export interface TraceContext {
  readonly traceId: string;
  /** The id of the function's segment: the parent of every subsegment this invocation sends. */
  readonly parentId: string;
}

/** One finished call, as a subsegment records it. Never a message body, an address or an error message. */
export interface CallRecord {
  readonly name: string;
  /** `aws` for an AWS SDK call, `remote` for any other downstream service. */
  readonly namespace: 'aws' | 'remote';
  /** Epoch milliseconds. */
  readonly startMs: number;
  readonly endMs: number;
  readonly aws?: {
    readonly operation: string;
    readonly region?: string | undefined;
    readonly request_id?: string | undefined;
    readonly retries?: number | undefined;
    readonly table_name?: string | undefined;
    readonly queue_url?: string | undefined;
  };
  readonly httpStatus?: number | undefined;
  /** Whose side a failure was on, when the call failed. */
  readonly failure?: { readonly kind: 'error' | 'fault' | 'throttle'; readonly exceptionName: string };
}

// The daemon's protocol: a JSON header line, then the document, in one datagram.
const HEADER = '{"format": "json", "version": 1}\n';
const DEFAULT_DAEMON = { host: '127.0.0.1', port: 2000 };

/** Reads the trace header; undefined unless it names a trace and a parent and is sampled. */
export function sampledContext(header: string | undefined): TraceContext | undefined {
  if (header === undefined || header === '') return undefined;
  const fields = new Map<string, string>();
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim());
  }
  const traceId = fields.get('Root');
  const parentId = fields.get('Parent');
  if (fields.get('Sampled') !== '1' || !traceId || !parentId) return undefined;
  return { traceId, parentId };
}

/**
 * `AWS_XRAY_DAEMON_ADDRESS`: `host:port`, or `tcp:host:port udp:host:port` when the two differ.
 * https://docs.aws.amazon.com/xray/latest/devguide/xray-sdk-nodejs-configuration.html#xray-sdk-nodejs-configuration-envvars
 */
export function daemonAddress(value: string | undefined): { host: string; port: number } {
  if (!value) return DEFAULT_DAEMON;
  const udp = value.split(/\s+/).find((part) => part.startsWith('udp:')) ?? value;
  const address = udp.replace(/^udp:/, '');
  const at = address.lastIndexOf(':');
  const port = Number(address.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) return DEFAULT_DAEMON;
  return { host: address.slice(0, at), port };
}

/** Builds the subsegment document for one call. */
export function subsegmentDocument(context: TraceContext, call: CallRecord): Record<string, unknown> {
  const document: Record<string, unknown> = {
    name: call.name,
    id: randomBytes(8).toString('hex'),
    trace_id: context.traceId,
    parent_id: context.parentId,
    type: 'subsegment',
    start_time: call.startMs / 1000,
    end_time: Math.max(call.endMs, call.startMs) / 1000,
    namespace: call.namespace,
  };
  if (call.aws) document.aws = call.aws;
  if (call.httpStatus !== undefined) document.http = { response: { status: call.httpStatus } };
  if (call.failure) {
    // Throttling is a client error too (429): the console shows both.
    if (call.failure.kind === 'fault') document.fault = true;
    else document.error = true;
    if (call.failure.kind === 'throttle') document.throttle = true;
    document.cause = {
      exceptions: [{ id: randomBytes(8).toString('hex'), type: call.failure.exceptionName, remote: true }],
    };
  }
  return document;
}

/**
 * The emitter. It reads the trace header from the environment on every call, because Lambda sets
 * `_X_AMZN_TRACE_ID` anew for each invocation. Without a sampled header (tests, the local stack, an
 * unsampled request) it does nothing. It never throws: tracing must not fail a send.
 */
export class XrayEmitter {
  private socket: Socket | undefined;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** The current invocation's trace, when it is sampled. */
  context(): TraceContext | undefined {
    return sampledContext(this.env._X_AMZN_TRACE_ID);
  }

  record(context: TraceContext, call: CallRecord): void {
    try {
      const { host, port } = daemonAddress(this.env.AWS_XRAY_DAEMON_ADDRESS);
      const datagram = Buffer.from(HEADER + JSON.stringify(subsegmentDocument(context, call)));
      this.udp().send(datagram, port, host, () => {
        // A lost datagram is a gap in a trace, nothing more: UDP to the daemon is fire-and-forget.
      });
    } catch {
      // Tracing never fails the call it describes.
    }
  }

  /** Closes the socket (tests; on Lambda the process simply freezes). */
  close(): void {
    this.socket?.close();
    this.socket = undefined;
  }

  private udp(): Socket {
    if (this.socket === undefined) {
      const socket = createSocket('udp4');
      socket.on('error', () => {});
      // The socket must not keep a local process (the CLI, a test) alive.
      socket.unref();
      this.socket = socket;
    }
    return this.socket;
  }
}

/** The process-wide emitter the clients and transports share. */
export const xray = new XrayEmitter();

/** Classifies a failed call by its HTTP status as X-Ray does: 429 throttle, other 4xx error, the rest fault. */
export function failureKind(status: number | undefined): 'error' | 'fault' | 'throttle' {
  if (status === 429) return 'throttle';
  if (status !== undefined && status >= 400 && status < 500) return 'error';
  return 'fault';
}

/** Records each send of an SMTP relay as a `remote` subsegment. */
export function tracedTransport(inner: Transport, name: string, emitter: XrayEmitter = xray): Transport {
  return {
    send: async (mail: OutboundMail) => {
      const context = emitter.context();
      if (context === undefined) return inner.send(mail);
      const startMs = Date.now();
      try {
        const result = await inner.send(mail);
        emitter.record(context, { name, namespace: 'remote', startMs, endMs: Date.now() });
        return result;
      } catch (error) {
        emitter.record(context, {
          name,
          namespace: 'remote',
          startMs,
          endMs: Date.now(),
          failure: { kind: smtpFailureKind(error), exceptionName: smtpExceptionType(error) },
        });
        throw error;
      }
    },
    ...(inner.close ? { close: () => inner.close?.() ?? Promise.resolve() } : {}),
  };
}

/** An SMTP 5xx reply refuses the mail itself (the caller's side); a 4xx, a timeout or a dropped link is the relay's. */
function smtpFailureKind(error: unknown): 'error' | 'fault' {
  const code = (error as { responseCode?: unknown } | null)?.responseCode;
  return typeof code === 'number' && code >= 500 ? 'error' : 'fault';
}

/** Nodemailer's errors are all `Error`; their code (EMESSAGE, EAUTH, ETIMEDOUT...) says what failed. */
function smtpExceptionType(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z]{2,20}$/.test(code) ? code : exceptionName(error);
}

export function exceptionName(error: unknown): string {
  if (error instanceof Error) return error.name;
  const name = (error as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : typeof error;
}

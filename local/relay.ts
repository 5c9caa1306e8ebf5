import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { relayQueueOnFirstUse } from '../functions/adapters/relay-queue';
import type { RelayDeps } from '../functions/core/relay/relay';
import { pacerForRate } from '../functions/core/relay/send-pacer';
import { createRelayHandler } from '../functions/relay/app';
import type { LocalResources } from './emulators';
import { startEventSource } from './event-source';
import { localContext } from './lambda-context';

export interface LocalRelayOptions {
  /** The relay's ports; the queue and the pacer are the local stack's own. */
  readonly deps: Omit<RelayDeps, 'queue' | 'pacer' | 'random'>;
  readonly sqs: SQSClient;
  readonly resources: Pick<LocalResources, 'queueUrl' | 'deadLetterQueueUrl'>;
  /** Hides received messages this long instead of the queue's visibility timeout. */
  readonly visibilityTimeoutSeconds?: number | undefined;
  /**
   * Called when an invocation is still running at the function's timeout (relay.timeoutSeconds). Lambda then
   * ends the invocation and resets the environment, cutting whatever was in flight; a relay in a process of
   * its own does the same by ending its process here (local/relay-worker.ts). Absent, the invocation runs on.
   */
  readonly onTimeout?: (() => void) | undefined;
}

/**
 * The real relay handler fed by the local event source mapping, as Lambda's SQS trigger feeds it on AWS.
 * One relay serves the whole local stack, so it paces at the stack's full `relay.maxSendRate`.
 */
export async function startLocalRelay(options: LocalRelayOptions): Promise<{ stop(): Promise<void> }> {
  const { deps, sqs, resources } = options;
  const { config } = deps;
  const relay = createRelayHandler({
    ...deps,
    // Loaded on first use, as on Lambda (functions/relay/index.ts), so the tests run that path.
    queue: relayQueueOnFirstUse(() => sqs, resources),
    random: Math.random,
    pacer: pacerForRate(config.relay.maxSendRate, deps.clock),
  });
  const queueArn = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: resources.queueUrl, AttributeNames: ['QueueArn'] }),
  );
  return startEventSource({
    sqs,
    queueUrl: resources.queueUrl,
    queueArn: queueArn.Attributes?.QueueArn ?? '',
    region: config.region,
    batchSize: config.queue.batchSize,
    concurrency: config.queue.maxConcurrency,
    handler: (event, context) =>
      withTimeout(relay(event, context), config.relay.timeoutSeconds, options.onTimeout),
    context: () => localContext('postroom-relay', config.relay.timeoutSeconds),
    log: deps.log,
    visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
  });
}

/** Calls `onTimeout` if `invocation` has not settled after `seconds`. */
export async function withTimeout<T>(
  invocation: Promise<T>,
  seconds: number,
  onTimeout?: () => void,
): Promise<T> {
  if (onTimeout === undefined) return invocation;
  const timer = setTimeout(onTimeout, seconds * 1000);
  try {
    return await invocation;
  } finally {
    clearTimeout(timer);
  }
}

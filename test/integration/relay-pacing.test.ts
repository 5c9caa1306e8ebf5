import { SESv2Client } from '@aws-sdk/client-sesv2';
import { afterEach, describe, expect, it } from 'vitest';
import { SesTransport } from '../../functions/adapters/ses-transport';
import type { PostroomConfig } from '../../functions/core/config/config';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';
import { expectThrottlingRetried, formJobs } from '../support/scenarios';
import { startThrottledSesPeer, type ThrottledSesPeer } from '../support/throttled-ses-peer';

const RATE = 10;
const MAILS = 30;

/** Starts a stack whose relay sends to the rate-limited peer; the SDK does not retry, so a throttle reaches the relay. */
async function stackAgainst(peer: ThrottledSesPeer, config: PostroomConfig): Promise<TestStack> {
  const ses = new SESv2Client({
    region: config.region,
    endpoint: peer.url,
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  return startTestStack(config, { transport: new SesTransport(ses) });
}

describe('Relay: pacing against a provider limited to R mails per second', () => {
  let peer: ThrottledSesPeer | undefined;
  let stack: TestStack | undefined;

  afterEach(async () => {
    await stack?.stop();
    await peer?.close();
  });

  it('sends a backlog at relay.maxSendRate without a single throttle, each mail once', async () => {
    // Prepare
    peer = await startThrottledSesPeer({ ratePerSecond: RATE });
    const config = testConfig({ relay: { ...testConfig().relay, maxSendRate: RATE } });
    stack = await stackAgainst(peer, config);
    const backlog = formJobs(config, MAILS);

    // Act
    await Promise.all(backlog.map((job) => stack?.sendRaw(job.body)));
    await eventually(
      async () => (peer && peer.accepted.length >= MAILS ? true : undefined),
      15_000,
      'all mail',
    );

    // Assess
    expect(peer.throttled).toBe(0);
    expect([...peer.jobIds].sort()).toEqual(backlog.map((job) => job.id).sort());
    expect(stack.log.entries.filter((entry) => entry.attributes.outcome === 'retry')).toEqual([]);
    // Paced, not a burst: the 30th mail reached the peer more than two full windows after the 10th.
    const spanMs = (peer.accepted.at(-1) as number) - (peer.accepted[0] as number);
    expect(spanMs).toBeGreaterThan((MAILS / RATE - 1) * 1_000);
  });

  it('is throttled when not paced, and takes throttling as retryable', async () => {
    peer = await startThrottledSesPeer({ ratePerSecond: RATE });
    const config = testConfig();
    stack = await stackAgainst(peer, config);

    await expectThrottlingRetried(stack, peer, config, MAILS);
  });
});

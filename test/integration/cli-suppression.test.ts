import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIMULATOR } from '../../local/ses-events';
import { runCliCaptured } from '../support/cli';
import { eventually, startTestStack, type TestStack, testConfig } from '../support/local-stack';

const API_KEY = `pr_${randomUUID().replaceAll('-', '')}`;

describe('CLI: postroom suppression list|remove against a running local stack', () => {
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack(testConfig(), { apiKey: API_KEY });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function cli(...argv: string[]) {
    return runCliCaptured([...argv, '--endpoint', stack.endpoints.dynamodb]);
  }

  function send(to: string) {
    return fetch(`${stack.apiUrl}/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
      body: JSON.stringify({ from: 'orders@example.com', to, subject: 'Receipt', text: 'Thank you' }),
    });
  }

  it('lists a bounced address masked, lifts it so mail to it is accepted again, and says when there is nothing to lift', async () => {
    // Prepare: a hard bounce from the SES mailbox simulator puts the address on the list
    expect((await send(SIMULATOR.bounce)).status).toBe(202);
    const listed = await eventually(
      async () => {
        const result = await cli('suppression', 'list', '--json');
        const { suppressed } = JSON.parse(result.out) as {
          suppressed: Array<{ address: string; reason: string }>;
        };
        return suppressed.length > 0 ? suppressed : undefined;
      },
      10_000,
      'the bounce to suppress the address',
    );
    expect(listed).toEqual([
      expect.objectContaining({ address: 'b***@simulator.amazonses.com', reason: 'bounce' }),
    ]);
    expect((await cli('suppression', 'list')).out).toMatch(
      /^b\*\*\*@simulator\.amazonses\.com\s+bounce\s+\S+/m,
    );
    expect((await send(SIMULATOR.bounce)).status).toBe(422);

    // Act: the address is given as an operator would type it, in other case
    const removed = await cli('suppression', 'remove', 'Bounce@Simulator.AmazonSES.com');
    const again = await cli('suppression', 'remove', SIMULATOR.bounce);

    // Assess
    expect(removed).toMatchObject({
      code: 0,
      out: expect.stringContaining('Removed b***@simulator.amazonses.com'),
    });
    expect(again).toMatchObject({ code: 1, err: expect.stringContaining('is not on the suppression list') });
    expect((await cli('suppression', 'list')).out).toBe('No suppressed addresses.\n');
    expect((await send(SIMULATOR.bounce)).status).toBe(202);
  });

  it('refuses remove without an address, as a usage error', async () => {
    const result = await cli('suppression', 'remove');

    expect(result.code).toBe(2);
    expect(result.err).toContain('suppression remove needs one address.');
  });
});

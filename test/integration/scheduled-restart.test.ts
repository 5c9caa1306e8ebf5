import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { eventually, sleep, startTestStack, type TestStack, testConfig } from '../support/local-stack';

/** The local scheduler keeps its schedules in the local state folder: a restart does not lose them. */
describe('Scheduled send across a restart of the local stack', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'postroom-state-'));
  const apiKey = `pr_${randomUUID().replaceAll('-', '')}`;
  const stacks: TestStack[] = [];

  afterAll(async () => {
    for (const stack of stacks) await stack.stop().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('sends a mail scheduled before the stop at its time after the start, once', async () => {
    // Prepare
    const first = await startTestStack(testConfig(), { stateDir: dir, apiKey });
    stacks.push(first);
    const marker = randomUUID();
    const atMs = Math.ceil((Date.now() + 6_000) / 1000) * 1000;
    const scheduledAt = new Date(atMs).toISOString().replace('.000Z', 'Z');
    const response = await fetch(`${first.apiUrl}/v1/send`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({
        from: 'orders@example.com',
        to: 'customer@example.org',
        subject: 'Reminder',
        text: marker,
        scheduledAt,
      }),
    });
    expect(response.status).toBe(202);

    // Act: stop before the time, start again on the same state folder
    await first.stop();
    stacks.pop();
    // The first stack stopped before the time, so it cannot have sent the mail; the second may start after
    // the time on a loaded machine, and then the overdue schedule fires at its start, which is right too.
    expect(Date.now()).toBeLessThan(atMs);
    const second = await startTestStack(testConfig(), { stateDir: dir, apiKey });
    stacks.push(second);

    // Assess
    const copies = async () =>
      (await second.sesEmails()).filter((email) => email.body.text?.includes(marker));
    const email = await eventually(async () => (await copies())[0], 10_000, 'the scheduled mail');
    expect(email.at * 1000).toBeGreaterThanOrEqual(atMs);
    await sleep(1_000);
    expect(await copies()).toHaveLength(1);
  }, 60_000);
});

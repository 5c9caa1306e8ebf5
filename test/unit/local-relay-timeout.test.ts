import { describe, expect, it } from 'vitest';
import { withTimeout } from '../../local/relay';

const resolveAfter = <T>(ms: number, value: T) =>
  new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('Local relay: the function timeout, as Lambda enforces it', () => {
  it('calls onTimeout when an invocation is still running at the timeout', async () => {
    let timedOut = 0;
    const result = await withTimeout(resolveAfter(1_200, 'late'), 1, () => {
      timedOut += 1;
    });
    expect(result).toBe('late');
    expect(timedOut).toBe(1);
  });

  it('does not call it for an invocation that ends in time, nor after', async () => {
    let timedOut = 0;
    const result = await withTimeout(resolveAfter(10, 'done'), 1, () => {
      timedOut += 1;
    });
    await resolveAfter(1_100, undefined);
    expect(result).toBe('done');
    expect(timedOut).toBe(0);
  });
});

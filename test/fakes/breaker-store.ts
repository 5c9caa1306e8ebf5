import type { BreakerState, BreakerStore, WindowCounts } from '../../functions/core/failover/breaker';

/** The breakers' table in memory, with the DynamoDB adapter's conditions (functions/adapters/dynamodb-breakers.ts). */
export class MemoryBreakerStore implements BreakerStore {
  readonly states = new Map<string, BreakerState>();
  readonly windows = new Map<string, WindowCounts>();

  async read(provider: string): Promise<BreakerState> {
    return this.current(provider);
  }

  /** Read and write with no await between them, as one conditional write is atomic. */
  private current(provider: string): BreakerState {
    return this.states.get(provider) ?? { state: 'closed', generation: 0 };
  }

  async count(
    provider: string,
    window: { generation: number; start: number },
    failed: boolean,
  ): Promise<WindowCounts> {
    const key = `${provider}#${window.generation}#${window.start}`;
    const current = this.windows.get(key) ?? { requests: 0, failures: 0 };
    const next = { requests: current.requests + 1, failures: current.failures + (failed ? 1 : 0) };
    this.windows.set(key, next);
    return next;
  }

  async open(
    provider: string,
    from: { state: 'closed' | 'half-open'; generation: number },
    openedAt: number,
    openUntil: number,
  ): Promise<boolean> {
    const current = this.current(provider);
    if (current.state !== from.state || current.generation !== from.generation) return false;
    this.states.set(provider, { state: 'open', generation: current.generation, openedAt, openUntil });
    return true;
  }

  async takeProbe(provider: string, nowMs: number, probeUntil: number): Promise<boolean> {
    const current = this.current(provider);
    const free =
      (current.state === 'open' && current.openUntil <= nowMs) ||
      (current.state === 'half-open' && current.probeUntil <= nowMs);
    if (!free) return false;
    this.states.set(provider, { state: 'half-open', generation: current.generation, probeUntil });
    return true;
  }

  async close(provider: string, generation: number): Promise<boolean> {
    const current = this.current(provider);
    if (current.state !== 'half-open' || current.generation !== generation) return false;
    this.states.set(provider, { state: 'closed', generation: generation + 1 });
    return true;
  }
}

import { describe, expect, it } from 'vitest';
import { schedulerOnFirstUse } from '../../functions/adapters/scheduler-on-first-use';
import { ConfigError } from '../../functions/core/errors';

describe('Adapter: EventBridge Scheduler on first use', () => {
  it('reads its settings with the first schedule, not before, and again after a failed load', async () => {
    // Prepare: settings that fail as a missing SCHEDULE_GROUP does (functions/send/index.ts).
    let reads = 0;
    const scheduler = schedulerOnFirstUse(() => {
      reads += 1;
      throw new ConfigError([{ field: 'env.SCHEDULE_GROUP', message: 'is required' }]);
    });
    const readAtCreation = reads;

    // Act
    const created = scheduler.createSchedule('5d3c2b1a', Date.UTC(2030, 0, 1), '{}');
    await expect(created).rejects.toBeInstanceOf(ConfigError);
    const deleted = scheduler.deleteSchedule('5d3c2b1a', Date.UTC(2030, 0, 1));

    // Assess: a failed load is not kept, so the next call tries again.
    await expect(deleted).rejects.toBeInstanceOf(ConfigError);
    expect(readAtCreation).toBe(0);
    expect(reads).toBe(2);
  });
});

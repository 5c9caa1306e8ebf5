import type { Scheduler } from '../core/scheduling/schedule';
import type { EventBridgeSchedulerSettings } from './eventbridge-scheduler';

/**
 * EventBridge Scheduler on first use: the Scheduler SDK and its adapter load when a mail is first scheduled
 * more than 15 minutes ahead, or canceled, not at the send function's cold start. This module imports the
 * adapter's types only, so nothing of the Scheduler client is reached by a static import (a static import of
 * eventbridge-scheduler.ts, even for one function, puts the whole client in the cold-start chunk). `settings`
 * is read then too; a failed load is not kept, so the next scheduled send tries again.
 */
export function schedulerOnFirstUse(settings: () => EventBridgeSchedulerSettings): Scheduler {
  let loaded: Promise<Scheduler> | undefined;
  const scheduler = () => {
    loaded ??= import('./eventbridge-scheduler')
      .then(({ createEventBridgeScheduler }) => createEventBridgeScheduler(settings()))
      .catch((error: unknown) => {
        loaded = undefined;
        throw error;
      });
    return loaded;
  };
  return {
    createSchedule: async (id, atMs, body) => (await scheduler()).createSchedule(id, atMs, body),
    deleteSchedule: async (id, atMs) => (await scheduler()).deleteSchedule(id, atMs),
  };
}

import { describe, expect, it } from 'vitest';
import {
  CLOCK_SKEW_MS,
  deliveryPath,
  parseScheduledAt,
  scheduleIso,
  scheduleName,
} from '../../functions/core/scheduling/schedule';
import { scheduledJobGate } from '../../functions/core/scheduling/schedule-store';

const NOW = Date.UTC(2026, 4, 1, 9, 0, 0);

describe('Function: parseScheduledAt', () => {
  it('reads Z and numeric offsets to the same instant', () => {
    const z = parseScheduledAt('2026-05-01T10:30:00Z', NOW, 30);
    const plus = parseScheduledAt('2026-05-01T12:30:00+02:00', NOW, 30);
    const minus = parseScheduledAt('2026-05-01T05:00:00-05:30', NOW, 30);
    expect(z).toEqual({ ok: true, atMs: Date.UTC(2026, 4, 1, 10, 30, 0) });
    expect(plus).toEqual(z);
    expect(minus).toEqual(z);
  });

  it('accepts lowercase t and z (RFC 3339 section 5.6), and rounds a fraction of a second up', () => {
    const result = parseScheduledAt('2026-05-01t10:30:00.250z', NOW, 30);
    expect(result).toEqual({ ok: true, atMs: Date.UTC(2026, 4, 1, 10, 30, 1) });
    expect(parseScheduledAt('2026-05-01T10:30:00.000Z', NOW, 30)).toEqual({
      ok: true,
      atMs: Date.UTC(2026, 4, 1, 10, 30, 0),
    });
  });

  it.each([
    ['2026-05-01T10:30:00', 'offset'],
    ['2026-05-01 10:30:00Z', 'offset'],
    ['2026-05-01T10:30Z', 'offset'],
    ['1777631400', 'offset'],
    ['2026-02-30T10:00:00Z', 'valid date'],
    ['2026-05-01T24:00:00Z', 'valid date'],
    ['2026-05-01T10:30:00+24:00', 'valid date'],
  ])('refuses %s', (value, reason) => {
    const result = parseScheduledAt(value, NOW, 30);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.reason).toContain(reason);
  });

  it('refuses a time in the past beyond the clock skew, and takes one within it', () => {
    expect(parseScheduledAt(scheduleIso(NOW - CLOCK_SKEW_MS - 1_000), NOW, 30)).toEqual({
      ok: false,
      reason: 'is in the past',
    });
    expect(parseScheduledAt(scheduleIso(NOW - CLOCK_SKEW_MS + 1_000), NOW, 30).ok).toBe(true);
  });

  it('refuses a time beyond schedule.maxDays, naming the setting', () => {
    const limit = NOW + 30 * 86_400_000;
    expect(parseScheduledAt(scheduleIso(limit), NOW, 30).ok).toBe(true);
    const beyond = parseScheduledAt(scheduleIso(limit + 1_000), NOW, 30);
    expect(beyond.ok ? '' : beyond.reason).toContain('schedule.maxDays');
  });

  it('refuses a value that is not a string', () => {
    expect(parseScheduledAt(1777631400, NOW, 30).ok).toBe(false);
  });
});

describe('Function: deliveryPath', () => {
  it('sends at once a time that has come, delays up to 15 minutes on the queue, and schedules beyond', () => {
    expect(deliveryPath(NOW - 2_000, NOW)).toEqual({ kind: 'now' });
    expect(deliveryPath(NOW + 4_200, NOW)).toEqual({ kind: 'queue-delay', delaySeconds: 5 });
    expect(deliveryPath(NOW + 900_000, NOW)).toEqual({ kind: 'queue-delay', delaySeconds: 900 });
    expect(deliveryPath(NOW + 901_000, NOW)).toEqual({ kind: 'scheduler' });
  });

  it('gives every wait to the scheduler when the queue delay is off (the local stack)', () => {
    expect(deliveryPath(NOW + 2_000, NOW, 0)).toEqual({ kind: 'scheduler' });
  });
});

describe('Function: scheduledJobGate', () => {
  const at = '2026-05-01T10:30:00Z';

  it('sends a job that started, or whose record is gone', () => {
    expect(scheduledJobGate({ started: true }, at)).toBe('send');
    expect(scheduledJobGate({ started: false, record: undefined }, at)).toBe('send');
  });

  it('drops a canceled job and the job of an old time', () => {
    expect(scheduledJobGate({ started: false, record: { status: 'canceled', scheduledAt: at } }, at)).toBe(
      'canceled',
    );
    expect(
      scheduledJobGate(
        { started: false, record: { status: 'scheduled', scheduledAt: '2026-05-01T11:00:00Z' } },
        at,
      ),
    ).toBe('superseded');
  });

  it('sends a retry of a job an earlier attempt started (the claim keeps it once)', () => {
    expect(scheduledJobGate({ started: false, record: { status: 'queued', scheduledAt: at } }, at)).toBe(
      'send',
    );
  });
});

describe('Function: scheduleName', () => {
  it('fits EventBridge Scheduler names: 64 characters of [0-9a-zA-Z-_.]', () => {
    const name = scheduleName('5d3c2b1a-0f9e-4d8c-8b7a-6e5f4d3c2b1a', Date.UTC(2099, 0, 1));
    expect(name).toMatch(/^[0-9a-zA-Z\-_.]{1,64}$/);
  });
});

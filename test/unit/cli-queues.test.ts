import { describe, expect, it } from 'vitest';
import { row } from '../../cli/queue-commands';
import { describeDeadLetter, formatAge, groupByReason, matches, sqsEndpoint } from '../../cli/queues';

const attribute = (value: string) => ({ DataType: 'String', StringValue: value });

describe('CLI queue helpers', () => {
  it('describes a dead letter by its attributes and masked recipients, never its body', () => {
    const letter = describeDeadLetter({
      MessageId: 'm1',
      Body: JSON.stringify({
        id: 'job-1',
        source: { kind: 'api', keyId: 'key_abc' },
        to: ['alice@example.org'],
        bcc: ['bob@example.net'],
        text: 'the secret body',
      }),
      MessageAttributes: {
        'postroom-failure-reason': attribute('smtp 550: no'),
        'postroom-failed-at': attribute('2026-11-28T16:00:00.000Z'),
      },
    });
    expect(letter).toEqual({
      messageId: 'm1',
      jobId: 'job-1',
      source: 'api:key_abc',
      recipients: ['a***@example.org', 'b***@example.net'],
      reason: 'smtp 550: no',
      failedAt: '2026-11-28T16:00:00.000Z',
    });
    const cells = row(letter, Date.parse('2026-11-28T16:03:05.000Z'));
    expect(cells).toEqual([
      'job-1',
      '3m 5s',
      'api:key_abc',
      'a***@example.org,b***@example.net',
      'smtp 550: no',
    ]);
    expect(cells.join(' ')).not.toContain('secret');
  });

  it('copes with a body that is not a job, and with no reason', () => {
    const letter = describeDeadLetter({
      MessageId: 'm2',
      Body: 'not json',
      Attributes: { SentTimestamp: '0' },
    });
    expect(letter).toMatchObject({ jobId: undefined, source: undefined, recipients: [], reason: undefined });
    expect(row(letter, 1000)).toEqual(['(message m2)', '1s', '-', '-', '(no reason recorded)']);
  });

  it("reads the reason of a job EventBridge Scheduler could not deliver from the scheduler's attributes", () => {
    // Act
    const letter = describeDeadLetter({
      MessageId: 'm-9',
      Body: JSON.stringify({ id: 'job-9', source: { kind: 'api', keyId: 'k1' }, to: ['ada@example.org'] }),
      MessageAttributes: {
        ERROR_CODE: { DataType: 'String', StringValue: 'AWS.SQS.NonExistentQueue' },
        ERROR_MESSAGE: { DataType: 'String', StringValue: 'The specified queue does not exist.' },
        RETRY_ATTEMPTS: { DataType: 'String', StringValue: '185' },
      },
    });

    // Assess
    expect(letter.jobId).toBe('job-9');
    expect(letter.reason).toBe(
      'scheduler could not put the job on the mail queue: AWS.SQS.NonExistentQueue (The specified queue does not exist.)',
    );
  });

  it('groups failures by reason, most frequent first', () => {
    const base = { messageId: '', jobId: undefined, source: undefined, recipients: [], failedAt: undefined };
    expect(
      groupByReason([
        { ...base, reason: 'b' },
        { ...base, reason: 'a' },
        { ...base, reason: 'a' },
        { ...base, reason: undefined },
      ]),
    ).toEqual([
      { reason: 'a', count: 2 },
      { reason: '(no reason recorded)', count: 1 },
      { reason: 'b', count: 1 },
    ]);
  });

  it('matches redrive selectors', () => {
    const letter = {
      messageId: 'm',
      jobId: 'j1',
      source: undefined,
      recipients: [],
      reason: 'SMTP 550: mailbox unavailable',
      failedAt: undefined,
    };
    expect(matches(letter, { ids: [], reason: undefined, all: true })).toBe(true);
    expect(matches(letter, { ids: ['j1'], reason: undefined, all: false })).toBe(true);
    expect(matches(letter, { ids: ['j2'], reason: undefined, all: false })).toBe(false);
    expect(matches(letter, { ids: [], reason: 'smtp 550', all: false })).toBe(true);
    expect(matches(letter, { ids: [], reason: 'throttl', all: false })).toBe(false);
    expect(matches(letter, { ids: [], reason: '', all: false })).toBe(false);
  });

  it('formats ages and finds the local endpoint', () => {
    expect([59_000, 61_000, 3_661_000, 90_000_000].map(formatAge)).toEqual([
      '59s',
      '1m 1s',
      '1h 1m',
      '1d 1h',
    ]);
    expect(sqsEndpoint(undefined, {})).toBe('http://127.0.0.1:9324');
    expect(sqsEndpoint(undefined, { POSTROOM_SQS_PORT: '9999' })).toBe('http://127.0.0.1:9999');
  });
});

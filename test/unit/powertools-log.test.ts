import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../functions/adapters/powertools-log';
import { RELAY_CONTEXT } from '../fakes/lambda-context';

/** The lines the logger writes; the suite silences Powertools (vitest.config.ts), so this turns it back on. */
function captureLines(): () => Array<Record<string, unknown>> {
  vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
  const chunks: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  });
  return () =>
    chunks
      .join('')
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('Adapter: createLogger (compact lines)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllEnvs();
  });

  it('keeps the request id and cold start, not what the log group already says about the function', () => {
    // Prepare
    vi.stubEnv('_X_AMZN_TRACE_ID', 'Root=1-5e34a614-10bd2b6f1fb44f07bc535a1;Parent=3d7525a147e7e4;Sampled=0');
    const lines = captureLines();
    const { logger, log } = createLogger('postroom-relay');
    logger.addContext(RELAY_CONTEXT);

    // Act
    log.info('job sent', { jobId: 'j-1', outcome: 'sent' });

    // Assess
    expect(lines()).toEqual([
      {
        level: 'INFO',
        message: 'job sent',
        timestamp: expect.any(String),
        service: 'postroom-relay',
        cold_start: expect.any(Boolean),
        function_request_id: RELAY_CONTEXT.awsRequestId,
        jobId: 'j-1',
        outcome: 'sent',
      },
    ]);
  });

  it('names the trace when the invocation is sampled', () => {
    // Prepare
    vi.stubEnv('_X_AMZN_TRACE_ID', 'Root=1-5e34a614-10bd2b6f1fb44f07bc535a1;Parent=3d7525a147e7e4;Sampled=1');
    const lines = captureLines();
    const { log } = createLogger('postroom-send');

    // Act
    log.info('submission accepted');

    // Assess
    expect(lines()[0]?.xray_trace_id).toBe('1-5e34a614-10bd2b6f1fb44f07bc535a1');
  });
});

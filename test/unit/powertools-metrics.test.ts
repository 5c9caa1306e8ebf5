import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMetrics } from '../../functions/adapters/powertools-metrics';
import { METRIC, METRIC_NAMESPACE, SERVICE } from '../../functions/core/metrics';

interface EmfDocument {
  _aws: {
    CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }>;
  };
  [key: string]: unknown;
}

/** The EMF documents Powertools writes to stdout (the function's log, which CloudWatch extracts them from). */
function captureEmf(): { documents: () => EmfDocument[] } {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  return {
    documents: () =>
      lines
        .flatMap((chunk) => chunk.split('\n'))
        .filter((line) => line.includes('"_aws"'))
        .map((line) => JSON.parse(line) as EmfDocument),
  };
}

/** Everything written to stdout and stderr, warnings included. */
function captureOutput(): () => string {
  const chunks: string[] = [];
  const keep = (chunk: string | Uint8Array) => {
    chunks.push(String(chunk));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(keep);
  vi.spyOn(process.stderr, 'write').mockImplementation(keep);
  return () => chunks.join('');
}

function sum(value: unknown): number {
  return ([] as unknown[]).concat(value).reduce((total: number, point) => total + Number(point), 0);
}

describe('Adapter: createMetrics (embedded metric format)', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('writes a dimensioned count in its own document, and its total with the rest under the service alone', () => {
    // Prepare
    const emf = captureEmf();
    const { metrics, port } = createMetrics(SERVICE.send, 'full');

    // Act
    port.count(METRIC.rejected, 1, { reason: 'captcha' });
    port.count(METRIC.rejected, 1, { reason: 'validation' });
    port.count(METRIC.accepted);
    metrics.publishStoredMetrics();

    // Assess
    const documents = emf.documents();
    const byReason = documents.filter((doc) => doc.reason !== undefined);
    expect(byReason.map((doc) => [doc.reason, doc[METRIC.rejected], doc.service])).toEqual([
      ['captcha', 1, SERVICE.send],
      ['validation', 1, SERVICE.send],
    ]);
    for (const doc of byReason) {
      expect(doc._aws.CloudWatchMetrics[0]).toMatchObject({
        Namespace: METRIC_NAMESPACE,
        Dimensions: [['service', 'reason']],
        Metrics: [{ Name: METRIC.rejected }],
      });
    }
    const totals = documents.filter((doc) => doc.reason === undefined);
    expect(totals).toHaveLength(1);
    expect(totals[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service']]);
    // Repeated values are kept as a list of data points, which CloudWatch's Sum adds up.
    expect(sum(totals[0]?.[METRIC.rejected])).toBe(2);
    expect(sum(totals[0]?.[METRIC.accepted])).toBe(1);
  });

  it('emits at the essential level only the metrics an alarm reads, without their breakdown', () => {
    // Prepare
    const emf = captureEmf();
    const { metrics, port } = createMetrics(SERVICE.relay, 'essential');

    // Act
    port.count(METRIC.sent);
    port.count(METRIC.failed, 1, { reason: 'retries-exhausted' });
    port.duration('SendLatency', 120);
    port.count(METRIC.relaySessionFailed, 1, { stage: 'auth' });
    metrics.publishStoredMetrics();

    // Assess
    const documents = emf.documents();
    expect(documents).toHaveLength(1);
    expect(documents[0]?._aws.CloudWatchMetrics[0]?.Metrics.map((metric) => metric.Name)).toEqual([
      METRIC.relaySessionFailed,
    ]);
    expect(documents[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([['service']]);
  });

  it('writes nothing at all for an invocation that counted nothing', () => {
    // Prepare
    const output = captureOutput();
    const { metrics, port } = createMetrics(SERVICE.send, 'essential');

    // Act
    port.count(METRIC.accepted);
    metrics.publishStoredMetrics();

    // Assess: no EMF document and no "No application metrics to publish" warning.
    expect(output()).toBe('');
  });
});

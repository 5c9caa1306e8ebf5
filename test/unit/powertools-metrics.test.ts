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
    const { metrics, port } = createMetrics(SERVICE.send);

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
});

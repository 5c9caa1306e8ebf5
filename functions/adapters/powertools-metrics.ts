import { MetricUnit, Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMESPACE, type Metrics } from '../core/metrics';

/** Counts and durations in CloudWatch embedded metric format: written to the log, no API call on the hot path. */
export function createMetrics(serviceName: string): { metrics: PowertoolsMetrics; port: Metrics } {
  const metrics = new PowertoolsMetrics({ namespace: METRIC_NAMESPACE, serviceName });
  return {
    metrics,
    port: {
      count: (name, value = 1) => metrics.addMetric(name, MetricUnit.Count, value),
      duration: (name, ms) => metrics.addMetric(name, MetricUnit.Milliseconds, Math.max(0, ms)),
    },
  };
}

import { MetricUnit, Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMESPACE, type Metrics } from '../core/metrics';

/**
 * Counts and durations in CloudWatch embedded metric format: written to the log, no API call on the hot path.
 * One EMF document has one set of dimensions for all its metrics, so a count with its own dimension goes in
 * a document of its own (`singleMetric()`, flushed at once) while its total joins the invocation's batch.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
export function createMetrics(serviceName: string): { metrics: PowertoolsMetrics; port: Metrics } {
  const metrics = new PowertoolsMetrics({ namespace: METRIC_NAMESPACE, serviceName });
  return {
    metrics,
    port: {
      count: (name, value = 1, dimension) => {
        metrics.addMetric(name, MetricUnit.Count, value);
        if (dimension === undefined) return;
        const single = metrics.singleMetric();
        for (const [key, dimensionValue] of Object.entries(dimension))
          single.addDimension(key, dimensionValue);
        single.addMetric(name, MetricUnit.Count, value);
      },
      duration: (name, ms) => metrics.addMetric(name, MetricUnit.Milliseconds, Math.max(0, ms)),
    },
  };
}

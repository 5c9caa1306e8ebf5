import { MetricUnit, Metrics as PowertoolsMetrics } from '@aws-lambda-powertools/metrics';
import { METRIC_NAMESPACE, type Metrics, metricsAtLevel } from '../core/metrics';
import type { MonitoringLevel } from '../core/monitoring';

/**
 * Powertools warns on every flush of an invocation that counted nothing, which at the `essential` level is
 * almost every invocation: a log line (and its ingestion cost) per request that says nothing. Other
 * warnings pass.
 */
const quietWhenEmpty = {
  debug: (...args: unknown[]) => console.debug(...args),
  info: (...args: unknown[]) => console.info(...args),
  warn: (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('No application metrics to publish')) return;
    console.warn(...args);
  },
  error: (...args: unknown[]) => console.error(...args),
};

/**
 * Counts and durations in CloudWatch embedded metric format: written to the log, no API call on the hot path.
 * One EMF document has one set of dimensions for all its metrics, so a count with its own dimension goes in
 * a document of its own (`singleMetric()`, flushed at once) while its total joins the invocation's batch.
 * https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
 */
export function createMetrics(
  serviceName: string,
  level: MonitoringLevel,
): { metrics: PowertoolsMetrics; port: Metrics } {
  const metrics = new PowertoolsMetrics({ namespace: METRIC_NAMESPACE, serviceName, logger: quietWhenEmpty });
  return {
    metrics,
    port: metricsAtLevel(
      {
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
      level,
    ),
  };
}

/**
 * How much Postroom watches, and so what it costs (docs/cost.md). One switch, `monitoring.level`, read by
 * the stack (which alarms and dashboard exist) and by the functions (which custom metrics they emit), so
 * the two cannot disagree.
 *
 * - `essential` (the default): the alarms that protect the mail and the SES account, and only the custom
 *   metrics one of them reads. Nothing is graphed; nothing is emitted in a month without failures.
 * - `full`: also the dashboard, the API 5xx alarm and every count, latency and breakdown.
 *
 * A feature with its own metrics or alarms hooks in with `atLevel`: `atLevel(level, 'full')` is true when
 * something meant for `full` should exist at `level`. Custom metrics an essential alarm reads are listed in
 * `ESSENTIAL_METRICS` (core/metrics.ts); every other metric is dropped at `essential` by the metrics port.
 */
export const MONITORING_LEVELS = ['essential', 'full'] as const;
export type MonitoringLevel = (typeof MONITORING_LEVELS)[number];

/** Whether something meant for `needed` exists at `level`: full has everything essential has. */
export function atLevel(level: MonitoringLevel, needed: MonitoringLevel): boolean {
  return MONITORING_LEVELS.indexOf(level) >= MONITORING_LEVELS.indexOf(needed);
}

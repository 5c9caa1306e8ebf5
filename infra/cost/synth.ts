import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parseConfig } from '../../functions/core/config/config';
import type { MonitoringLevel } from '../../functions/core/monitoring';
import { buildApp } from '../postroom-stack';
import { type StackFacts, stackFacts } from './model';

// Synthesis takes seconds: the docs tables and a test ask for the same configurations more than once.
const synthesized = new Map<string, StackFacts>();

/**
 * Synthesizes the stack for a configuration, without bundling the functions (the bill does not depend on
 * their code), and reads what the bill needs from the template. `level` replaces `monitoring.level`.
 */
export function factsOf(raw: unknown, level?: MonitoringLevel): StackFacts {
  const input = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const withLevel =
    level === undefined
      ? input
      : { ...input, monitoring: { ...((input.monitoring as object | undefined) ?? {}), level } };
  const key = JSON.stringify(withLevel);
  const known = synthesized.get(key);
  if (known !== undefined) return known;
  const config = parseConfig(withLevel);
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const { stack } = buildApp(withLevel, app);
  const facts = stackFacts(Template.fromStack(stack).toJSON(), config);
  synthesized.set(key, facts);
  return facts;
}

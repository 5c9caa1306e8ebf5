import { existsSync } from 'node:fs';
import { MONITORING_LEVELS, type MonitoringLevel } from '../functions/core/monitoring';
import { readPostroomContext } from '../local/config-file';
import type { CliIo } from './command';

/**
 * `postroom cost [--messages N] [--recipients R] [--config PATH] [--level essential|full]`: the monthly
 * bill of the stack a configuration synthesizes, line by line (infra/cost/model.ts). Nothing is deployed
 * or called: the template is synthesized here, without bundling.
 */
export async function runCost(
  values: {
    messages?: string | undefined;
    recipients?: string | undefined;
    config?: string | undefined;
    level?: string | undefined;
    json?: boolean | undefined;
  },
  io: CliIo,
  usage: string,
): Promise<number> {
  const messages = count(values.messages ?? '1000');
  const recipients = count(values.recipients ?? '1');
  if (messages === undefined || recipients === undefined || recipients < 1) {
    io.err(`--messages and --recipients take whole numbers (recipients at least 1).\n\n${usage}`);
    return 2;
  }
  if (values.level !== undefined && !MONITORING_LEVELS.includes(values.level as MonitoringLevel)) {
    io.err(`--level is one of ${MONITORING_LEVELS.join(', ')}.\n\n${usage}`);
    return 2;
  }
  const path = values.config ?? 'cdk.json';
  if (!existsSync(path)) {
    io.err(`No configuration at ${path}: give one with --config PATH.\n`);
    return 2;
  }
  let raw: unknown;
  try {
    raw = readPostroomContext(path);
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  // Loaded only here: synthesis needs aws-cdk-lib, which no other command does.
  const [{ factsOf }, model] = await Promise.all([
    import('../infra/cost/synth'),
    import('../infra/cost/model'),
  ]);
  let facts: ReturnType<typeof factsOf>;
  try {
    facts = factsOf(raw, values.level as MonitoringLevel | undefined);
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
  const measured = model.readMeasured();
  const prices = model.readPrices();
  const bill = model.monthlyBill(facts, measured, prices, { messages, recipients });
  if (values.json) io.out(`${JSON.stringify({ ...bill, facts })}\n`);
  else io.out(model.formatBill(bill, facts, measured, prices));
  return 0;
}

function count(text: string): number | undefined {
  const value = Number(text.replaceAll('_', '').replaceAll(',', ''));
  return Number.isInteger(value) && value >= 0 ? value : undefined;
}

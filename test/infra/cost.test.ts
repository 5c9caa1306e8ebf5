import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../cli/main';
import { parseConfig } from '../../functions/core/config/config';
import { monthlyBill, readMeasured, readPrices, stackFacts } from '../../infra/cost/model';
import { factsOf } from '../../infra/cost/synth';
import { renderCostTables, SHIPPED_FIXTURE, TABLES_END, TABLES_START } from '../../infra/cost/tables';
import { readPostroomContext } from '../../local/config-file';
import { SYNTH_TIMEOUT_MS } from './stack-fixture';

const shipped = () => readPostroomContext(SHIPPED_FIXTURE);
const measured = readMeasured();
const prices = readPrices();

describe('Cost model', { timeout: SYNTH_TIMEOUT_MS }, () => {
  it('matches the tables in docs/cost.md (regenerate them with npm run docs:cost)', () => {
    // Prepare
    const doc = readFileSync('docs/cost.md', 'utf8');
    const inDoc = doc.slice(doc.indexOf(TABLES_START), doc.indexOf(TABLES_END) + TABLES_END.length);

    // Assess
    expect(inDoc).toBe(renderCostTables());
  });

  it('prints with postroom cost the same bill as the docs table, line by line', async () => {
    // Prepare
    const out: string[] = [];
    const io = {
      out: (text: string) => void out.push(text),
      err: (text: string) => void out.push(text),
      env: {},
    };

    // Act
    const code = await runCli(
      ['cost', '--messages', '10000', '--config', SHIPPED_FIXTURE, '--level', 'full'],
      io,
    );

    // Assess: each line of the command's bill is the docs table's cell for 10,000 messages at full
    expect(code).toBe(0);
    const printed = out.join('');
    const doc = readFileSync('docs/cost.md', 'utf8');
    const fullTable = doc.slice(doc.indexOf('`monitoring.level: full`'), doc.indexOf(TABLES_END));
    const bill = monthlyBill(factsOf(shipped(), 'full'), measured, prices, {
      messages: 10_000,
      recipients: 1,
    });
    for (const line of bill.lines) {
      const cell = new RegExp(`\\| ${line.line.replace(/[()]/g, '\\$&')} \\| [^|]+ \\| ([^|]+) \\|`).exec(
        fullTable,
      )?.[1];
      expect(printed, line.line).toMatch(
        new RegExp(`${line.line.replace(/[()]/g, '\\$&')}\\s+\\${cell?.trim()}`),
      );
    }
    expect(printed).toMatch(/Total\s+\$\d+\.\d\d/);
  });

  it('meets the targets with the shipped configuration: ≤ USD 1 at 1,000 messages, ≤ 15 % over SES at 1,000,000', () => {
    // Prepare
    const facts = factsOf(shipped(), 'essential');

    // Act
    const small = monthlyBill(facts, measured, prices, { messages: 1_000, recipients: 1 });
    const large = monthlyBill(facts, measured, prices, { messages: 1_000_000, recipients: 1 });

    // Assess
    expect(small.total).toBeLessThanOrEqual(1);
    expect(large.total).toBeLessThanOrEqual(100 * 1.15);
  });

  it('keeps the alarms that protect the mail at the default level, and bills the dashboard only at full', () => {
    // Act
    const essential = factsOf(shipped(), 'essential');
    const full = factsOf(shipped(), 'full');

    // Assess
    expect(essential).toMatchObject({
      alarms: 5,
      alarmMetrics: 6,
      dashboards: 0,
      kmsKeys: 0,
      customMetrics: 0,
    });
    expect(full.dashboards).toBe(1);
    expect(full.customMetrics).toBeGreaterThan(20);
  });

  it('reads what it bills from the template: metric-math alarms per metric, keys, mappings, memory, tracing', () => {
    // Prepare: a hand-written template with one of each
    const template = {
      Resources: {
        Rate: {
          Type: 'AWS::CloudWatch::Alarm',
          Properties: { Metrics: [{ Expression: 'a/b' }, { MetricStat: {} }, { MetricStat: {} }] },
        },
        Plain: { Type: 'AWS::CloudWatch::Alarm', Properties: { MetricName: 'X' } },
        Key1: { Type: 'AWS::KMS::Key' },
        Key2: { Type: 'AWS::KMS::Key' },
        Mapping: { Type: 'AWS::Lambda::EventSourceMapping' },
        Relay: {
          Type: 'AWS::Lambda::Function',
          Properties: {
            Description: 'Postroom relay: sends',
            MemorySize: 1024,
            TracingConfig: { Mode: 'Active' },
          },
        },
        Stage: { Type: 'AWS::ApiGateway::Stage', Properties: { TracingEnabled: true } },
        Rule: { Type: 'AWS::XRay::SamplingRule', Properties: { SamplingRule: { FixedRate: 0.2 } } },
      },
    };

    // Act
    const facts = stackFacts(template, parseConfig(shipped()));
    const bill = monthlyBill(facts, measured, prices, { messages: 1_000, recipients: 2 });

    // Assess
    expect(facts).toMatchObject({
      alarms: 2,
      alarmMetrics: 3,
      kmsKeys: 2,
      eventSourceMappings: 1,
      traceSampleRate: 0.2,
    });
    expect(bill.lines.find((line) => line.line === 'KMS keys (topic encryption)')?.usd).toBe(2);
    expect(bill.lines.find((line) => line.line === 'CloudWatch alarms')?.usd).toBeCloseTo(0.3);
    expect(bill.lines.find((line) => line.line === 'SES outbound')?.usd).toBeCloseTo(0.2);
  });
});

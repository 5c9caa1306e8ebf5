import { describe, expect, it } from 'vitest';
import { fullConfig, SYNTH_TIMEOUT_MS, smtpConfig, synthesize } from './stack-fixture';

describe('Stack: outputs', () => {
  it.each([
    ['every optional feature on (SES, domain identity)', fullConfig],
    ['the SMTP transport', smtpConfig],
  ])(
    'gives every output a description, with %s',
    (_name, config) => {
      // Act
      const outputs = synthesize(config).template.toJSON().Outputs as Record<
        string,
        { Description?: string }
      >;

      // Assess: the names are what the CLI and the docs look for, the descriptions what a person reads
      const entries = Object.entries(outputs);
      expect(entries.length).toBeGreaterThan(5);
      const undescribed = entries.filter(([, output]) => !output.Description?.trim()).map(([key]) => key);
      expect(undescribed).toEqual([]);
    },
    SYNTH_TIMEOUT_MS,
  );
});

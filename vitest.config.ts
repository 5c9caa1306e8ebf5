import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * Files that start no server, spawn no process of ours and import no Lambda handler: unit tests and the CDK
 * template tests. They share their worker processes (`isolate: false`), so the AWS SDK, aws-cdk-lib and the
 * project's modules load once per worker rather than once per file: on this 2-core machine the unit files
 * took 97 s of CPU isolated and 29 s shared. The integration and end-to-end files stay isolated: handlers
 * read their environment once, at import, as on Lambda, and each file sets its own.
 */
const SHARED = ['test/unit/**/*.test.ts', 'test/infra/**/*.test.ts'];

/**
 * Unit files that mock a module (vi.mock): a shared worker may have loaded the real one for another file
 * already, and the mock would never be seen. They run isolated.
 */
const MOCKS_MODULES = ['test/unit/cold-start-schemas.test.ts'];

/**
 * The longest files of the measured run, longest first (docs/testing.md). Vitest orders files by the
 * durations of the previous run, but a clean clone has none and it falls back to file size, which would start
 * the chaos scenarios (a small file, a minute long) last, with the other workers idle behind them.
 */
const LONG_FIRST = [
  'test/integration/chaos.test.ts',
  'test/e2e/npm-start.test.ts',
  'test/integration/local-state.test.ts',
  'test/infra/app.test.ts',
  'test/e2e/local-first-run.test.ts',
  'test/integration/templates-api.test.ts',
  'test/integration/port-clash.test.ts',
  'test/integration/unicode-input.test.ts',
  'test/integration/failover.test.ts',
  'test/integration/smtp-postfix-transport.test.ts',
  'test/integration/scheduled-send.test.ts',
  'test/e2e/lambda-bundles.test.ts',
];

class LongFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (spec: TestSpecification) => {
      const index = LONG_FIRST.findIndex((file) => spec.moduleId.endsWith(`/${file}`));
      return index === -1 ? LONG_FIRST.length : index;
    };
    // A stable sort: the known long files first, every other file in Vitest's own order.
    return sorted
      .map((spec, at) => ({ spec, at }))
      .sort((a, b) => rank(a.spec) - rank(b.spec) || a.at - b.at)
      .map(({ spec }) => spec);
  }
}

export default defineConfig({
  test: {
    environment: 'node',
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: one on a 2-core machine, and the suite runs file by
    // file. Most files wait on sockets, timers and child processes rather than the CPU, so three run side by
    // side; POSTROOM_TEST_WORKERS overrides it (1 for a run that must be quiet).
    maxWorkers: Number(process.env.POSTROOM_TEST_WORKERS ?? 3),
    testTimeout: 20_000,
    hookTimeout: 30_000,
    sequence: { sequencer: LongFirstSequencer },
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT' },
    projects: [
      {
        extends: true,
        test: {
          name: 'isolated',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts', ...MOCKS_MODULES],
          // Set-up the suite needs and does itself, once per run (a browser for the browser tests).
          globalSetup: ['test/support/browser-setup.ts'],
        },
      },
      { extends: true, test: { name: 'shared', include: SHARED, exclude: MOCKS_MODULES, isolate: false } },
    ],
  },
});

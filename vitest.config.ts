import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    // Vitest's default is one worker fewer than the cores: one on a 2-core machine, and the suite runs file by
    // file. Most files wait on sockets, timers and child processes rather than the CPU, so three run side by
    // side; POSTROOM_TEST_WORKERS overrides it (1 for a run that must be quiet).
    maxWorkers: Number(process.env.POSTROOM_TEST_WORKERS ?? 3),
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Set-up the suite needs and does itself, once per run (a browser for the browser tests).
    globalSetup: ['test/support/browser-setup.ts'],
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT' },
  },
});

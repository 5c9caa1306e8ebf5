import { type Browser, chromium } from 'playwright-core';
import { inject } from 'vitest';
import { type BrowserSetup, CHROMIUM_ARGS } from './browser';

/**
 * The browser the run's global set-up found or installed (test/support/browser-setup.ts), or why there is
 * none: browser test files skip on `skip` (never under CI) and fail on `fail`.
 */
export const CHROMIUM: BrowserSetup = inject('chromium') ?? {
  status: 'fail',
  reason:
    'the browser set-up did not run: vitest.config.ts lists test/support/browser-setup.ts in globalSetup',
};

/** Headless Chromium, driven by playwright-core, with the launch flags TOOLCHAIN.md lists. */
export async function launchChromium(): Promise<Browser> {
  if (CHROMIUM.status !== 'ready') throw new Error(CHROMIUM.reason);
  return chromium.launch({
    executablePath: CHROMIUM.executablePath,
    headless: true,
    args: [...CHROMIUM_ARGS],
  });
}

import type { TestProject } from 'vitest/node';
import { type BrowserSetup, prepareBrowser } from './browser';

/**
 * Vitest global set-up: finds or installs the browser once per test run, before any test file starts, and
 * hands the outcome to the browser tests (`inject('chromium')`).
 */
let browser: BrowserSetup | undefined;

export async function setup(project: TestProject): Promise<void> {
  browser = await prepareBrowser();
  if (browser.status !== 'ready') console.warn(`\n${browser.reason}\n`);
  project.provide('chromium', browser);
}

/** A skip is said again at the end of the run, where the summary is read. */
export function teardown(): void {
  if (browser?.status === 'skip') console.warn(`\n${browser.reason}\n`);
}

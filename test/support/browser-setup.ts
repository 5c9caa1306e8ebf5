import type { TestProject } from 'vitest/node';
import { prepareBrowser } from './browser';

/**
 * Vitest global set-up: finds or installs the browser once per test run, before any test file starts, and
 * hands the outcome to the browser tests (`inject('chromium')`).
 */
export async function setup(project: TestProject): Promise<void> {
  const browser = await prepareBrowser();
  if (browser.status !== 'ready') console.warn(`\n${browser.reason}\n`);
  project.provide('chromium', browser);
}

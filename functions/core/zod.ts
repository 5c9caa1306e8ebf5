import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * Schemas are written with zod/mini: the same validator as classic zod, as functions that a bundler keeps
 * only when used (classic zod's methods keep all of it, ~400 KB, in every function). zod/mini carries no
 * messages of its own; the English ones classic zod sets are set here, so errors read the same.
 * https://zod.dev/packages/mini
 */
z.config(en());

/**
 * Reports a custom issue from a z.transform and returns z.NEVER, as classic zod's `ctx.addIssue` does
 * (a mini transform gets the parse payload itself).
 */
export function addIssue(
  payload: z.core.ParsePayload,
  message: string,
  path: ReadonlyArray<PropertyKey> = [],
): never {
  payload.issues.push({ code: 'custom', message, input: payload.value, path: [...path] });
  return z.NEVER;
}

import { describe, expect, it, vi } from 'vitest';

/**
 * Building zod schemas is the costliest thing a module of the core can do when it is imported: the request
 * and webhook schemas built at import were about a fifth of what the send function's cold start added to
 * the SDK clients' own (docs/performance.md). So the modules the send function loads at cold start build
 * their schemas on first use, and a cold start that serves a form, a status read or a preflight builds
 * none. This counts every call of a zod/mini builder (z.string, z.strictObject, z.pipe...) while the send
 * function's modules are imported. A module mock, as only it sees what an import runs.
 */
const built = vi.hoisted(() => ({ calls: 0 }));

vi.mock('zod/mini', async (importOriginal) => {
  const zod = await importOriginal<Record<string, unknown>>();
  // Builders are the lower-case functions (classes are capitalized and must stay as they are, for
  // instanceof); z.config sets the messages and builds nothing. z.iso.* are builders too.
  const counted = (namespace: Record<string, unknown>) =>
    Object.fromEntries(
      Object.entries(namespace).map(([name, value]) =>
        typeof value === 'function' && /^[a-z]/.test(name) && name !== 'config'
          ? [
              name,
              (...args: unknown[]) => {
                built.calls += 1;
                return (value as (...a: unknown[]) => unknown)(...args);
              },
            ]
          : [name, value],
      ),
    );
  return { ...counted(zod), iso: counted(zod.iso as Record<string, unknown>) };
});

describe('Cold start: the send function builds no schema at import', () => {
  it('imports the send handler and its core without building a zod schema, and builds the API schema on first use', async () => {
    // Act: the modules the send function's cold start imports (functions/send/index.ts adds adapters only).
    await import('../../functions/send/app');
    const { sendRequestSchema } = await import('../../functions/core/api/send-request');
    const { parseWebhookMessage } = await import('../../functions/core/webhooks/webhook-event');
    const atImport = built.calls;

    // Assess
    expect(atImport).toBe(0);
    // The count sees the schemas when they are built: a test that cannot fail proves nothing.
    const { shippedConfig } = await import('../fakes/config');
    const config = shippedConfig();
    const beforeApi = built.calls;
    sendRequestSchema(config);
    expect(built.calls).toBeGreaterThan(beforeApi);
    const beforeWebhook = built.calls;
    expect(parseWebhookMessage('{}').ok).toBe(false);
    expect(built.calls).toBeGreaterThan(beforeWebhook);
  });
});

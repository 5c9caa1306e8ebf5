import type { HttpResponse } from '../http';

/**
 * `GET /v1/openapi.json`: the committed OpenAPI document (openapi.json, `npm run openapi`), public like
 * /health. It is imported on the first request for it: the bundler puts it in a chunk of its own, so the
 * document (43 KB in the bundle) is neither read nor parsed at a cold start (infra/bundling.ts, the
 * cold-start budget).
 */
let text: string | undefined;

export async function openApiDocument(): Promise<HttpResponse> {
  if (text === undefined) {
    const { default: document } = await import('../../../openapi.json', { with: { type: 'json' } });
    text = JSON.stringify(document);
  }
  return {
    status: 200,
    // The document changes with a deployment only; a client may keep it a few minutes.
    headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=300' },
    body: text,
  };
}

import { escapeHtml } from '../functions/core/http';

/**
 * The API reference page the local stack serves at `/reference`: rendered here, on the server, from the
 * committed OpenAPI document (openapi.json), as plain HTML and CSS. No script and nothing from a CDN, so it
 * reads offline and under the local server's strict Content-Security-Policy.
 */

type Json = Record<string, unknown>;

const METHODS = ['get', 'post', 'patch', 'put', 'delete', 'options'] as const;

export async function apiReferencePage(): Promise<string> {
  const { default: document } = await import('../openapi.json', { with: { type: 'json' } });
  return renderReference(document as unknown as Json);
}

export function renderReference(document: Json): string {
  const info = (document.info ?? {}) as Json;
  const paths = (document.paths ?? {}) as Record<string, Json>;
  const webhooks = (document.webhooks ?? {}) as Record<string, Json>;
  const operations = [
    ...Object.entries(paths).flatMap(([path, item]) => operationsOf(path, item)),
    ...Object.entries(webhooks).flatMap(([name, item]) => operationsOf(`webhook: ${name}`, item)),
  ];
  const resolve = resolver(document);
  const nav = operations
    .map(
      (op) =>
        `<li><a href="#${anchor(op)}"><span class="m m-${op.method}">${op.method.toUpperCase()}</span> ${escapeHtml(op.path)}</a></li>`,
    )
    .join('');
  const body = operations.map((op) => renderOperation(op, resolve)).join('');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(String(info.title ?? 'API'))} reference</title>
<style>${STYLE}</style>
</head>
<body>
<nav><h1>${escapeHtml(String(info.title ?? 'API'))}</h1><p class="version">OpenAPI ${escapeHtml(String(document.openapi))} · version ${escapeHtml(String(info.version ?? ''))} · <a href="/v1/openapi.json">openapi.json</a></p><ul>${nav}</ul></nav>
<main>
<section class="intro"><h2>Overview</h2><p>${prose(String(info.description ?? ''))}</p>${renderServers(document)}${renderSecurity(document)}</section>
${body}
</main>
</body>
</html>
`;
}

interface Operation {
  readonly path: string;
  readonly method: (typeof METHODS)[number];
  readonly op: Json;
  readonly shared: ReadonlyArray<unknown>;
}

function operationsOf(path: string, item: Json): Operation[] {
  const shared = (item.parameters ?? []) as unknown[];
  return METHODS.filter((method) => item[method] !== undefined).map((method) => ({
    path,
    method,
    op: item[method] as Json,
    shared,
  }));
}

function anchor(op: Operation): string {
  return String(op.op.operationId ?? `${op.method}-${op.path}`).replace(/[^A-Za-z0-9_-]/g, '-');
}

function resolver(document: Json): (node: unknown) => Json {
  return (node) => {
    let current = node as Json;
    for (let depth = 0; depth < 10 && typeof current?.$ref === 'string'; depth += 1) {
      const parts = (current.$ref as string).replace(/^#\//, '').split('/');
      current = parts.reduce<unknown>(
        (at, part) => (at as Json | undefined)?.[part.replace(/~1/g, '/')],
        document,
      ) as Json;
    }
    return current ?? {};
  };
}

function renderOperation(operation: Operation, resolve: (node: unknown) => Json): string {
  const { op } = operation;
  const parameters = [...operation.shared, ...((op.parameters ?? []) as unknown[])].map(resolve);
  const security = op.security as Array<Record<string, string[]>> | undefined;
  // The requirements are alternatives; each names the key scopes it needs (the document's apiKey scheme).
  const scopes = (security ?? []).flatMap((requirement) => Object.values(requirement).flat());
  const auth =
    security !== undefined && security.length === 0
      ? '<span class="badge public">public</span>'
      : `<span class="badge key">API key${scopes.length > 0 ? `: ${escapeHtml(scopes.join(' or '))}` : ''}</span>`;
  const requestBody = op.requestBody === undefined ? undefined : resolve(op.requestBody);
  return `<section class="op" id="${anchor(operation)}">
<h2><span class="m m-${operation.method}">${operation.method.toUpperCase()}</span> <code>${escapeHtml(operation.path)}</code> ${auth}</h2>
<p class="summary">${escapeHtml(String(op.summary ?? ''))}</p>
${op.description ? `<p>${prose(String(op.description))}</p>` : ''}
${parameters.length > 0 ? renderParameters(parameters, resolve) : ''}
${requestBody ? renderRequestBody(requestBody, resolve) : ''}
${renderResponses((op.responses ?? {}) as Record<string, unknown>, resolve)}
</section>`;
}

function renderParameters(parameters: Json[], resolve: (node: unknown) => Json): string {
  const rows = parameters
    .map(
      (p) =>
        `<tr><td><code>${escapeHtml(String(p.name))}</code>${p.required ? ' <span class="req">required</span>' : ''}</td><td>${escapeHtml(String(p.in))}</td><td>${typeOf(resolve(p.schema), resolve)}</td><td>${prose(String(p.description ?? ''))}</td></tr>`,
    )
    .join('');
  return `<h3>Parameters</h3><table><thead><tr><th>Name</th><th>In</th><th>Type</th><th>Description</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function renderRequestBody(body: Json, resolve: (node: unknown) => Json): string {
  const content = (body.content ?? {}) as Record<string, Json>;
  const types = Object.keys(content);
  const first = content[types[0] ?? ''] ?? {};
  return `<h3>Request body <span class="types">${types.map((t) => `<code>${escapeHtml(t)}</code>`).join(' ')}</span></h3>
${renderSchema(resolve(first.schema), resolve)}
${renderExamples(first.examples as Record<string, Json> | undefined)}`;
}

function renderResponses(responses: Record<string, unknown>, resolve: (node: unknown) => Json): string {
  const rows = Object.entries(responses)
    .map(([status, raw]) => {
      const response = resolve(raw);
      const headers = Object.keys((response.headers ?? {}) as Json);
      const content = (response.content ?? {}) as Record<string, Json>;
      const [type, media] = Object.entries(content)[0] ?? [];
      const examples = media?.examples as Record<string, Json> | undefined;
      return `<details><summary><span class="status s${status[0]}">${escapeHtml(status)}</span> ${prose(String(response.description ?? ''))}${type ? ` <code class="type">${escapeHtml(type)}</code>` : ''}</summary>
${headers.length > 0 ? `<p class="headers">Headers: ${headers.map((h) => `<code>${escapeHtml(h)}</code>`).join(', ')}</p>` : ''}
${media?.schema ? renderSchema(resolve(media.schema), resolve) : ''}
${renderExamples(examples)}</details>`;
    })
    .join('');
  return `<h3>Responses</h3>${rows}`;
}

function renderSchema(schema: Json, resolve: (node: unknown) => Json): string {
  const properties = schema.properties as Record<string, unknown> | undefined;
  if (properties === undefined) {
    const variants = (schema.oneOf ?? schema.anyOf) as unknown[] | undefined;
    if (variants !== undefined) {
      return `<p class="schema">One of:</p>${variants.map((v) => renderSchema(resolve(v), resolve)).join('<p class="or">or</p>')}`;
    }
    return `<p class="schema">${typeOf(schema, resolve)}${schema.description ? ` — ${prose(String(schema.description))}` : ''}</p>`;
  }
  const required = new Set((schema.required ?? []) as string[]);
  const rows = Object.entries(properties)
    .map(([name, raw]) => {
      const property = resolve(raw);
      return `<tr><td><code>${escapeHtml(name)}</code>${required.has(name) ? ' <span class="req">required</span>' : ''}</td><td>${typeOf(property, resolve)}</td><td>${prose(String(property.description ?? ''))}</td></tr>`;
    })
    .join('');
  return `<table class="fields"><thead><tr><th>Field</th><th>Type</th><th>Description</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function typeOf(schema: Json, resolve: (node: unknown) => Json): string {
  if (Array.isArray(schema.enum))
    return schema.enum.map((v) => `<code>${escapeHtml(JSON.stringify(v))}</code>`).join(' | ');
  if (schema.const !== undefined) return `<code>${escapeHtml(JSON.stringify(schema.const))}</code>`;
  const variants = (schema.oneOf ?? schema.anyOf) as unknown[] | undefined;
  if (variants !== undefined) return variants.map((v) => typeOf(resolve(v), resolve)).join(' or ');
  if (schema.type === 'array') return `list of ${typeOf(resolve(schema.items), resolve)}`;
  const limits = [
    schema.minLength !== undefined ? `≥ ${schema.minLength} chars` : '',
    schema.maxLength !== undefined ? `≤ ${schema.maxLength} chars` : '',
    schema.maxItems !== undefined ? `≤ ${schema.maxItems} items` : '',
  ].filter((limit) => limit !== '');
  const name = schema.type === undefined ? 'any' : String(schema.type);
  return `${escapeHtml(name)}${schema.format ? ` (${escapeHtml(String(schema.format))})` : ''}${limits.length > 0 ? ` <span class="limits">${limits.join(', ')}</span>` : ''}`;
}

function renderExamples(examples: Record<string, Json> | undefined): string {
  if (examples === undefined) return '';
  return Object.entries(examples)
    .map(
      ([name, example]) =>
        `<p class="example-name">Example <code>${escapeHtml(name)}</code>${example.summary ? `: ${escapeHtml(String(example.summary))}` : ''}</p><pre>${escapeHtml(JSON.stringify(example.value, null, 2))}</pre>`,
    )
    .join('');
}

function renderServers(document: Json): string {
  const servers = (document.servers ?? []) as Json[];
  const rows = servers
    .map((s) => `<li><code>${escapeHtml(String(s.url))}</code> — ${prose(String(s.description ?? ''))}</li>`)
    .join('');
  return `<h3>Servers</h3><ul>${rows}</ul>`;
}

function renderSecurity(document: Json): string {
  const components = (document.components ?? {}) as Json;
  const schemes = (components.securitySchemes ?? {}) as Record<string, Json>;
  const headers = (components.headers ?? {}) as Record<string, Json>;
  const parameters = (components.parameters ?? {}) as Record<string, Json>;
  const schemeRows = Object.entries(schemes)
    .map(
      ([name, s]) =>
        `<li><code>${escapeHtml(name)}</code> (${escapeHtml(String(s.type))} ${escapeHtml(String(s.scheme ?? ''))}): ${prose(String(s.description ?? ''))}</li>`,
    )
    .join('');
  const headerRows: Json[] = [
    ...Object.values(parameters).filter((p) => p.in === 'header' && !String(p.name).startsWith('webhook')),
    ...Object.entries(headers).map(([name, h]): Json => ({ ...h, name })),
  ];
  const headerHtml = headerRows
    .map(
      (h) =>
        `<tr><td><code>${escapeHtml(String(h.name))}</code></td><td>${prose(String(h.description ?? ''))}</td></tr>`,
    )
    .join('');
  return `<h3>Authentication</h3><ul>${schemeRows}</ul><h3>Headers</h3><table><tbody>${headerHtml}</tbody></table>`;
}

/** Description text: HTML-escaped, with `code` spans. */
function prose(text: string): string {
  return escapeHtml(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

const STYLE = `
:root { color-scheme: light; --ink: #1d2430; --muted: #5b6575; --line: #dde2ea; --bg: #f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink); display: grid; grid-template-columns: 290px 1fr; }
nav { position: sticky; top: 0; height: 100vh; overflow: auto; padding: 20px 16px; background: var(--bg); border-right: 1px solid var(--line); }
nav h1 { font-size: 18px; margin: 0 0 4px; }
nav ul { list-style: none; padding: 0; margin: 12px 0 0; }
nav li a { display: block; padding: 4px 6px; border-radius: 4px; color: var(--ink); text-decoration: none; font-size: 13px; word-break: break-all; }
nav li a:hover { background: #e9edf3; }
.version { color: var(--muted); font-size: 12px; margin: 0; }
main { padding: 8px 40px 80px; max-width: 1100px; }
section { border-bottom: 1px solid var(--line); padding: 18px 0 24px; }
h2 { font-size: 20px; margin: 8px 0; }
h3 { font-size: 15px; margin: 18px 0 8px; }
.summary { font-weight: 600; margin: 0 0 6px; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #eef1f5; padding: 1px 4px; border-radius: 3px; }
pre { background: #0f1720; color: #e6edf3; padding: 12px; border-radius: 6px; overflow: auto; font-size: 12.5px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; font-size: 14px; }
th, td { border: 1px solid var(--line); padding: 6px 8px; text-align: left; vertical-align: top; }
th { background: var(--bg); font-weight: 600; }
.m { display: inline-block; min-width: 52px; text-align: center; font: 700 11px/18px ui-monospace, monospace; color: #fff; border-radius: 3px; padding: 0 4px; }
.m-get { background: #1f7a4d; } .m-post { background: #1d5fbf; } .m-patch { background: #9a5b00; } .m-delete { background: #b42318; } .m-put { background: #6941c6; } .m-options { background: #5b6575; }
.badge { font-size: 11px; font-weight: 600; padding: 2px 6px; border-radius: 10px; vertical-align: middle; }
.badge.key { background: #fff4e5; color: #8a4b00; } .badge.public { background: #e7f6ec; color: #1f7a4d; }
.req { color: #b42318; font-size: 11px; }
.limits { color: var(--muted); font-size: 12px; }
details { border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; padding: 6px 10px; }
summary { cursor: pointer; }
.status { display: inline-block; min-width: 40px; font: 700 13px ui-monospace, monospace; }
.s2 { color: #1f7a4d; } .s3 { color: #1d5fbf; } .s4 { color: #9a5b00; } .s5 { color: #b42318; }
.type { margin-left: 6px; }
.headers, .example-name { color: var(--muted); font-size: 13px; margin: 8px 0 4px; }
.or { color: var(--muted); margin: 4px 0; }
`;

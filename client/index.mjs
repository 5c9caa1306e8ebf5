// Built from client/index.ts by `npm run build:client`: edit the source, not this file.

import { createHmac, timingSafeEqual } from "node:crypto";
var LOCAL_BASE_URL = "http://127.0.0.1:3000";
var WEBHOOK_TOLERANCE_SECONDS = 300;
var Postroom = class {
  baseUrl;
  emails;
  templates;
  webhooks;
  apiKey;
  timeoutMs;
  fetcher;
  constructor(options = {}) {
    this.apiKey = options.apiKey ?? process.env.POSTROOM_API_KEY;
    this.baseUrl = (options.baseUrl ?? process.env.POSTROOM_BASE_URL ?? LOCAL_BASE_URL).replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 3e4;
    this.fetcher = options.fetch ?? globalThis.fetch;
    this.emails = new Emails(this);
    this.templates = new Templates(this);
    this.webhooks = new Webhooks();
  }
  /** One API call; resolves to an error value for an HTTP error, a network failure or an unreadable answer. */
  async request(method, path, body, options = {}) {
    const headers = { accept: "application/json" };
    if (this.apiKey !== void 0 && this.apiKey !== "") headers.authorization = `Bearer ${this.apiKey}`;
    if (body !== void 0) headers["content-type"] = "application/json";
    if (options.idempotencyKey !== void 0) headers["idempotency-key"] = options.idempotencyKey;
    let response;
    let text;
    try {
      response = await this.fetcher(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...body === void 0 ? {} : { body: JSON.stringify(body) },
        signal: AbortSignal.timeout(this.timeoutMs)
      });
      text = await response.text();
    } catch (cause) {
      return { data: null, error: noAnswer(cause), headers: null };
    }
    const answerHeaders = Object.fromEntries(response.headers);
    const parsed = parseJson(text);
    if (response.ok && parsed !== void 0)
      return { data: parsed, error: null, headers: answerHeaders };
    const problem = isObject(parsed) ? parsed : {};
    const error = {
      ...problem,
      status: response.status,
      title: typeof problem.title === "string" ? problem.title : response.statusText,
      detail: typeof problem.detail === "string" ? problem.detail : unreadable(response.ok, text)
    };
    return { data: null, error, headers: answerHeaders };
  }
};
var Emails = class {
  constructor(client) {
    this.client = client;
  }
  client;
  /** `POST /v1/send`: queues one email, or schedules it with `scheduledAt`. */
  send(email, options = {}) {
    return this.client.request("POST", "/v1/send", email, options);
  }
  /** `POST /v1/send/batch`: up to 100 emails, each validated and queued on its own. */
  batch(emails) {
    return this.client.request("POST", "/v1/send/batch", { messages: emails });
  }
  /** `GET /v1/messages/{id}`: the status and history of an email this API key sent. */
  get(id) {
    return this.client.request("GET", `/v1/messages/${encodeURIComponent(id)}`);
  }
  /** `POST /v1/messages/{id}/cancel`: a scheduled email is never sent (409 once it is no longer scheduled). */
  cancel(id, options = {}) {
    return this.client.request("POST", `/v1/messages/${encodeURIComponent(id)}/cancel`, void 0, options);
  }
  /** `PATCH /v1/messages/{id}`: moves a scheduled email to `scheduledAt` (RFC 3339 with an offset). */
  reschedule(id, scheduledAt, options = {}) {
    return this.client.request("PATCH", `/v1/messages/${encodeURIComponent(id)}`, { scheduledAt }, options);
  }
};
var Templates = class {
  constructor(client) {
    this.client = client;
  }
  client;
  /** `POST /v1/templates/{id}/render`: what a send with this template and these variables would contain. */
  render(id, variables = {}) {
    return this.client.request("POST", `/v1/templates/${encodeURIComponent(id)}/render`, { variables });
  }
};
var Webhooks = class {
  /**
   * Checks a Postroom webhook as the Standard Webhooks specification says: an HMAC-SHA256 of
   * `webhook-id.webhook-timestamp.body` with the endpoint's `whsec_` secret, among the space-separated `v1,`
   * signatures, compared in constant time, with a timestamp within 5 minutes. Give the body exactly as
   * received (not parsed and serialized again). Resolves to the payload, or an error value; never throws.
   * https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
   */
  verify(rawBody, headers, secret, options = {}) {
    const refused = (detail) => ({
      data: null,
      error: { status: null, title: "Webhook Verification Failed", detail },
      headers: null
    });
    const id = header(headers, "webhook-id");
    const timestamp = header(headers, "webhook-timestamp");
    const signatures = header(headers, "webhook-signature");
    if (id === void 0 || timestamp === void 0 || signatures === void 0)
      return refused("webhook-id, webhook-timestamp and webhook-signature are required.");
    const seconds = /^\d{1,12}$/.test(timestamp) ? Number(timestamp) : Number.NaN;
    const now = Math.floor((options.now ?? /* @__PURE__ */ new Date()).getTime() / 1e3);
    if (!(Math.abs(now - seconds) <= (options.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS)))
      return refused("The webhook-timestamp is missing or too far from now.");
    const key = Buffer.from(secret.trim().replace(/^whsec_/, ""), "base64");
    if (key.length === 0) return refused("The secret is not whsec_ and base64.");
    const body = typeof rawBody === "string" ? Buffer.from(rawBody, "utf8") : Buffer.from(rawBody);
    const expected = createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest();
    const matches = signatures.split(" ").some((signature) => {
      const [version, value] = signature.split(",", 2);
      if (version !== "v1" || value === void 0) return false;
      const given = Buffer.from(value, "base64");
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
    if (!matches) return refused("No signature matches this body with this secret.");
    const payload = parseJson(body.toString("utf8"));
    if (!isObject(payload)) return refused("The body is not a JSON object.");
    return { data: payload, error: null, headers: {} };
  }
};
function header(headers, name) {
  if (typeof headers.get === "function") return headers.get(name) ?? void 0;
  const record = headers;
  const found = Object.keys(record).find((key) => key.toLowerCase() === name);
  const value = found === void 0 ? void 0 : record[found];
  return typeof value === "string" ? value : value?.[0];
}
function noAnswer(cause) {
  const timedOut = cause instanceof Error && cause.name === "TimeoutError";
  const reason = cause instanceof Error ? cause.cause instanceof Error ? cause.cause.message : cause.message : "";
  return {
    status: null,
    title: timedOut ? "Timeout" : "Network Error",
    detail: timedOut ? "The API did not answer in time." : `The API could not be reached: ${reason}`.trim()
  };
}
function unreadable(ok, text) {
  return ok ? "The answer was not JSON." : text.slice(0, 200);
}
function parseJson(text) {
  try {
    return text === "" ? void 0 : JSON.parse(text);
  } catch {
    return void 0;
  }
}
function isObject(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
export {
  LOCAL_BASE_URL,
  Postroom
};

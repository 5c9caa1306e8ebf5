/**
 * Every item in the record table has a partition key `<prefix><rest>`. The prefixes are declared once, here,
 * because the IAM policies limit each function to its own items with dynamodb:LeadingKeys: the send
 * function can never touch the relay's exactly-once records, and the relay can never read API keys.
 * https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html
 */
export const KEY_PREFIX = {
  /** Rate-limit counters (forms, failed API authentications). */
  rate: 'rate#',
  /** Duplicate-submission fingerprints. */
  dup: 'dup#',
  /** Captcha tokens already used. */
  captcha: 'captcha#',
  /** Autoresponse counters per recipient. */
  auto: 'auto#',
  /** Message status and its history (MessageStore). */
  msg: 'msg#',
  /** Idempotency-Key records of the transactional API. */
  idem: 'idem#',
  /** API keys, by the SHA-256 of the key (ApiKeyStore); the send function only reads them. */
  apikey: 'apikey#',
  /** The relay's exactly-once claims (ClaimStore). */
  job: 'job#',
  /** Suppressed recipients, by lowercased address (SuppressionList): written by the events function. */
  supp: 'supp#',
  /** A webhook event (for replay) and its delivery attempts (WebhookStore): written by the dispatcher. */
  whevt: 'whevt#',
  /** A webhook endpoint's state: disabled (410), last success and failure (WebhookStore). */
  whep: 'whep#',
  /** A provider's circuit breaker and its counting windows (BreakerStore, core/failover): the relay's. */
  brk: 'brk#',
} as const;

/** What the send function reads and writes. */
export const SEND_KEY_PREFIXES = [
  KEY_PREFIX.rate,
  KEY_PREFIX.dup,
  KEY_PREFIX.captcha,
  KEY_PREFIX.auto,
  KEY_PREFIX.msg,
  KEY_PREFIX.idem,
] as const;

/**
 * What the send function deletes: the duplicate fingerprint or Idempotency-Key record it remembered for a
 * request whose job could not be queued, so that a retry is not refused as a duplicate. Everything else of
 * its own (message status, counters, used captcha tokens) only TTL deletes.
 */
export const SEND_DELETE_KEY_PREFIXES = [KEY_PREFIX.dup, KEY_PREFIX.idem] as const;

/**
 * What the send function may only read: it checks API keys, it never creates or revokes them; and it checks
 * recipients against the suppression list, which only the events function writes.
 */
export const SEND_READ_ONLY_KEY_PREFIXES = [KEY_PREFIX.apikey, KEY_PREFIX.supp] as const;

/** What the relay reads and writes: its claims, the status of the messages it sends, the providers' breakers. */
export const RELAY_KEY_PREFIXES = [KEY_PREFIX.job, KEY_PREFIX.msg, KEY_PREFIX.brk] as const;

/** What the events function updates: the status of a message (UpdateItem on an existing `msg#` item). */
export const EVENTS_UPDATE_KEY_PREFIXES = [KEY_PREFIX.msg] as const;

/** What the events function puts: suppressed addresses. It never reads or deletes them. */
export const EVENTS_PUT_KEY_PREFIXES = [KEY_PREFIX.supp] as const;

/** What the webhook dispatcher reads and writes: its events' attempts and its endpoints' state. */
export const WEBHOOKS_KEY_PREFIXES = [KEY_PREFIX.whevt, KEY_PREFIX.whep] as const;

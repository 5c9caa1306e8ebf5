/**
 * The archive table (infra/constructs/archive.ts): its own table, with a sort key for paging and its own
 * encryption key, apart from the record table. Items, by partition key (`pk`) and sort key (`sk`):
 * - `sub#<form>#<folder>` / `<receivedAt>#<id>`: the submission (listing is a Query, newest first);
 * - `subid#<id>` / `-`: where the submission is (get by id);
 * - `subemail#<keyed hash of the address>` / `<id>`: the erasure index, no address in it;
 * - `erasure#` / `<at>#<id>`: erasure tombstones (when, how many), without personal data.
 * Every item but tombstones has `expiresAt` (TTL); reads filter it, as TTL deletes late.
 */
export const ARCHIVE_KEY = {
  submission: 'sub#',
  byId: 'subid#',
  byEmail: 'subemail#',
  erasure: 'erasure#',
} as const;

/** What the send function writes (PutItem). */
export const ARCHIVE_WRITE_PREFIXES = [
  ARCHIVE_KEY.submission,
  ARCHIVE_KEY.byId,
  ARCHIVE_KEY.byEmail,
] as const;
/** What the submissions API reads (GetItem, Query). */
export const ARCHIVE_READ_PREFIXES = [ARCHIVE_KEY.submission, ARCHIVE_KEY.byId] as const;

/** One mail a fault peer accepted: the job id read from the mail itself, and when. */
export interface DeliveredMail {
  readonly jobId: string | undefined;
  readonly at: number;
  readonly bytes: number;
}

/** What a fault peer did, for the harness's report. */
export interface FaultCounts {
  /** Transient answers: 421/451/454, throttling, 5xx. */
  transient: number;
  /** Connections dropped in the middle of DATA. */
  dropped: number;
  /** Answers held back until the client gave up. */
  stalled: number;
  /** Permanent rejections of the recipients the run marks as rejected. */
  rejected: number;
  /** Mail the peer kept but whose answer it never gave (the client cannot tell it from a failure). */
  lostReplies?: number;
}

export interface FaultPeer {
  readonly delivered: ReadonlyArray<DeliveredMail>;
  readonly faults: FaultCounts;
  /** Turns the random faults on or off (rejections of marked recipients stay). */
  setFaulty(faulty: boolean): void;
  stop(): Promise<void>;
}

// composeMail writes the job id in this header (functions/core/mail/mime.ts); a UUID is never folded.
const JOB_ID_HEADER = /^x-postroom-job-id:[ \t]*([^\r\n]+)/im;

/** The job id in a raw message's header section. */
export function jobIdOf(raw: Buffer): string | undefined {
  const text = raw.toString('latin1');
  const end = text.search(/\r?\n\r?\n/);
  return JOB_ID_HEADER.exec(end === -1 ? text : text.slice(0, end))?.[1]?.trim();
}

/** A small seeded generator (mulberry32), so a run's faults can be replayed with its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Recipients at this domain are refused for good by both fault peers (550, MessageRejected). */
export const REJECTED_DOMAIN = 'rejected.example.net';

/**
 * What every command of the `postroom` CLI shares: the terminal it talks to and, for the doctor's checks,
 * the shape of a finding. A module of its own so commands need not import the entry (cli/main.ts) that
 * imports them.
 */

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** Asks a yes/no question on a terminal. Absent when there is no terminal: purge then needs --yes. */
  readonly confirm?: ((question: string) => Promise<boolean>) | undefined;
  /** The clock, for ages. */
  readonly now?: (() => number) | undefined;
  /**
   * Shows how far a long run got, on one line that each call replaces ('' clears it). Present only when
   * stderr is a terminal, so scripts get clean output.
   */
  readonly progress?: ((line: string) => void) | undefined;
}

/** `skip`: a check that does not apply to this target (no alarms locally). */
export type FindingStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface Finding {
  readonly check: string;
  readonly status: FindingStatus;
  readonly detail: string;
  readonly fix?: string;
  /** The check could not reach its part of the stack (doctor then exits 3). */
  readonly unreachable?: boolean;
}

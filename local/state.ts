import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The local stack's state folder: the DynamoDB emulator's tables (API keys, suppression list, message status
 * and history, rate-limit counters), kept on disk so that a restart, which every configuration change needs,
 * forgets nothing. The SQS and SES emulators stay in memory: mail queued but not yet relayed at a restart,
 * and the SES inbox, are gone after it.
 */
export interface LocalStateDir {
  readonly dir: string;
  /** Where dynalite keeps its LevelDB files. */
  readonly dynamodbPath: string;
  /** Gives the folder up for the next run. */
  release(): void;
}

/** The folder's only subfolder of data: `fresh` deletes this and nothing else the user may have put there. */
const DYNAMODB_DIR = 'dynamodb';
const LOCK_FILE = 'postroom.pid';
/** Folders open in this process: one process may run several stacks (tests), each with its own folder. */
const openHere = new Set<string>();

/** The state folder is used by another running local stack. */
export class StateDirInUseError extends Error {
  constructor(dir: string, pid: number) {
    super(
      `The state folder ${dir} is in use by another Postroom (process ${pid}): stop it, or set ` +
        'POSTROOM_STATE_DIR to another folder.',
    );
    this.name = 'StateDirInUseError';
  }
}

/**
 * Opens (creating it if need be) the state folder for one run. LevelDB allows one process per folder, and
 * dynalite fails at its first request, not at start, when another holds it: a pid file refuses the second
 * run at start instead, with its reason. A pid file left by a run that was killed is taken over.
 */
export function openStateDir(dir: string, options: { fresh?: boolean } = {}): LocalStateDir {
  const absolute = path.resolve(dir);
  mkdirSync(absolute, { recursive: true });
  // The folder keeps itself out of git wherever it is put (as pytest's and mypy's caches do).
  const gitignore = path.join(absolute, '.gitignore');
  if (!existsSync(gitignore)) writeFileSync(gitignore, '# Postroom local state (npm start)\n*\n');

  const lock = path.join(absolute, LOCK_FILE);
  const holder = lockHolder(lock);
  if ((holder !== undefined && holder !== process.pid) || openHere.has(absolute))
    throw new StateDirInUseError(absolute, holder ?? process.pid);
  writeFileSync(lock, String(process.pid));
  openHere.add(absolute);

  const dynamodbPath = path.join(absolute, DYNAMODB_DIR);
  if (options.fresh) rmSync(dynamodbPath, { recursive: true, force: true });
  return {
    dir: absolute,
    dynamodbPath,
    release() {
      openHere.delete(absolute);
      if (lockHolder(lock) === process.pid) rmSync(lock, { force: true });
    },
  };
}

/** The pid in the lock file if that process is alive. */
function lockHolder(lock: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(lock, 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    // Signal 0 checks that the process exists without touching it.
    process.kill(pid, 0);
    return pid;
  } catch (error) {
    // EPERM: it exists but belongs to someone else; ESRCH: gone.
    return (error as NodeJS.ErrnoException).code === 'EPERM' ? pid : undefined;
  }
}

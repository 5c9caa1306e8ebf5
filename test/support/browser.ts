import { execFile } from 'node:child_process';
import { accessSync, constants, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * The browser the browser tests drive (playwright-core), found or set up by the test run itself: a browser
 * the user names, one already installed, or Debian's `chromium` package installed with apt when the run is
 * root on Debian or Ubuntu. Otherwise the browser tests skip with a message saying how to run them, except
 * under CI, where they fail with the reason.
 */

/**
 * Headless launch flags (TOOLCHAIN.md): no sandbox (Chromium's sandbox refuses to run as root, as CI
 * containers do), no GPU, and none of the background traffic (component updates, sync, first-run pages) that
 * would leave loopback.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Variables naming the browser to use, first one set wins. CHROME_PATH is the name other tools read. */
export const BROWSER_VARIABLES = ['POSTROOM_CHROMIUM', 'CHROME_PATH'] as const;

/** Looked up on PATH, in order. */
const BROWSER_COMMANDS = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable'];

/** Where browsers live when they are not on PATH. */
const BROWSER_PATHS: Partial<Record<NodeJS.Platform, readonly string[]>> = {
  linux: ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'],
  darwin: [
    '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome',
    '/Applications/Chromium.app/Contents/MacOS/Chromium',
  ],
};

const HOW_TO_RUN =
  'To run them, install Chromium (Debian or Ubuntu: `sudo apt-get install chromium`; macOS: Google Chrome) ' +
  `or set POSTROOM_CHROMIUM to a Chromium or Chrome executable.`;

/** What the browser tests run with: a browser, or why they do not run. */
export type BrowserSetup =
  | { readonly status: 'ready'; readonly executablePath: string }
  | { readonly status: 'skip'; readonly reason: string }
  | { readonly status: 'fail'; readonly reason: string };

/** The parts of the machine the search looks at; tests of the search pass their own. */
export interface BrowserHost {
  readonly env: NodeJS.ProcessEnv;
  readonly platform: NodeJS.Platform;
  readonly isRoot: boolean;
  /** ID and ID_LIKE from /etc/os-release: `debian`, `ubuntu`... (empty where there is none). */
  readonly distributions: readonly string[];
  isExecutable(file: string): boolean;
}

/** The browser named by a variable, or the first one installed; `undefined` when there is none. */
export function findBrowser(host: BrowserHost): { path: string } | { problem: string } | undefined {
  for (const variable of BROWSER_VARIABLES) {
    const named = host.env[variable];
    if (named === undefined || named === '') continue;
    // A browser the user names is the one they want tested: a wrong path is an error, not a reason to
    // quietly test another browser or none.
    return host.isExecutable(named)
      ? { path: named }
      : { problem: `${variable}=${named} is not an executable file` };
  }
  const onPath = BROWSER_COMMANDS.map((command) => findOnPath(host, command));
  const found = [...onPath, ...(BROWSER_PATHS[host.platform] ?? [])].find(
    (file) => file !== undefined && host.isExecutable(file),
  );
  return found === undefined ? undefined : { path: found };
}

/** Installing Debian's package takes root and apt; Ubuntu's archive carries it too. */
export function canInstallBrowser(host: BrowserHost): boolean {
  return (
    host.platform === 'linux' &&
    host.isRoot &&
    host.distributions.some((id) => id === 'debian' || id === 'ubuntu') &&
    findOnPath(host, 'apt-get') !== undefined
  );
}

/** True when the run is CI's: `CI` set to anything but empty, `false` or `0` (as CI services set it). */
export function isCi(env: NodeJS.ProcessEnv): boolean {
  return env.CI !== undefined && !['', 'false', '0'].includes(env.CI);
}

/** Without a browser: a skip with how to run the tests, or under CI a failure with the same reason. */
export function withoutBrowser(host: BrowserHost, reason: string): BrowserSetup {
  return isCi(host.env)
    ? { status: 'fail', reason: `The browser tests cannot run under CI: ${reason}.` }
    : { status: 'skip', reason: `Browser tests skipped: ${reason}. ${HOW_TO_RUN}` };
}

/** Installs Debian's `chromium` with apt (non-interactive); rejects with apt's own message. */
export type BrowserInstaller = () => Promise<void>;

/**
 * Finds the browser, installing it where the run can; decides what the browser tests do. Installs are
 * serialized across test runs by a lock file, and apt waits for dpkg's own lock rather than failing.
 */
export async function prepareBrowser(
  host: BrowserHost = thisHost(),
  install: BrowserInstaller = aptInstallChromium,
  log: (line: string) => void = (line) => console.log(line),
): Promise<BrowserSetup> {
  const first = findBrowser(host);
  if (first !== undefined) {
    return 'path' in first
      ? { status: 'ready', executablePath: first.path }
      : { status: 'fail', reason: `The browser tests cannot run: ${first.problem}.` };
  }
  const searched = `no Chromium or Chrome found (POSTROOM_CHROMIUM and CHROME_PATH unset; ${BROWSER_COMMANDS.join(', ')} neither on PATH nor in ${host.platform === 'darwin' ? '/Applications' : '/usr/bin'})`;
  if (!canInstallBrowser(host)) {
    return withoutBrowser(host, `${searched}, and this run cannot install one (that takes root and apt)`);
  }
  const release = await installLock();
  try {
    // Another test run may have installed it while this one waited for the lock.
    const again = findBrowser(host);
    if (again !== undefined && 'path' in again) return { status: 'ready', executablePath: again.path };
    log("Browser tests: no Chromium found; installing Debian's chromium with apt-get (once per machine)...");
    const started = Date.now();
    try {
      await install();
    } catch (error) {
      return withoutBrowser(host, `installing chromium with apt-get failed: ${(error as Error).message}`);
    }
    const installed = findBrowser(host);
    if (installed === undefined || !('path' in installed)) {
      return withoutBrowser(host, 'apt-get installed chromium, but no chromium executable is on PATH');
    }
    log(`Browser tests: installed ${installed.path} in ${Math.round((Date.now() - started) / 1000)} s.`);
    return { status: 'ready', executablePath: installed.path };
  } finally {
    release();
  }
}

const run = promisify(execFile);

async function aptInstallChromium(): Promise<void> {
  // DPkg::Lock::Timeout: wait for another apt or dpkg to finish instead of failing at once.
  const apt = ['-o', 'DPkg::Lock::Timeout=300', '-qq'];
  const options = {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 15 * 60_000,
  };
  const failure = (error: unknown, hint = '') => {
    const { stderr, message } = error as { stderr?: string; message: string };
    const last = (stderr ?? '').trim().split('\n').slice(-3).join(' ');
    return new Error(`${last === '' ? message : last}${hint}`);
  };
  let updateWarning = '';
  try {
    // apt-get update exits 0 when it cannot reach the archive; its first warning says why an install fails.
    const { stderr } = await run('apt-get', [...apt, 'update'], options);
    const warning = stderr.split('\n').find((line) => line.startsWith('W:') || line.startsWith('E:'));
    if (warning !== undefined) updateWarning = ` (apt-get update: ${warning})`;
  } catch (error) {
    throw failure(error);
  }
  try {
    await run('apt-get', [...apt, 'install', '-y', 'chromium'], options);
  } catch (error) {
    throw failure(error, updateWarning);
  }
}

const LOCK_FILE = path.join(tmpdir(), 'postroom-chromium-install.lock');

/** An exclusive lock file holding its owner's pid; a lock whose owner is gone is taken over. */
async function installLock(timeoutMs = 20 * 60_000): Promise<() => void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      writeFileSync(LOCK_FILE, String(process.pid), { flag: 'wx' });
      return () => rmSync(LOCK_FILE, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    if (!ownerAlive(LOCK_FILE)) {
      rmSync(LOCK_FILE, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`another test run holds ${LOCK_FILE}`);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
  }
}

function ownerAlive(lockFile: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(lockFile, 'utf8'));
  } catch {
    // Released between the two calls: the next attempt takes it.
    return true;
  }
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function findOnPath(host: BrowserHost, command: string): string | undefined {
  return (host.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => dir !== '')
    .map((dir) => path.join(dir, command))
    .find((file) => host.isExecutable(file));
}

/** This machine. */
export function thisHost(env: NodeJS.ProcessEnv = process.env): BrowserHost {
  return {
    env,
    platform: process.platform,
    isRoot: process.getuid?.() === 0,
    distributions: osRelease(),
    isExecutable(file) {
      try {
        accessSync(file, constants.X_OK);
        return statSync(file).isFile();
      } catch {
        return false;
      }
    },
  };
}

/** ID and ID_LIKE of /etc/os-release (freedesktop.org's os-release(5)). */
function osRelease(): string[] {
  let text: string;
  try {
    text = readFileSync('/etc/os-release', 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((line) => line.startsWith('ID=') || line.startsWith('ID_LIKE='))
    .flatMap((line) =>
      line
        .slice(line.indexOf('=') + 1)
        .replace(/"/g, '')
        .split(/\s+/),
    )
    .filter((id) => id !== '');
}

declare module 'vitest' {
  export interface ProvidedContext {
    /** The browser set-up's outcome, from the global set-up (test/support/browser-setup.ts). */
    chromium: BrowserSetup;
  }
}

import { describe, expect, it } from 'vitest';
import { type BrowserHost, type BrowserInstaller, prepareBrowser } from '../support/browser';

/** A machine with these executables; Debian, root and apt unless told otherwise. */
function host(
  executables: string[],
  options: Partial<Omit<BrowserHost, 'isExecutable'>> & { env?: NodeJS.ProcessEnv } = {},
): BrowserHost & { executables: Set<string> } {
  const files = new Set(executables);
  return {
    env: { PATH: '/usr/local/bin:/usr/bin:/bin', ...options.env },
    platform: options.platform ?? 'linux',
    isRoot: options.isRoot ?? true,
    distributions: options.distributions ?? ['debian'],
    executables: files,
    isExecutable: (file) => files.has(file),
  };
}

const APT = '/usr/bin/apt-get';
const quiet = () => {};

/** An installer that puts Debian's chromium where the package does, counting its calls. */
function apt(machine: { executables: Set<string> }, delayMs = 0): BrowserInstaller & { calls: number } {
  const installer = Object.assign(
    async () => {
      installer.calls += 1;
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      machine.executables.add('/usr/bin/chromium');
    },
    { calls: 0 },
  );
  return installer;
}

const refuse: BrowserInstaller = async () => {
  throw new Error('E: Unable to locate package chromium');
};

describe('Test set-up: the browser for the browser tests', () => {
  it('uses the browser POSTROOM_CHROMIUM names before any installed one', async () => {
    const machine = host(['/opt/chrome/chrome', '/usr/bin/chromium'], {
      env: { POSTROOM_CHROMIUM: '/opt/chrome/chrome', CHROME_PATH: '/usr/bin/chromium' },
    });

    expect(await prepareBrowser(machine, apt(machine), quiet)).toEqual({
      status: 'ready',
      executablePath: '/opt/chrome/chrome',
    });
  });

  it('uses CHROME_PATH when POSTROOM_CHROMIUM is not set', async () => {
    const machine = host(['/opt/chrome/chrome', '/usr/bin/chromium'], {
      env: { CHROME_PATH: '/opt/chrome/chrome' },
    });

    expect(await prepareBrowser(machine, apt(machine), quiet)).toMatchObject({
      executablePath: '/opt/chrome/chrome',
    });
  });

  it('fails naming the variable when it names no executable, rather than testing another browser', async () => {
    const machine = host(['/usr/bin/chromium'], { env: { POSTROOM_CHROMIUM: '/opt/missing/chrome' } });

    expect(await prepareBrowser(machine, apt(machine), quiet)).toEqual({
      status: 'fail',
      reason:
        'The browser tests cannot run: POSTROOM_CHROMIUM=/opt/missing/chrome is not an executable file.',
    });
  });

  it('finds chromium, then chromium-browser, then google-chrome on PATH', async () => {
    const both = host(['/usr/local/bin/google-chrome', '/usr/bin/chromium-browser']);
    const chromeOnly = host(['/usr/local/bin/google-chrome']);

    expect(await prepareBrowser(both, apt(both), quiet)).toMatchObject({
      executablePath: '/usr/bin/chromium-browser',
    });
    expect(await prepareBrowser(chromeOnly, apt(chromeOnly), quiet)).toMatchObject({
      executablePath: '/usr/local/bin/google-chrome',
    });
  });

  it("finds Google Chrome's app bundle on macOS", async () => {
    const chrome = '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome';
    const machine = host([chrome], { platform: 'darwin', isRoot: false, distributions: [] });

    expect(await prepareBrowser(machine, apt(machine), quiet)).toEqual({
      status: 'ready',
      executablePath: chrome,
    });
  });

  it("installs Debian's chromium when root on Debian with apt, then uses it", async () => {
    const machine = host([APT]);
    const installer = apt(machine);

    const setup = await prepareBrowser(machine, installer, quiet);

    expect(installer.calls).toBe(1);
    expect(setup).toEqual({ status: 'ready', executablePath: '/usr/bin/chromium' });
  });

  it('installs on Ubuntu (ID_LIKE) too, and never when a browser is already there', async () => {
    const ubuntu = host([APT], { distributions: ['ubuntu', 'debian'] });
    const equipped = host([APT, '/usr/bin/chromium']);
    const ubuntuApt = apt(ubuntu);
    const equippedApt = apt(equipped);

    await prepareBrowser(ubuntu, ubuntuApt, quiet);
    await prepareBrowser(equipped, equippedApt, quiet);

    expect(ubuntuApt.calls).toBe(1);
    expect(equippedApt.calls).toBe(0);
  });

  it('installs once when two runs set up at the same time', async () => {
    const machine = host([APT]);
    const installer = apt(machine, 300);

    const [first, second] = await Promise.all([
      prepareBrowser(machine, installer, quiet),
      prepareBrowser(machine, installer, quiet),
    ]);

    expect(installer.calls).toBe(1);
    expect(first).toMatchObject({ status: 'ready' });
    expect(second).toMatchObject({ status: 'ready' });
  });

  it.each([
    ['not root', { isRoot: false }, [APT]],
    ['on Fedora', { distributions: ['fedora'] }, ['/usr/bin/dnf']],
    ['without apt-get', {}, []],
  ] as const)('skips, saying how to run them, when it cannot install (%s)', async (_name, options, files) => {
    const machine = host([...files], options);
    const installer = apt(machine);

    const setup = await prepareBrowser(machine, installer, quiet);

    expect(installer.calls).toBe(0);
    expect(setup.status).toBe('skip');
    const reason = 'reason' in setup ? setup.reason : '';
    expect(reason).toContain('no Chromium or Chrome found');
    expect(reason).toContain('sudo apt-get install chromium');
    expect(reason).toContain('set POSTROOM_CHROMIUM');
  });

  it('fails instead of skipping under CI=true, with the reason', async () => {
    const machine = host([], { isRoot: false, env: { CI: 'true' } });

    const setup = await prepareBrowser(machine, apt(machine), quiet);

    expect(setup.status).toBe('fail');
    expect('reason' in setup && setup.reason).toMatch(
      /^The browser tests cannot run under CI: no Chromium or Chrome found .* cannot install one/,
    );
  });

  it("skips with apt's message when the install fails, and fails with it under CI", async () => {
    const local = await prepareBrowser(host([APT]), refuse, quiet);
    const ci = await prepareBrowser(host([APT], { env: { CI: '1' } }), refuse, quiet);

    expect(local).toMatchObject({
      status: 'skip',
      reason: expect.stringContaining('apt-get failed: E: Unable to locate package chromium'),
    });
    expect(ci).toMatchObject({
      status: 'fail',
      reason: expect.stringContaining('apt-get failed: E: Unable to locate package chromium'),
    });
  });
});

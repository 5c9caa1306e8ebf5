import { execFile, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A real MTA as the SMTP peer: Postfix from Debian's packages, as a private instance under a temp folder (its
 * own main.cf, master.cf, queue, Maildirs and log; the system's /etc/postfix is never read or touched),
 * listening on 127.0.0.1 only, with STARTTLS on a self-signed certificate, SASL AUTH from a Cyrus sasldb,
 * AUTH only over TLS, strict SMTP settings, one Maildir per address, and addresses that answer 550 and 451
 * at RCPT. See TOOLCHAIN.md for the facts this builds on.
 */

const POSTFIX = '/usr/sbin/postfix';
const SASLPASSWD2 = '/usr/sbin/saslpasswd2';
const SASLDB_PLUGIN_DIRS = ['/usr/lib/x86_64-linux-gnu/sasl2', '/usr/lib/aarch64-linux-gnu/sasl2'];
const PACKAGES = ['postfix', 'sasl2-bin', 'libsasl2-modules'];
const READ_MAIL = join(import.meta.dirname, 'read-mail.py');

/** The domain whose addresses have Maildirs; `refused` and `later` at it answer 550 and 451 at RCPT. */
export const INBOX_DOMAIN = 'inbox.test';
export const REFUSED_ADDRESS = `refused@${INBOX_DOMAIN}`;
export const LATER_ADDRESS = `later@${INBOX_DOMAIN}`;

export type PostfixSupport = { readonly ok: true } | { readonly ok: false; readonly reason: string };

function installed(): boolean {
  return (
    existsSync(POSTFIX) &&
    existsSync(SASLPASSWD2) &&
    SASLDB_PLUGIN_DIRS.some((dir) => existsSync(join(dir, 'libsasldb.so.2')))
  );
}

function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/**
 * Whether this machine can run the Postfix peer, decided at collection time without side effects: Postfix's
 * master runs as root (it drops to the postfix user for its daemons), and a missing install needs apt-get.
 * Under CI=true a machine that cannot run it is an error, never a skip.
 */
export function postfixSupport(): PostfixSupport {
  let reason: string | undefined;
  if (!isRoot()) reason = 'the Postfix tests need root: its master process starts as root';
  else if (!installed() && !existsSync('/usr/bin/apt-get'))
    reason = `Postfix is not installed and there is no apt-get to install ${PACKAGES.join(', ')}`;
  if (reason === undefined) return { ok: true };
  if (process.env.CI === 'true') throw new Error(`CI=true, and the Postfix peer cannot run: ${reason}`);
  console.warn(`Skipping the Postfix tests: ${reason}`);
  return { ok: false, reason };
}

/**
 * Installs Postfix and the SASL tools from Debian's packages when they are missing, without a prompt:
 * debconf is preseeded with "No configuration", so the package writes no system configuration to use.
 */
export function installPostfix(): void {
  if (installed()) return;
  // Test files run in parallel workers: one installs under the lock, the others find it installed.
  const script = [
    'set -e',
    `[ -x ${POSTFIX} ] && [ -x ${SASLPASSWD2} ] && ls /usr/lib/*/sasl2/libsasldb.so.2 >/dev/null 2>&1 && exit 0`,
    "echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections",
    'apt-get update -qq',
    `apt-get install -y -qq ${PACKAGES.join(' ')}`,
  ].join('\n');
  const result = spawnSync('flock', [join(tmpdir(), 'postroom-postfix-install.lock'), 'sh', '-c', script], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    encoding: 'utf8',
    timeout: 900_000,
  });
  if (result.status !== 0 || !installed())
    throw new Error(`installing ${PACKAGES.join(', ')} failed (${result.status}): ${result.stderr}`);
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

async function idOf(flag: '-u' | '-g', name: string): Promise<number> {
  return Number((await run('id', [flag, name])).stdout.trim());
}

/** One delivered mail, read back from its Maildir file and parsed by Python's email package (policy.strict). */
export interface DeliveredMail {
  readonly file: string;
  readonly raw: string;
  readonly defects: ReadonlyArray<string>;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly parts: ReadonlyArray<{
    contentType: string;
    filename: string | null;
    text?: string;
    size?: number;
  }>;
}

export interface PostfixOptions {
  /**
   * The SASL user may send only as addresses at its own domain (`@postroom.test`), as a relay that owns a
   * customer's domains allows: `smtpd_sender_login_maps` with `reject_sender_login_mismatch`, decided at
   * MAIL FROM (`smtpd_delay_reject = no`; Postfix's default waits until RCPT TO). Another sender gets
   * `553 5.7.1 <address>: Sender address rejected: not owned by user <login>`; a sender at
   * BUSY_SENDER_DOMAIN gets a temporary 451 (check_sender_access), as a relay whose lookup failed answers.
   * https://www.postfix.org/postconf.5.html#reject_sender_login_mismatch
   */
  readonly ownDomainSenderOnly?: boolean;
  /**
   * When ownDomainSenderOnly refuses a sender: at MAIL FROM (`smtpd_delay_reject = no`), or at each RCPT TO,
   * Postfix's default, where the refusal reaches the client as every recipient refused with a reply naming
   * the sender.
   * @default 'mail'
   */
  readonly senderCheckAt?: 'mail' | 'rcpt';
}

/** The domain of the SASL user, the only one it may send as under ownDomainSenderOnly. */
export const LOGIN_DOMAIN = 'postroom.test';
/** Under ownDomainSenderOnly, MAIL FROM an address at this domain answers 451. */
export const BUSY_SENDER_DOMAIN = 'busy.example';

export class PostfixPeer {
  readonly user = `relay-${randomUUID().slice(0, 8)}@${LOGIN_DOMAIN}`;
  readonly password = randomUUID();
  port = 0;
  dir = '';
  private readonly mailboxes = new Set<string>();
  private running = false;
  private starts = 0;

  constructor(private readonly options: PostfixOptions = {}) {}

  /** A new address with its own Maildir; call before start(). */
  mailbox(name = 'rcpt'): string {
    const address = `${name}-${randomUUID().slice(0, 8)}@${INBOX_DOMAIN}`;
    this.mailboxes.add(address);
    return address;
  }

  async start(): Promise<void> {
    installPostfix();
    this.dir = await mkdtemp(join(tmpdir(), 'postroom-postfix-'));
    this.port = await freePort();
    const dir = this.dir;
    // mkdtemp makes it 0700; Postfix's daemons run as the postfix user and must reach data/ and mail/.
    await chmod(dir, 0o755);
    const [uid, gid] = await Promise.all([idOf('-u', 'postfix'), idOf('-g', 'postfix')]);
    for (const sub of ['queue', 'data', 'mail', 'sasl', 'tls']) await mkdir(join(dir, sub));
    await run('openssl', [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=mx.postroom.test'],
      ...['-keyout', join(dir, 'tls/key.pem'), '-out', join(dir, 'tls/cert.pem')],
    ]);
    await chmod(join(dir, 'tls/key.pem'), 0o600);
    const [login, realm] = this.user.split('@') as [string, string];
    await new Promise<void>((resolve, reject) => {
      const child = execFile(
        SASLPASSWD2,
        ['-p', '-c', '-f', join(dir, 'sasl/sasldb2'), '-u', realm, login],
        (error) => (error ? reject(error) : resolve()),
      );
      child.stdin?.end(this.password);
    });
    await chown(join(dir, 'sasl/sasldb2'), uid, gid);
    await writeFile(
      join(dir, 'sasl/smtpd.conf'),
      `pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: ${join(dir, 'sasl/sasldb2')}\nmech_list: PLAIN LOGIN\n`,
    );
    // `later` has a Maildir too: once its 451 is lifted (acceptLater), mail for it is delivered.
    await writeFile(
      join(dir, 'vmailbox'),
      [...this.mailboxes, LATER_ADDRESS]
        .map((address) => `${address} ${INBOX_DOMAIN}/${address.split('@')[0]}/\n`)
        .join(''),
    );
    await this.writeRcptAccess(true);
    await writeFile(join(dir, 'sender_logins'), `@${LOGIN_DOMAIN} ${this.user}\n`);
    await writeFile(
      join(dir, 'sender_access'),
      `${BUSY_SENDER_DOMAIN} 451 4.3.0 sender lookup failed, try again later\n`,
    );
    await writeFile(join(dir, 'main.cf'), this.mainCf(uid, gid));
    await writeFile(join(dir, 'master.cf'), masterCf(this.port));
    await chown(join(dir, 'data'), uid, gid);
    await chown(join(dir, 'mail'), uid, gid);
    await this.postfix('start');
    this.running = true;
    await this.waitForStart();
  }

  /**
   * Changes main.cf settings and restarts, as an operator's change would: every session ends (a smtpd
   * process keeps the tables and settings it started with until its client leaves, so a reload would not do).
   */
  async configure(settings: Record<string, string>): Promise<void> {
    await run('postconf', ['-c', this.dir, '-e', ...Object.entries(settings).map(([k, v]) => `${k}=${v}`)]);
    await this.restart();
  }

  /** `later@` stops answering 451 at RCPT and is delivered to, after a restart. */
  async acceptLater(): Promise<void> {
    await this.writeRcptAccess(false);
    await this.restart();
  }

  private async writeRcptAccess(later: boolean): Promise<void> {
    // check_recipient_access answers for these before the mailbox lookup: a permanent and a temporary
    // refusal at RCPT, as a relay gives for an unknown user and a greylisted or over-quota one.
    await writeFile(
      join(this.dir, 'rcpt_access'),
      `${REFUSED_ADDRESS} 550 5.1.1 no such user here\n${later ? `${LATER_ADDRESS} 451 4.2.0 mailbox busy, try again later\n` : ''}`,
    );
  }

  private async restart(): Promise<void> {
    await this.postfix('stop');
    const status = () =>
      run(POSTFIX, ['-c', this.dir, 'status']).then(
        () => true,
        () => false,
      );
    while (await status()) await new Promise((resolve) => setTimeout(resolve, 50));
    // The queue exists and was checked at the first start: postfix-script skips its integrity checks (a few
    // seconds of find and chown) when it finds this file, and removes it.
    await writeFile(join(this.dir, 'queue', 'quick-start'), '');
    await this.postfix('start');
    await this.waitForStart();
  }

  private async waitForStart(): Promise<void> {
    const started = Date.now();
    // master binds the listening socket before `postfix start` returns; wait until it says so in the log.
    for (;;) {
      const text = await this.logText();
      if (text.split('daemon started').length > this.starts + 1) break;
      if (Date.now() - started > 10_000) throw new Error(`Postfix did not start: ${text}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    this.starts += 1;
  }

  async stop(): Promise<void> {
    if (this.running) await this.postfix('stop');
    this.running = false;
    if (this.dir !== '') await rm(this.dir, { recursive: true, force: true });
  }

  /** The SMTP transport configuration that relays through this instance with STARTTLS and AUTH. */
  transportConfig(overrides: Record<string, unknown> = {}) {
    return {
      kind: 'smtp',
      host: '127.0.0.1',
      port: this.port,
      requireTls: true,
      // The certificate is self-signed.
      tlsRejectUnauthorized: false,
      user: this.user,
      timeoutSeconds: 5,
      ...overrides,
    } as const;
  }

  /** Postfix's own log (maillog_file): connects, rejects, queue ids, deliveries, disconnect counters. */
  async logText(): Promise<string> {
    return readFile(join(this.dir, 'maillog'), 'utf8').catch(() => '');
  }

  /** Log lines that contain `text`. */
  async logLines(text: string): Promise<string[]> {
    return (await this.logText()).split('\n').filter((line) => line.includes(text));
  }

  /**
   * The mail delivered to `address` whose bytes contain `marker`, once there is any (or fails after
   * `timeoutMs`): the Maildir is polled, and Python parses only what was found.
   */
  async waitFor(address: string, marker: string, timeoutMs = 10_000): Promise<DeliveredMail[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const files = await this.maildirFiles(address);
      const matching: string[] = [];
      for (const file of files) if ((await readFile(file, 'utf8')).includes(marker)) matching.push(file);
      if (matching.length > 0) return this.parse(matching);
      if (Date.now() > deadline)
        throw new Error(`no mail for ${address} with ${marker} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** The mail delivered to `address`, oldest first, parsed with Python's email package under policy.strict. */
  async delivered(address: string): Promise<DeliveredMail[]> {
    return this.parse(await this.maildirFiles(address));
  }

  private async maildirFiles(address: string): Promise<string[]> {
    const folder = join(this.dir, 'mail', INBOX_DOMAIN, address.split('@')[0] ?? '', 'new');
    const names = (await readdir(folder).catch(() => [] as string[])).sort();
    return names.map((name) => join(folder, name));
  }

  private async parse(files: ReadonlyArray<string>): Promise<DeliveredMail[]> {
    if (files.length === 0) return [];
    const { stdout } = await run('python3', [READ_MAIL, ...files], { maxBuffer: 64 * 1024 * 1024 });
    const parsed = JSON.parse(stdout) as Array<Omit<DeliveredMail, 'file' | 'raw'> & { path: string }>;
    return Promise.all(
      parsed.map(async (mail) => ({
        file: mail.path,
        raw: await readFile(mail.path, 'utf8'),
        defects: mail.defects,
        headers: mail.headers,
        parts: mail.parts,
      })),
    );
  }

  private async postfix(command: 'start' | 'stop'): Promise<void> {
    try {
      await run(POSTFIX, ['-c', this.dir, command]);
    } catch (error) {
      // postfix(1) reports to its log, not to stderr, when stderr is no terminal.
      const log = (await this.logText()).split('\n').slice(-15).join('\n');
      throw new Error(`postfix ${command} failed: ${String(error)}\n${log}`);
    }
  }

  private mainCf(uid: number, gid: number): string {
    const dir = this.dir;
    return `# A private Postfix instance for Postroom's tests.
compatibility_level = 3.6
queue_directory = ${dir}/queue
data_directory = ${dir}/data
maillog_file = ${dir}/maillog
maillog_file_prefixes = ${dir}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.postroom.test
mydomain = postroom.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
mynetworks = 127.0.0.1/32
smtpd_banner = $myhostname ESMTP
# Nobody relays without AUTH, loopback included: no open relay even here.
smtpd_relay_restrictions = permit_sasl_authenticated, reject
smtpd_recipient_restrictions = check_recipient_access texthash:${dir}/rcpt_access, permit_sasl_authenticated, reject
virtual_mailbox_domains = ${INBOX_DOMAIN}
virtual_mailbox_base = ${dir}/mail
virtual_mailbox_maps = texthash:${dir}/vmailbox
virtual_uid_maps = static:${uid}
virtual_gid_maps = static:${gid}
smtpd_tls_cert_file = ${dir}/tls/cert.pem
smtpd_tls_key_file = ${dir}/tls/key.pem
smtpd_tls_security_level = may
smtpd_tls_auth_only = yes
smtpd_tls_loglevel = 1
smtpd_sasl_auth_enable = yes
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = ${dir}/sasl
smtpd_forbid_bare_newline = reject
smtpd_forbid_bare_newline_exclusions =
smtpd_forbid_unauth_pipelining = yes
strict_rfc821_envelopes = yes
message_size_limit = 10240000
${
  this.options.ownDomainSenderOnly
    ? `smtpd_sender_login_maps = texthash:${dir}/sender_logins
smtpd_sender_restrictions = check_sender_access texthash:${dir}/sender_access, reject_sender_login_mismatch
smtpd_delay_reject = ${this.options.senderCheckAt === 'rcpt' ? 'yes' : 'no'}
`
    : ''
}`;
  }
}

/** Only the services this instance uses, none chrooted (the queue folder holds no copy of /etc). */
function masterCf(port: number): string {
  return `127.0.0.1:${port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;
}

// ocf:ha-oscar:statesync — copies the active head's state directories (DHCP leases, TFTP
// root, exports configuration) to the standby head with rsync over the cluster network.
//
// Runs where the services run. start launches a small sync loop (this same file, in loop
// mode) that pushes every `interval` seconds; stop ends it and, with sync_on_stop, pushes
// once more. Transport: an rsync daemon on the peer (default; the password is read by rsync
// from `password_file`, never in argv, env or logs) or ssh with a key. Files land atomically:
// rsync writes each into a temporary file and, with --delay-updates, renames all of them into
// place at the end, so the standby sees a file's old version or its new one, never half.
import { defineAgent, p, fail, OCF, splitList, checkAbsolutePath, isIP } from '../src/ocf/agent';
import { parseParams, type Params } from '../src/ocf/params';
import { createLogger, oneLine, type Logger } from '../src/ocf/log';
import { startDaemon, stopDaemon, daemonState, sleep } from '../src/service/daemon';
import { writeFileAtomic } from '../src/service/atomic';
import { run, describeFailure, signalRunning, type RunResult } from '../src/service/run';
import { which } from '../src/service/which';
import { readFileSync, readdirSync, statSync, unlinkSync } from 'node:fs';
import { networkInterfaces, hostname } from 'node:os';
import { resolve } from 'node:path';
import { version } from '../package.json';

const HOST = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;
const MODULE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** "leases=/var/lib/dhcp" or "/var/lib/dhcp" (module "var-lib-dhcp"). */
function parseDir(item: string): { module: string; path: string } | undefined {
  const eq = item.indexOf('=');
  const module = eq > 0 ? item.slice(0, eq) : undefined;
  const path = (eq > 0 ? item.slice(eq + 1) : item).replace(/\/+$/, '') || '/';
  if (checkAbsolutePath(path) || path === '/' || !/^[A-Za-z0-9_.\/+@-]+$/.test(path)) return undefined;
  const m = module ?? path.split('/').filter(Boolean).join('-');
  return MODULE.test(m) ? { module: m, path } : undefined;
}

const params = {
  dirs: p.string({
    required: true,
    check: (s) => {
      const l = splitList(s);
      if (!l.length) return 'must list at least one directory';
      const bad = l.find((x) => !parseDir(x));
      return bad === undefined ? undefined : `must list absolute directories (optionally module=/dir), and ${JSON.stringify(bad.slice(0, 60))} is not one`;
    },
    shortdesc: 'State directories to copy to the standby',
    longdesc: 'Space- or comma-separated absolute directories, e.g. "/var/lib/dhcp /srv/tftp /etc/exports.d". With the rsync daemon transport each goes to the peer\'s module named after the path ("/var/lib/dhcp" -> "var-lib-dhcp"), or to the module given as "module=/dir".',
  }),
  peer: p.string({
    required: true,
    check: (s) => {
      const l = splitList(s);
      if (!l.length) return 'must name at least one head';
      const bad = l.find((h) => !isIP(h) && !HOST.test(h));
      return bad === undefined ? undefined : `must list host names or IPv4/IPv6 addresses, and ${JSON.stringify(bad.slice(0, 60))} is not one`;
    },
    shortdesc: 'The heads\' addresses on the cluster network (the local one is skipped)',
    longdesc: 'Space- or comma-separated addresses or names of the heads on the cluster network. The same value works on both heads: an address assigned to this host (or its host name) is skipped, and the state goes to the others.',
  }),
  interval: p.integer({ default: 30, min: 1, max: 86400, shortdesc: 'Seconds between two syncs (measured from the end of one to the start of the next)' }),
  sync_on_stop: p.boolean({ default: true, shortdesc: 'Push once more when the resource stops (a clean failover carries the newest state)' }),
  transport: p.select({ options: ['rsyncd', 'ssh'] as const, default: 'rsyncd', shortdesc: 'rsyncd: the peer runs an rsync daemon (password in a file); ssh: rsync over ssh with a key' }),
  user: p.string({ default: 'ha-oscar', pattern: /^[a-z_][a-z0-9_-]{0,31}$/, patternHint: 'a user name', shortdesc: 'rsyncd "auth users" name, or the ssh login' }),
  password_file: p.string({ check: checkAbsolutePath, shortdesc: 'rsyncd: file holding the password (mode 0600, root-owned)' }),
  ssh_key: p.string({ check: checkAbsolutePath, shortdesc: 'ssh: private key file (mode 0600)' }),
  known_hosts: p.string({ check: checkAbsolutePath, shortdesc: 'ssh: known_hosts file with the peer\'s host key (strict checking)' }),
  port: p.integer({ min: 1, max: 65535, shortdesc: 'Peer port (default 873 for rsyncd, 22 for ssh)' }),
  bwlimit: p.integer({ default: 0, min: 0, max: 10_000_000, shortdesc: 'KiB/s limit per transfer (0 = none): keeps the cluster network free for corosync' }),
  io_timeout: p.integer({ default: 30, min: 5, max: 3600, shortdesc: 'rsync I/O and connect timeout (s): a dead peer is given up after this' }),
};
type P = Params<typeof params>;

const files = (instanceId: string) => ({
  pidfile: `/run/ha-oscar/statesync-${instanceId}.pid`,
  status: `/run/ha-oscar/statesync-${instanceId}.status`,
  log: `/var/log/ha-oscar/statesync-${instanceId}.log`,
});
const instanceIdOf = (env: NodeJS.ProcessEnv) => (env.OCF_RESOURCE_INSTANCE || 'default').replace(/[^A-Za-z0-9_.-]/g, '-');

/** The peers to push to: the listed heads minus this host. */
function peers(list: string): string[] {
  const local = new Set<string>([hostname(), hostname().split('.')[0]!]);
  for (const addrs of Object.values(networkInterfaces())) for (const a of addrs ?? []) local.add(a.address);
  return splitList(list).filter((h) => !local.has(h));
}

/** rsync argv for one directory to one peer. Only file paths in it, never a secret. */
function rsyncArgs(ps: P, dir: { module: string; path: string }, peer: string): string[] {
  // --modify-window=-1: compare mtimes to the nanosecond. rsync's default quick check takes a
  // file of the same size and the same mtime SECOND for unchanged, so a lease file rewritten
  // with a same-length line within the second of the last sync never reached the standby.
  const a = ['-a', '--numeric-ids', '--modify-window=-1', '--delete-delay', '--delay-updates', '--fsync', `--timeout=${ps.io_timeout}`];
  if (ps.bwlimit > 0) a.push(`--bwlimit=${ps.bwlimit}`);
  const host = peer.includes(':') ? `[${peer}]` : peer;
  if (ps.transport === 'rsyncd') {
    a.push(`--contimeout=${ps.io_timeout}`, `--password-file=${ps.password_file}`, `${dir.path}/`, `rsync://${ps.user}@${host}:${ps.port ?? 873}/${dir.module}/`);
  } else {
    const ssh = ['ssh', '-i', ps.ssh_key!, '-p', String(ps.port ?? 22), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${ps.known_hosts}`, '-o', `ConnectTimeout=${ps.io_timeout}`];
    a.push('-e', ssh.join(' '), `${dir.path}/`, `${ps.user}@${host}:${dir.path}/`);
  }
  return a;
}

interface Status { lastAttempt?: number; lastOk?: number; ok?: boolean; reason?: string; ms?: number; syncs?: number }
const readStatus = (path: string): Status => { try { return JSON.parse(readFileSync(path, 'utf8')) as Status; } catch { return {}; } };

function isEmptyDir(path: string): boolean {
  try { return readdirSync(path).length === 0; } catch { return true; }
}

/** The telling line of a failed rsync: the daemon's "@ERROR: ..." or rsync's own complaint. */
function rsyncReason(r: RunResult): string {
  if (r.timedOut || r.spawnError) return describeFailure('rsync', r);
  const lines = `${r.stderr}\n${r.stdout}`.split('\n').map((l) => l.trim()).filter(Boolean);
  const told = lines.find((l) => l.startsWith('@ERROR')) ?? lines.find((l) => l.startsWith('rsync: ') && !l.startsWith('rsync: [sender]'));
  return told ? `rsync exit ${r.code}: ${told}` : describeFailure('rsync', r);
}

/** Push every directory to every peer once. rsync exit 24 (files vanished meanwhile) is fine. */
async function syncOnce(ps: P, rsync: string, timeoutMs: number): Promise<{ ok: boolean; reason: string; ms: number }> {
  const t0 = Date.now();
  const reasons: string[] = [];
  const targets = peers(ps.peer);
  if (!targets.length) return { ok: false, reason: 'no peer: every address in "peer" is local', ms: 0 };
  for (const peer of targets) {
    for (const d of splitList(ps.dirs).map((x) => parseDir(x)!)) {
      // An empty source (a file system that failed to mount, a wiped directory) is never
      // mirrored: --delete would empty the standby's good copy too.
      if (isEmptyDir(d.path)) { reasons.push(`${d.path} is empty or missing on this head: not mirrored over the standby's copy`); continue; }
      const left = timeoutMs - (Date.now() - t0);
      if (left < 500) { reasons.push(`${d.path} -> ${peer}: no time left`); continue; }
      const r = await run(rsync, rsyncArgs(ps, d, peer), { timeoutMs: left, cleanEnv: true, env: { LC_ALL: 'C' } });
      if (r.code !== 0 && r.code !== 24) reasons.push(`${d.path} -> ${peer}: ${rsyncReason(r)}`);
    }
  }
  return { ok: reasons.length === 0, reason: oneLine(reasons.join('; '), 600), ms: Date.now() - t0 };
}

function checkSecretFile(path: string | undefined, what: string): void {
  if (!path) fail(OCF.ERR_CONFIGURED, `${what} is required`);
  let st;
  try { st = statSync(path); } catch (e) { fail(OCF.ERR_CONFIGURED, `${what} ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? e}`); }
  if (!st.isFile()) fail(OCF.ERR_CONFIGURED, `${what} ${path} is not a file`);
  if (st.mode & 0o077) fail(OCF.ERR_CONFIGURED, `${what} ${path} must not be readable by group or others (chmod 600)`);
}

// ---- the sync loop (a detached child of start) -----------------------------------------

async function loop(): Promise<void> {
  const env = process.env;
  const log: Logger = createLogger({ OCF_RESOURCE_TYPE: 'statesync', ...env });
  let ps: P;
  try { ps = parseParams(params, env).values; } catch (e) { log.err(`sync loop: ${(e as Error).message}`); process.exit(OCF.ERR_CONFIGURED); }
  const f = files(instanceIdOf(env));
  const rsync = which('rsync', env);
  if (!rsync) { log.err('sync loop: rsync is not installed'); process.exit(OCF.ERR_INSTALLED); }
  let stopping = false;
  let wake: (() => void) | undefined;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    // a running rsync (its own process group, as run() starts every command) ends with us
    // and removes its temporary files; nothing half-written ever has a real name
    signalRunning('SIGTERM');
    wake?.();
  });
  const st: Status = readStatus(f.status);
  let lastReason = '';
  while (!stopping) {
    const r = await syncOnce(ps, rsync, Math.max(60_000, ps.interval * 10_000));
    if (stopping) break;
    st.lastAttempt = Date.now();
    st.ok = r.ok;
    st.ms = r.ms;
    st.reason = r.reason;
    if (r.ok) { st.lastOk = st.lastAttempt; st.syncs = (st.syncs ?? 0) + 1; }
    writeFileAtomic(f.status, `${JSON.stringify(st)}\n`, { mkdir: true });
    if (!r.ok && r.reason !== lastReason) log.warn(`sync failed: ${r.reason}`);
    if (r.ok && lastReason) log.info(`sync works again (${r.ms} ms)`);
    lastReason = r.ok ? '' : r.reason;
    await new Promise<void>((res) => { const t = setTimeout(res, ps.interval * 1000); wake = () => { clearTimeout(t); res(); }; });
  }
  process.exit(0);
}

// ---- the agent -----------------------------------------------------------------------------

const agent = defineAgent({
  name: 'statesync',
  version,
  shortdesc: 'Copies state directories to the standby head with rsync',
  longdesc: 'Runs with the services on the active head. Pushes the declared state directories (DHCP leases, TFTP root, exports configuration) to the other head(s) with rsync every "interval" seconds, and once more at stop (sync_on_stop). Authentication: an rsync daemon on the peer with a secrets file (the password is read by rsync from password_file, never in argv or logs), or ssh with a key and strict host-key checking. Each file is replaced atomically (temporary file + rename, all renamed at the end with --delay-updates, fsync\'d), so the standby never sees a half-copied file.',
  params,
  needsRoot: true,
  binaries: (ps) => (ps.transport === 'ssh' ? ['rsync', 'ssh'] : ['rsync']),
  timeouts: { start: 20, stop: 120, monitor: 20 },
  monitors: [{ depth: 0, interval: 30 }],
  // what the level-0 monitor looks at (src/ocf/fastpath.ts: a sh fast path answers it)
  processes: (c) => [{ pidfile: files(c.instanceId).pidfile, exe: process.execPath }],

  validate(c) {
    if (c.params.transport === 'rsyncd') checkSecretFile(c.params.password_file, 'password_file');
    else {
      checkSecretFile(c.params.ssh_key, 'ssh_key');
      if (!c.params.known_hosts) fail(OCF.ERR_CONFIGURED, 'known_hosts is required with transport=ssh (the peer\'s host key is checked)');
    }
    for (const d of splitList(c.params.dirs).map((x) => parseDir(x)!)) {
      let isDir = false;
      try { isDir = statSync(d.path).isDirectory(); } catch { /* missing */ }
      if (!isDir) fail(OCF.ERR_CONFIGURED, `state directory ${d.path} does not exist on this head`);
    }
  },

  async start(c) {
    const f = files(c.instanceId);
    const node = process.execPath;
    if (daemonState(f.pidfile, node).state === 'running') return OCF.SUCCESS;
    try {
      const pid = await startDaemon(
        { argv: [node, resolve(process.argv[1]!)], pidfile: f.pidfile, logfile: f.log, env: { HA_OSCAR_STATESYNC_LOOP: '1' } },
        { timeoutMs: Math.max(1000, c.remaining() - 500), ready: async () => { await sleep(200); return true; } },
      );
      c.log.info(`sync loop started (pid ${pid}): ${splitList(c.params.dirs).join(' ')} -> ${peers(c.params.peer).join(' ') || '(no peer)'} every ${c.params.interval}s`);
    } catch (e) {
      fail(OCF.ERR_GENERIC, `start failed: ${(e as Error).message}`);
    }
  },

  async stop(c) {
    const f = files(c.instanceId);
    const node = process.execPath;
    const wasRunning = daemonState(f.pidfile, node).state === 'running';
    await stopDaemon(f.pidfile, node, Math.min(15_000, c.remaining() / 3));
    // Only the head that was syncing pushes at stop: a stop elsewhere (cleanup, probe
    // failure) must never overwrite the standby's copy with this head's older state.
    if (wasRunning && c.params.sync_on_stop) {
      const rsync = which('rsync', c.env);
      const r = rsync ? await syncOnce(c.params, rsync, c.remaining() - 1000) : { ok: false, reason: 'rsync is not installed', ms: 0 };
      if (r.ok) c.log.info(`final sync done in ${r.ms} ms`);
      else c.log.warn(`final sync failed (the standby keeps the previous sync): ${r.reason}`);
    }
    try { unlinkSync(f.status); } catch { /* gone */ }
  },

  async monitor(c) {
    const f = files(c.instanceId);
    const st = daemonState(f.pidfile, process.execPath);
    if (st.state === 'stopped') {
      if (st.stalePidfile && !c.isProbe) fail(OCF.ERR_GENERIC, 'the sync loop died');
      return OCF.NOT_RUNNING;
    }
    // A standby that is down or unreachable is normal: the loop logs it, the monitor does not
    // fail (that would restart the resource, or move the services, for the peer's sake).
    return OCF.SUCCESS;
  },
});

if (process.env.HA_OSCAR_STATESYNC_LOOP === '1') {
  loop().catch((e: unknown) => { process.stderr.write(`statesync loop: ${oneLine(e instanceof Error ? e.message : String(e))}\n`); process.exit(1); });
} else {
  agent.main();
}

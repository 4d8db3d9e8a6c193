// ocf:ha-oscar:statesync for real: an rsync daemon in one namespace of ours (the standby),
// the agent in another (the active head), a veth between them on 192.0.2.0/24 and 2001:db8:20::/64.
// Includes 20 SIGKILLs of the whole sending side (agent loop + rsync, and the receiving rsync)
// at random points of a sync: every file on the receiver must equal a complete sender version.
import { it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { spawnSync } from '../helpers/sync';
import { mkdirSync, writeFileSync, readFileSync, rmSync, chmodSync, readdirSync, renameSync, existsSync, statSync, utimesSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { distOcf, tempDir } from '../helpers/agents';
import { describeWith } from '../helpers/prereq';

const agent = join(distOcf, 'statesync');
const tag = `${process.pid % 100000}`;
const nsA = `dv10ssA${tag}`; // the active head: runs the agent
const nsB = `dv10ssB${tag}`; // the standby: runs the rsync daemon
const PORT = '8873';
const PASSWORD = `dv10-s3cret-${randomBytes(6).toString('hex')}`;
let dir: string;
let daemon: ChildProcess | undefined;
const inst = (n: string) => `dv10-statesync-${n}-${tag}`;

const ip = (...args: string[]) => {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
};
const sh = (ms: number) => spawnSync('sleep', [String(ms / 1000)]);
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

function runA(action: string, params: Record<string, string>, instance: string, extra: Record<string, string> = {}) {
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', OCF_ROOT: '/usr/lib/ocf',
    OCF_RESOURCE_INSTANCE: instance, OCF_RESKEY_CRM_meta_timeout: '60000', OCF_RESKEY_CRM_meta_interval: '30000', ...extra,
  };
  for (const [k, v] of Object.entries(params)) env[`OCF_RESKEY_${k}`] = v;
  const r = spawnSync('ip', ['netns', 'exec', nsA, agent, action], { env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stderr: r.stderr ?? '' };
}

const src = (n: string) => join(dir, 'src', n);
const dst = (n: string) => join(dir, 'dst', n);
const base = (over: Record<string, string> = {}) => ({
  dirs: `leases=${src('leases')} tftp=${src('tftp')}`, peer: '192.0.2.1 192.0.2.2', port: PORT,
  password_file: join(dir, 'client.pass'), interval: '1', io_timeout: '5', ...over,
});
const pidOf = (instance: string) => Number(readFileSync(`/run/ha-oscar/statesync-${instance}.pid`, 'utf8').trim());
const statusOf = (instance: string) => { try { return JSON.parse(readFileSync(`/run/ha-oscar/statesync-${instance}.status`, 'utf8')) as { syncs?: number; ok?: boolean; reason?: string }; } catch { return {}; } };
function waitFor(cond: () => boolean, ms: number): boolean {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) { if (cond()) return true; sh(100); }
  return cond();
}
/**
 * Rewrite a file with content of the same length and an mtime in the same whole second as
 * before (other nanoseconds): what dhcpd does when it rewrites a lease within a second of the
 * last sync. rsync's default quick check (size + mtime seconds) takes it for unchanged.
 */
function rewriteSameSecond(path: string, content: string): void {
  const before = statSync(path).mtimeMs / 1000;
  expect(Buffer.byteLength(content)).toBe(statSync(path).size);
  writeFileSync(path, content);
  const sec = Math.floor(before);
  const t = sec + (before - sec < 0.5 ? 0.75 : 0.25);
  utimesSync(path, t, t);
}
const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : undefined);
/** A process and all its descendants (the sync loop and its rsync, which run() starts in a group of its own). */
function group(pid: number): number[] {
  const out: number[] = [];
  const todo = [pid];
  while (todo.length) {
    const p = todo.pop()!;
    try { readFileSync(`/proc/${p}/stat`, 'utf8'); } catch { continue; }
    out.push(p);
    todo.push(...children(p));
  }
  return out;
}
/** Children of a process (the daemon's per-connection rsync). */
function children(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]) === pid) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

describeWith({ bins: ['ip', 'rsync', 'ocf-tester', 'xmllint'], root: true, packages: ['iproute2', 'rsync', 'resource-agents', 'libxml2-utils'] }, 'ocf:ha-oscar:statesync between two namespaces', () => {
  beforeAll(() => {
    dir = tempDir('dv10-statesync');
    for (const d of ['src/leases', 'src/tftp', 'src/big', 'dst/leases', 'dst/tftp', 'dst/big']) mkdirSync(join(dir, d), { recursive: true });
    writeFileSync(join(dir, 'client.pass'), `${PASSWORD}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'rsyncd.secrets'), `ha-oscar:${PASSWORD}\n`, { mode: 0o600 });
    const mod = (name: string) => [`[${name}]`, `  path = ${dst(name)}`, '  read only = false', '  uid = root', '  gid = root',
      '  auth users = ha-oscar', `  secrets file = ${join(dir, 'rsyncd.secrets')}`, '  hosts allow = 192.0.2.0/24 2001:db8:20::/64'].join('\n');
    writeFileSync(join(dir, 'rsyncd.conf'), ['use chroot = yes', `log file = ${join(dir, 'rsyncd.log')}`, mod('leases'), mod('tftp'), mod('big'), ''].join('\n'));
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    ip('-n', nsA, 'link', 'add', 'd10sa', 'type', 'veth', 'peer', 'name', 'd10sb', 'netns', nsB);
    for (const ns of [nsA, nsB]) ip('-n', ns, 'link', 'set', 'lo', 'up');
    ip('-n', nsA, 'addr', 'add', '192.0.2.1/24', 'dev', 'd10sa');
    ip('-n', nsB, 'addr', 'add', '192.0.2.2/24', 'dev', 'd10sb');
    ip('-n', nsA, 'addr', 'add', '2001:db8:20::1/64', 'dev', 'd10sa', 'nodad');
    ip('-n', nsB, 'addr', 'add', '2001:db8:20::2/64', 'dev', 'd10sb', 'nodad');
    ip('-n', nsA, 'link', 'set', 'd10sa', 'up');
    ip('-n', nsB, 'link', 'set', 'd10sb', 'up');
    // ip netns exec execs rsync: the child's PID is the daemon's (torn down by that PID)
    daemon = spawn('ip', ['netns', 'exec', nsB, 'rsync', '--daemon', '--no-detach', `--config=${join(dir, 'rsyncd.conf')}`, `--port=${PORT}`], { stdio: 'ignore' });
    sh(500);
  });
  afterAll(() => {
    for (const n of ['ocft', 'main', 'v6', 'stop', 'kill', 'pw', 'ssh', 'empty']) runA('stop', { ...base(), sync_on_stop: 'false' }, inst(n));
    if (daemon?.pid) { try { process.kill(daemon.pid, 'SIGTERM'); } catch { /* gone */ } }
    sh(300);
    // rsyncd's per-connection children outlive a SIGTERM to the daemon and may still write into
    // dir (a CI run failed on ENOTEMPTY here): every process left in the namespaces goes, by PID
    for (const ns of [nsA, nsB]) {
      for (const pid of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
        try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      }
    }
    sh(200);
    spawnSync('ip', ['netns', 'del', nsA]);
    spawnSync('ip', ['netns', 'del', nsB]);
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    for (const n of ['ocft', 'main', 'v6', 'stop', 'kill', 'pw', 'ssh', 'empty']) rmSync(`/var/log/ha-oscar/statesync-${inst(n)}.log`, { force: true });
  });

  it('passes ocf-tester (inside the active namespace, pushing to the rsync daemon)', () => {
    const args = ['netns', 'exec', nsA, 'ocf-tester', '-n', inst('ocft')];
    for (const [k, v] of Object.entries(base())) args.push('-o', `${k}=${v}`);
    const r = spawnSync('ip', [...args, agent], { encoding: 'utf8', timeout: 240_000 });
    expect(r.stdout + r.stderr).toContain('passed all tests');
    expect(r.status).toBe(0);
  }, 260_000); // ocf-tester runs ~20 actions on a loaded box (the spawnSync allows 240 s)

  it('start pushes every interval: new files, changes and deletions arrive; the password is in no argv or log', () => {
    writeFileSync(src('leases/dhcpd.leases'), 'lease 192.0.2.50 { starts 1; }\n');
    mkdirSync(src('tftp/pxelinux.cfg'), { recursive: true });
    writeFileSync(src('tftp/pxelinux.cfg/default'), 'DEFAULT linux\n');
    const I = inst('main');
    expect(runA('monitor', base(), I, { OCF_RESKEY_CRM_meta_interval: '0' }).code).toBe(7);
    const t0 = Date.now();
    expect(runA('start', base(), I).code).toBe(0);
    expect(waitFor(() => read(dst('leases/dhcpd.leases')) === 'lease 192.0.2.50 { starts 1; }\n' && read(dst('tftp/pxelinux.cfg/default')) !== undefined, 20_000)).toBe(true);
    const firstMs = Date.now() - t0;
    expect(read(dst('tftp/pxelinux.cfg/default'))).toBe('DEFAULT linux\n');
    expect(runA('monitor', base(), I).code).toBe(0);
    rewriteSameSecond(src('leases/dhcpd.leases'), 'lease 192.0.2.51 { starts 2; }\n');
    rmSync(src('tftp/pxelinux.cfg/default'));
    expect(waitFor(() => read(dst('leases/dhcpd.leases')) === 'lease 192.0.2.51 { starts 2; }\n' && !existsSync(dst('tftp/pxelinux.cfg/default')), 20_000)).toBe(true);
    // no secret anywhere a user could see it: argv of the loop and of rsync, the agent's log
    const cmdlines = group(pidOf(I)).map((p) => { try { return readFileSync(`/proc/${p}/cmdline`, 'utf8'); } catch { return ''; } });
    expect(cmdlines.join(' ')).not.toContain(PASSWORD);
    expect(readFileSync(`/var/log/ha-oscar/statesync-${I}.log`, 'utf8')).not.toContain(PASSWORD);
    expect(statusOf(I).ok).toBe(true);
    expect(runA('stop', base(), I).code).toBe(0);
    expect(runA('monitor', base(), I).code).toBe(7);
    console.log(`statesync: first sync visible on the standby ${firstMs} ms after start`);
  });

  it('pushes over IPv6 too', () => {
    writeFileSync(src('leases/v6.leases'), 'ia-na 2001:db8:20::50\n');
    const I = inst('v6');
    expect(runA('start', base({ peer: '2001:db8:20::1 2001:db8:20::2' }), I).code).toBe(0);
    expect(waitFor(() => read(dst('leases/v6.leases')) === 'ia-na 2001:db8:20::50\n', 20_000)).toBe(true);
    expect(runA('stop', base({ peer: '2001:db8:20::1 2001:db8:20::2' }), I).code).toBe(0);
  });

  it('sync_on_stop carries the last change at stop; a stop where it was not running pushes nothing', () => {
    const I = inst('stop');
    const p = base({ interval: '3600' });
    expect(runA('start', p, I).code).toBe(0);
    expect(waitFor(() => (statusOf(I).syncs ?? 0) >= 1, 20_000)).toBe(true);
    rewriteSameSecond(src('leases/dhcpd.leases'), 'lease 192.0.2.52 { starts 3; }\n');
    expect(read(dst('leases/dhcpd.leases'))).not.toBe('lease 192.0.2.52 { starts 3; }\n');
    expect(runA('stop', p, I).code).toBe(0);
    expect(read(dst('leases/dhcpd.leases'))).toBe('lease 192.0.2.52 { starts 3; }\n');
    writeFileSync(src('leases/dhcpd.leases'), 'lease 192.0.2.53 { starts 4; }\n');
    expect(runA('stop', p, I).code).toBe(0); // not running: must not push
    expect(read(dst('leases/dhcpd.leases'))).toBe('lease 192.0.2.52 { starts 3; }\n');
  });

  it('an empty source directory is not mirrored over the standby\'s copy', () => {
    const I = inst('empty');
    mkdirSync(src('empty'), { recursive: true });
    mkdirSync(dst('leases'), { recursive: true });
    writeFileSync(dst('leases/keep.leases'), 'standby copy\n');
    const p = base({ dirs: `leases=${src('empty')}`, sync_on_stop: 'false' });
    expect(runA('start', p, I).code).toBe(0);
    expect(waitFor(() => statusOf(I).ok === false, 20_000)).toBe(true);
    expect(statusOf(I).reason).toMatch(/empty or missing on this head: not mirrored/);
    expect(read(dst('leases/keep.leases'))).toBe('standby copy\n');
    expect(runA('stop', p, I).code).toBe(0);
    rmSync(dst('leases/keep.leases'));
  });

  it('a wrong password: monitor stays 0 (the loop reports it), nothing lands, the password is not logged', () => {
    const I = inst('pw');
    writeFileSync(join(dir, 'wrong.pass'), 'not-the-password\n', { mode: 0o600 });
    writeFileSync(src('leases/pw.leases'), 'x\n');
    const p = base({ password_file: join(dir, 'wrong.pass') });
    expect(runA('start', p, I).code).toBe(0);
    expect(waitFor(() => statusOf(I).ok === false, 20_000)).toBe(true);
    expect(statusOf(I).reason).toMatch(/rsync exit 5: @ERROR: auth failed on module leases/);
    expect(runA('monitor', p, I).code).toBe(0);
    expect(existsSync(dst('leases/pw.leases'))).toBe(false);
    expect(runA('stop', { ...p, sync_on_stop: 'false' }, I).code).toBe(0);
    const log = readFileSync(`/var/log/ha-oscar/statesync-${I}.log`, 'utf8');
    expect(log).toMatch(/WARNING: sync failed: .*auth failed/);
    expect(log).not.toContain('not-the-password');
  });

  it('transport=ssh: rsync runs ssh with the key, batch mode and strict host-key checking against known_hosts', () => {
    const I = inst('ssh');
    const bin = join(dir, 'fakebin');
    mkdirSync(bin, { recursive: true });
    // a stand-in ssh that records how it was called and refuses, as a peer without our key would
    writeFileSync(join(bin, 'ssh'), `#!/usr/bin/env node\nrequire('fs').writeFileSync(${JSON.stringify(join(dir, 'ssh-argv.json'))}, JSON.stringify(process.argv.slice(2)));\nconsole.error('root@192.0.2.2: Permission denied (publickey).');\nprocess.exit(255);\n`);
    chmodSync(join(bin, 'ssh'), 0o755);
    writeFileSync(join(dir, 'id_ed25519'), 'not a real key\n', { mode: 0o600 });
    const p = base({ transport: 'ssh', user: 'root', ssh_key: join(dir, 'id_ed25519'), known_hosts: join(dir, 'known_hosts'), dirs: src('leases'), sync_on_stop: 'false' });
    delete (p as Record<string, string>).port;
    const env = { PATH: `${bin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin` };
    expect(runA('start', p, I, env).code).toBe(0);
    expect(waitFor(() => statusOf(I).ok === false, 20_000)).toBe(true);
    expect(statusOf(I).reason).toMatch(/Permission denied \(publickey\)|connection unexpectedly closed/);
    const argv = JSON.parse(readFileSync(join(dir, 'ssh-argv.json'), 'utf8')) as string[];
    expect(argv.slice(0, 12)).toEqual(['-i', join(dir, 'id_ed25519'), '-p', '22', '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=yes',
      '-o', `UserKnownHostsFile=${join(dir, 'known_hosts')}`, '-o', 'ConnectTimeout=5']);
    expect(argv).toContain('root');
    expect(argv).toContain('192.0.2.2');
    expect(argv.join(' ')).toMatch(/rsync --server .*--delay-updates.* \. \/.*\/src\/leases\/$/);
    expect(runA('stop', p, I, env).code).toBe(0);
  });

  it('bad input: a group-readable password file, a missing directory, ssh without known_hosts: 6 with a reason', () => {
    writeFileSync(join(dir, 'open.pass'), 'x\n', { mode: 0o644 });
    chmodSync(join(dir, 'open.pass'), 0o644);
    let r = runA('validate-all', base({ password_file: join(dir, 'open.pass') }), inst('v'));
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/ocf-exit-reason:password_file .* must not be readable by group or others/);
    r = runA('validate-all', base({ dirs: join(dir, 'nope') }), inst('v'));
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/ocf-exit-reason:state directory .*nope does not exist on this head/);
    r = runA('validate-all', base({ transport: 'ssh', ssh_key: join(dir, 'client.pass') }), inst('v'));
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/known_hosts is required/);
  });

  it('20 SIGKILLs of both sides at random points of a sync: every file on the standby is one complete sender version', () => {
    const I = inst('kill');
    const N = 12;
    const versions = new Map<string, Set<string>>();
    let v = 0;
    /** A new version of every file, each written on the sender by rename (as dhcpd/kea rewrite theirs). */
    const bump = () => {
      v++;
      for (let i = 0; i < N; i++) {
        const name = `f${i}.dat`;
        const data = Buffer.concat([Buffer.from(`file ${i} version ${v}\n`), randomBytes(96 * 1024 + ((i * 7919 + v * 104729) % (160 * 1024)))]);
        writeFileSync(join(src('big'), `.${name}.new`), data);
        renameSync(join(src('big'), `.${name}.new`), join(src('big'), name));
        if (!versions.has(name)) versions.set(name, new Set());
        versions.get(name)!.add(sha(data));
      }
    };
    const p = base({ dirs: `big=${src('big')}`, bwlimit: '1000', interval: '1', sync_on_stop: 'false' });
    let mixed = 0; let untouched = 0; let complete = 0; let duringRsync = 0;
    const rnd = () => Math.floor(Math.random() * 4000);
    const isRsync = (q: number) => { try { return readFileSync(`/proc/${q}/cmdline`, 'utf8').split('\0')[0]!.endsWith('rsync'); } catch { return false; } };
    for (let k = 0; k < 20; k++) {
      bump();
      expect(runA('start', p, I).code).toBe(0);
      const pid = pidOf(I);
      sh(rnd());
      // power-off: the whole active side at once, and the standby's connection process too
      if (group(pid).some(isRsync)) duringRsync++;
      for (const q of group(pid)) { try { process.kill(q, 'SIGKILL'); } catch { /* gone */ } }
      if (daemon?.pid) for (const q of children(daemon.pid)) { try { process.kill(q, 'SIGKILL'); } catch { /* gone */ } }
      waitFor(() => group(pid).length === 0, 5000);
      // the check: every visible file is a complete version the sender had
      const seen = readdirSync(dst('big')).filter((f) => !f.startsWith('.'));
      let latest = 0;
      for (const f of seen) {
        const h = sha(readFileSync(join(dst('big'), f)));
        expect(versions.get(f)?.has(h), `${f} on the standby after kill ${k + 1} is not a complete sender version`).toBe(true);
        const cur = sha(readFileSync(join(src('big'), f)));
        if (h === cur) latest++;
      }
      if (latest === 0) untouched++; else if (latest === N) complete++; else mixed++;
    }
    console.log(`statesync kill test: 20 kills: ${untouched} before any file was replaced, ${mixed} mid-sync (some files new, some old), ${complete} after a full sync; ${duringRsync} kills hit a running rsync`);
    expect(duringRsync).toBeGreaterThanOrEqual(5); // the kills did land inside syncs
    // the stale pidfile of a killed loop: a probe says "not running", start recovers, the next sync completes
    expect(runA('monitor', p, I, { OCF_RESKEY_CRM_meta_interval: '0' }).code).toBe(7);
    expect(runA('monitor', p, I).code).toBe(1);
    expect(runA('start', { ...p, bwlimit: '0' }, I).code).toBe(0);
    expect(waitFor(() => readdirSync(src('big')).every((f) => f.startsWith('.') || (existsSync(dst(`big/${f}`)) && sha(readFileSync(dst(`big/${f}`))) === sha(readFileSync(src(`big/${f}`))))), 30_000)).toBe(true);
    expect(runA('stop', p, I).code).toBe(0);
    expect(statSync(dst('big')).isDirectory()).toBe(true);
  }, 900_000);
});

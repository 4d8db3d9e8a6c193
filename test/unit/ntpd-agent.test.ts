// ocf:ha-oscar:ntpd with chrony, for real: chronyd (always -x: the host clock is never touched)
// on 127.0.0.1 and ::1 at a high port, driven through dist/ocf/ntpd, queried with real NTP
// packets; an "upstream" chronyd of our own on loopback for the level-20 tests.
import { it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { spawnSync } from '../helpers/sync';
import { existsSync, readFileSync, writeFileSync, statSync, rmSync, mkdirSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { distOcf, runAgent, tempDir } from '../helpers/agents';
import { describeWith } from '../helpers/prereq';
import { ntpQuery } from '../../src/probe/ntp';

const agent = join(distOcf, 'ntpd');
let dir: string;
let port = 0;
let upPort = 0;
const base = () => ({
  listen: '127.0.0.1 ::1', port: String(port), clock_control: 'false', local_stratum: '10',
  state_dir: join(dir, 'state'), pidfile: join(dir, 'ntpd.pid'),
});
const monitor = (level: number) => ({ OCF_CHECK_LEVEL: String(level), OCF_RESKEY_CRM_meta_interval: '30000' });
const pidOf = (file = join(dir, 'ntpd.pid')) => Number(readFileSync(file, 'utf8').trim());
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Instances started by a test, stopped in afterAll whatever happens. */
const started: Record<string, string>[] = [];
/** The upstream chronyd of our own (recorded PID). */
let upstream: ChildProcess | undefined;

function startUpstream(stratum: number): void {
  const d = join(dir, 'upstream');
  mkdirSync(d, { recursive: true });
  const conf = join(d, 'chrony.conf');
  writeFileSync(conf, [
    `port ${upPort}`, 'bindaddress 127.0.0.1', 'bindaddress ::1', 'allow 127.0.0.1', 'allow ::1',
    `local stratum ${stratum}`, 'cmdport 0', `bindcmdaddress ${d}/sock/chronyd.sock`, `pidfile ${d}/sock/chronyd.pid`, '',
  ].join('\n'));
  upstream = spawn('/usr/sbin/chronyd', ['-d', '-x', '-f', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
}
async function stopUpstream(): Promise<void> {
  const u = upstream;
  upstream = undefined;
  if (!u?.pid || u.exitCode !== null || u.signalCode !== null) return;
  const gone = new Promise((r) => u.once('exit', r));
  try { process.kill(u.pid, 'SIGTERM'); } catch { return; }
  await Promise.race([gone, sleep(5000)]);
}

async function until(what: string, fn: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!(await fn())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(200);
  }
}

beforeAll(() => {
  dir = tempDir('dv6-ntpd');
  chmodSync(dir, 0o755); // chronyd drops root: its user must reach the state dir
  port = 20000 + Math.floor(Math.random() * 20000);
  upPort = port + 1;
});
afterAll(async () => {
  await stopUpstream();
  for (const p of [base(), ...started]) runAgent(agent, 'stop', p);
  rmSync(dir, { recursive: true, force: true });
});

describeWith({ bins: ['chronyd', 'chronyc', 'ocf-tester', 'xmllint'], root: true, packages: ['chrony', 'resource-agents', 'libxml2-utils'] }, 'ocf:ha-oscar:ntpd (chrony)', () => {
  it('passes ocf-tester with chronyd on 127.0.0.1 and ::1 (high port, clock_control=false, local stratum)', () => {
    const args = ['-n', 'dv6-ntpd-test'];
    for (const [k, v] of Object.entries({ ...base(), state_dir: join(dir, 'ocft'), pidfile: join(dir, 'ocft.pid') })) args.push('-o', `${k}=${v}`);
    const r = spawnSync('ocf-tester', [...args, agent], { encoding: 'utf8', timeout: 180_000 });
    expect(r.stdout + r.stderr).toContain('passed all tests');
    expect(r.status).toBe(0);
  }, 200_000); // ocf-tester runs ~20 actions: 20-70 s on a loaded box

  it('start serves NTP on both families; level 10 queries each address; level 20 sees the local reference', async () => {
    const s = runAgent(agent, 'start', base());
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).toMatch(/started chronyd \(pid \d+\) answering NTP on 127\.0\.0\.1 ::1 after \d+ ms/);
    for (const host of ['127.0.0.1', '::1']) {
      const r = await ntpQuery(host, port, { timeoutMs: 2000 });
      expect(r.error).toBeUndefined();
      expect(r.reply).toMatchObject({ stratum: 10, leap: 0, refId: '127.127.1.1' }); // LOCAL
    }
    expect(runAgent(agent, 'monitor', base(), monitor(10)).code).toBe(0);
    expect(runAgent(agent, 'monitor', base(), monitor(20)).code).toBe(0);
    // the generated config: mode 0644, this instance's socket, -x on the command line
    const conf = join(dir, 'state', 'chrony.conf');
    expect(statSync(conf).mode & 0o777).toBe(0o644);
    const text = readFileSync(conf, 'utf8');
    expect(text).toContain(`port ${port}\nbindaddress 127.0.0.1\nbindaddress ::1\n`);
    expect(text).toContain('local stratum 10 orphan');
    expect(text).toContain(`bindcmdaddress ${join(dir, 'state', 'chrony', 'chronyd.sock')}`);
    expect(text).toContain('cmdport 0');
    expect(text).not.toMatch(/makestep|rtcsync/);
    const argv = readFileSync(`/proc/${pidOf()}/cmdline`, 'utf8').split('\0');
    expect(argv).toContain('-x');
    // chronyc talks to THIS instance through its socket
    const t = spawnSync('chronyc', ['-h', join(dir, 'state', 'chrony', 'chronyd.sock'), '-n', '-c', 'tracking'], { encoding: 'utf8' });
    expect(t.stdout).toMatch(/^7F7F0101,,10,/);
    // a host outside "allow" is refused: only loopback and the listen addresses are allowed
    expect(text).not.toMatch(/allow (0\.0\.0\.0|::)\//);
  });

  it('a hung chronyd (SIGSTOP) passes level 0 but fails level 10 with a reason naming the address', () => {
    const pid = pidOf();
    process.kill(pid, 'SIGSTOP');
    try {
      expect(runAgent(agent, 'monitor', base(), { OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(0);
      const r = runAgent(agent, 'monitor', base(), monitor(10));
      expect(r.code).toBe(1);
      expect(r.reasons[0]).toMatch(new RegExp(`^NTP query to (127\\.0\\.0\\.1|\\[::1\\]):${port} failed: no reply within \\d+ ms`));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(runAgent(agent, 'monitor', base(), monitor(10)).code).toBe(0);
  });

  it('a crashed chronyd is "not running" (7); stop succeeds; start recovers', () => {
    const pid = pidOf();
    process.kill(pid, 'SIGKILL');
    spawnSync('sleep', ['0.3']);
    expect(runAgent(agent, 'monitor', base(), { OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(7);
    expect(runAgent(agent, 'stop', base()).code).toBe(0);
    expect(existsSync(join(dir, 'ntpd.pid'))).toBe(false);
    // chronyd's own pidfile is left behind by the SIGKILL: start must not be blocked by it
    expect(runAgent(agent, 'start', base()).code).toBe(0);
    expect(pidOf()).not.toBe(pid);
    expect(runAgent(agent, 'stop', base()).code).toBe(0);
  });

  it('level 20: synchronised to an upstream chronyd of our own, then to the local reference when upstream is unreachable', async () => {
    startUpstream(3);
    const p = {
      ...base(), listen: '127.0.0.1', upstream: '127.0.0.1', upstream_port: String(upPort), minpoll: '0', maxpoll: '1',
      state_dir: join(dir, 'with-up'), pidfile: join(dir, 'with-up.pid'),
    };
    started.push(p);
    try {
      await upstreamPart(p);
    } finally {
      await stopUpstream();
    }
    // upstream gone before start: the local/orphan reference keeps the cluster on one time
    expect(runAgent(agent, 'start', p).code).toBe(0);
    const m2 = runAgent(agent, 'monitor', p, monitor(20));
    expect(m2.code, m2.stderr).toBe(0);
    expect(m2.stderr).toMatch(/synchronised to its local reference \(stratum 10\): upstream 127\.0\.0\.1 is not in use/);
    expect((await ntpQuery('127.0.0.1', port, { timeoutMs: 1000 })).reply).toMatchObject({ stratum: 10 });
    expect(runAgent(agent, 'stop', p).code).toBe(0);
  });

  async function upstreamPart(p: Record<string, string>): Promise<void> {
    expect(runAgent(agent, 'start', p).code).toBe(0);
    // iburst: it follows upstream (stratum 3 -> 4) within seconds
    await until('sync to upstream', async () => (await ntpQuery('127.0.0.1', port, { timeoutMs: 500 })).reply?.stratum === 4, 20_000);
    const r = await ntpQuery('127.0.0.1', port, { timeoutMs: 1000 });
    expect(r.reply).toMatchObject({ stratum: 4, refId: '127.0.0.1' });
    const m = runAgent(agent, 'monitor', p, { ...monitor(20), HA_debug: '1' });
    expect(m.code, m.stderr).toBe(0);
    expect(m.stderr).toMatch(/synchronised to 127\.0\.0\.1 \(stratum 4\)/);
    expect(runAgent(agent, 'stop', p).code).toBe(0);
  }

  it('level 20 fails (and level 10 too: leap alarm) when upstream is unreachable and there is no local fallback', async () => {
    const p = {
      ...base(), listen: '::1', upstream: '::1', upstream_port: String(upPort), local_stratum: '0',
      state_dir: join(dir, 'no-local'), pidfile: join(dir, 'no-local.pid'),
    };
    started.push(p);
    const s = runAgent(agent, 'start', p); // ready = answering, even "unsynchronised"
    expect(s.code, s.stderr).toBe(0);
    try {
      await unsyncedPart(p);
    } finally {
      expect(runAgent(agent, 'stop', p).code).toBe(0);
    }
  });

  async function unsyncedPart(p: Record<string, string>): Promise<void> {
    const r = await ntpQuery('::1', port, { timeoutMs: 1000 });
    expect(r).toMatchObject({ ok: false, answered: true });
    expect(r.error).toBe('server is unsynchronised (stratum 0, leap 3)'); // chrony's way of saying so
    const m10 = runAgent(agent, 'monitor', p, monitor(10));
    expect(m10.code).toBe(1);
    expect(m10.reasons[0]).toMatch(/^NTP query to \[::1\]:\d+ failed: server is unsynchronised/);
    const m20 = runAgent(agent, 'monitor', p, monitor(20));
    expect(m20.code).toBe(1);
    expect(m20.reasons[0]).toMatch(/^chronyd reports itself not synchronised \(stratum 0, leap Not synchronised\): no reachable upstream or peer and no local_stratum fallback$/);
  }

  it('refuses a broken setup with a clear reason, and runs nothing', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ local_stratum: '0' }, /^no time source: set upstream, peer or a local_stratum above 0$/],
      [{ minpoll: '8', maxpoll: '4' }, /^minpoll \(8\) must not exceed maxpoll \(4\)$/],
      [{ server: 'ntpsec', binary: '/usr/sbin/chronyd' }, /^ntpsec always serves on port 123/],
      [{ extra_config: '/nonexistent/extra.conf' }, /^extra_config file \/nonexistent\/extra\.conf does not exist/],
      [{ upstream: 'ntp.example.org 999.1.1.1' }, /^parameter 'upstream' must list host names or IPv4\/IPv6 addresses, and "999\.1\.1\.1" is not one/],
      [{ allow: '192.0.2.0/33' }, /^parameter 'allow' must list networks such as/],
      [{ peer: '-oProxyCommand=x' }, /^parameter 'peer' must list host names/],
      [{ listen: 'ntp.example.org' }, /^parameter 'listen' must list IPv4\/IPv6 addresses/],
    ];
    for (const [extra, reason] of cases) {
      const r = runAgent(agent, 'start', { ...base(), state_dir: join(dir, 'bad'), pidfile: join(dir, 'bad.pid'), ...extra });
      expect(r.code, JSON.stringify(extra)).toBe(6);
      expect(r.reasons, JSON.stringify(extra)).toHaveLength(1);
      expect(r.reasons[0], JSON.stringify(extra)).toMatch(reason);
    }
    expect(existsSync(join(dir, 'bad.pid'))).toBe(false);
    // an unreachable state dir (the chrony user cannot search it): no command socket, no start
    const hidden = join(dir, 'hidden');
    mkdirSync(hidden, { mode: 0o700 });
    const h = { ...base(), port: String(port + 2), state_dir: join(hidden, 'state'), pidfile: join(dir, 'hidden.pid') };
    started.push(h);
    const r = runAgent(agent, 'start', h);
    expect(r.code).toBe(6);
    expect(r.reasons[0]).toMatch(/^start failed: chronyd has no command socket \(Could not open command socket on .*\): state_dir .* must be searchable by the chrony user$/);
    expect(existsSync(join(dir, 'hidden.pid'))).toBe(false);
    expect(existsSync(join(dir, 'bad', 'chrony.conf'))).toBe(false);
  });

  it('host names are accepted for upstream and peer, and written as given', () => {
    const p = { ...base(), upstream: 'ntp1.example.org 192.0.2.1 2001:db8::1', peer: 'head2', allow: '192.0.2.0/24 2001:db8::/32', state_dir: join(dir, 'names') };
    expect(runAgent(agent, 'validate-all', p).code).toBe(0);
  });

  it('start refuses a port where another NTP server already answers (chronyd would share it), and leaves nothing running', () => {
    const a = { ...base(), listen: '127.0.0.1', state_dir: join(dir, 'a'), pidfile: join(dir, 'a.pid') };
    const b = { ...a, state_dir: join(dir, 'b'), pidfile: join(dir, 'b.pid') };
    started.push(a, b);
    expect(runAgent(agent, 'start', a).code).toBe(0);
    try {
      const r = runAgent(agent, 'start', b, { OCF_RESKEY_CRM_meta_timeout: '6000' });
      expect(r.code).toBe(1);
      expect(r.reasons).toEqual([`another NTP server already answers on 127.0.0.1:${port}: stop it first (a system chrony/ntp service?)`]);
      expect(existsSync(join(dir, 'b.pid'))).toBe(false);
    } finally {
      expect(runAgent(agent, 'stop', a).code).toBe(0);
    }
  });
});

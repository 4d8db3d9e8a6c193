// ocf:ha-oscar:ntpd with ntpsec, for real. ntpsec conflicts with chrony as a Debian package,
// so it is unpacked here (apt-get download + dpkg -x) into a temp dir and run by path
// ("binary"). ntpd always serves on port 123, so everything runs inside a network namespace
// of our own (dv6-ntps-*): loopback only, torn down afterwards. ntpd never gets the right to
// set the clock (clock_control=false: "disable ntp" + no CAP_SYS_TIME).
// Set HA_OSCAR_NTPSEC_ROOT to an already unpacked tree to skip the download.
import { it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from '../helpers/sync';
import { existsSync, readFileSync, rmSync, chmodSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { distOcf, tempDir } from '../helpers/agents';
import { describeWith } from '../helpers/prereq';

const agent = join(distOcf, 'ntpd');
const ns = `dv6-ntps-${process.pid}`;
let dir: string;
let ntpd: string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const base = () => ({
  server: 'ntpsec', binary: ntpd, listen: '127.0.0.1 ::1', clock_control: 'false', local_stratum: '10',
  state_dir: join(dir, 'state'), pidfile: join(dir, 'ntpd.pid'),
});

/** Run the agent inside our namespace, as pacemaker-execd would (clean environment). */
function nsAgent(action: string, params: Record<string, string>, extra: Record<string, string> = {}) {
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', OCF_ROOT: '/usr/lib/ocf',
    OCF_RA_VERSION_MAJOR: '1', OCF_RA_VERSION_MINOR: '1', OCF_RESOURCE_INSTANCE: 'dv6-ntpsec', OCF_RESKEY_CRM_meta_timeout: '20000', ...extra,
  };
  for (const [k, v] of Object.entries(params)) env[`OCF_RESKEY_${k}`] = v;
  const r = spawnSync('ip', ['netns', 'exec', ns, agent, action], { env, encoding: 'utf8', timeout: 60_000 });
  const reasons = (r.stderr ?? '').split('\n').filter((l) => l.startsWith('ocf-exit-reason:')).map((l) => l.slice(16));
  return { code: r.status ?? -1, stderr: r.stderr ?? '', reasons };
}
const monitor = (level: number) => ({ OCF_CHECK_LEVEL: String(level), OCF_RESKEY_CRM_meta_interval: '30000' });

async function until(what: string, fn: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(250);
  }
  return Date.now() - t0;
}

describeWith({ bins: ['ip', 'apt-get', 'dpkg', 'setpriv', 'ocf-tester'], root: true, packages: ['iproute2', 'apt', 'util-linux', 'resource-agents'] }, 'ocf:ha-oscar:ntpd (ntpsec, unpacked, in a namespace)', () => {
  beforeAll(() => {
    dir = tempDir('dv6-ntpsec');
    chmodSync(dir, 0o755);
    let root = process.env.HA_OSCAR_NTPSEC_ROOT;
    if (!root) {
      root = join(dir, 'root');
      const dl = spawnSync('apt-get', ['download', 'ntpsec'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
      const deb = readdirSync(dir).find((f) => /^ntpsec_.*\.deb$/.test(f));
      if (!deb) throw new Error(`apt-get download ntpsec failed: ${dl.stderr}`);
      const x = spawnSync('dpkg', ['-x', join(dir, deb), root], { encoding: 'utf8' });
      if (x.status !== 0) throw new Error(`dpkg -x failed: ${x.stderr}`);
    }
    ntpd = join(root, 'usr/sbin/ntpd');
    if (!existsSync(ntpd)) throw new Error(`no ntpd in ${root}`);
    spawnSync('ip', ['netns', 'add', ns]);
    spawnSync('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }, 180_000);

  afterAll(() => {
    if (dir) {
      nsAgent('stop', base());
      nsAgent('stop', { ...base(), state_dir: join(dir, 'ocft'), pidfile: join(dir, 'ocft.pid') });
    }
    // anything still running in OUR namespace was started by this file
    for (const pid of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
      try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
    }
    spawnSync('ip', ['netns', 'del', ns]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('passes ocf-tester inside the namespace (port 123 of its own loopback)', () => {
    const args = ['netns', 'exec', ns, 'ocf-tester', '-n', 'dv6-ntpsec-test'];
    for (const [k, v] of Object.entries({ ...base(), state_dir: join(dir, 'ocft'), pidfile: join(dir, 'ocft.pid') })) args.push('-o', `${k}=${v}`);
    const r = spawnSync('ip', [...args, agent], { encoding: 'utf8', timeout: 180_000 });
    expect(r.stdout + r.stderr).toContain('passed all tests');
    expect(r.status).toBe(0);
  }, 200_000); // ocf-tester runs ~20 actions: 20-70 s on a loaded box

  it('serves both families; becomes orphan parent at the local stratum; levels 10 and 20 pass; the clock is out of its reach', async () => {
    const s = nsAgent('start', base());
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).toMatch(/started .*ntpd \(pid \d+\) answering NTP on 127\.0\.0\.1 ::1 after \d+ ms/);
    const pid = Number(readFileSync(join(dir, 'ntpd.pid'), 'utf8'));
    // at first it answers "not synchronised yet" (INIT); orphan mode then takes over
    const ms = await until('level 10', () => nsAgent('monitor', base(), monitor(10)).code === 0, 60_000);
    process.stdout.write(`ntpsec: sane answers ${ms} ms after start (orphan mode, no upstream)\n`);
    const m20 = nsAgent('monitor', base(), { ...monitor(20), HA_debug: '1' });
    expect(m20.code, m20.stderr).toBe(0);
    expect(m20.stderr).toMatch(/synchronised to its local \(orphan\) reference \(stratum 10\)/);
    // no right to set the clock: CAP_SYS_TIME (25) is out of the bounding and effective sets
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    for (const k of ['CapBnd', 'CapEff']) {
      const v = BigInt(`0x${/^Cap\w+:\s+([0-9a-f]+)$/m.exec(status.split('\n').find((l) => l.startsWith(k))!)![1]}`);
      expect((v >> 25n) & 1n, k).toBe(0n);
    }
    const conf = readFileSync(join(dir, 'state', 'ntp.conf'), 'utf8');
    expect(conf).toContain('disable ntp\n');
    expect(conf).toContain('tos orphan 10\n');
    expect(conf).toContain('interface ignore all\ninterface listen 127.0.0.1\ninterface listen ::1\n');
    // level 0 sees a crash
    process.kill(pid, 'SIGKILL');
    await sleep(300);
    expect(nsAgent('monitor', base(), { OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(7);
    expect(nsAgent('stop', base()).code).toBe(0);
  });
});

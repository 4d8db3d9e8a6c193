// The clone placement, for real: two "heads" in network namespaces of our own (dv6-cl-*),
// joined by a veth pair (192.0.2.0/24, 2001:db8:6::/64). Each runs ocf:ha-oscar:ntpd (chrony,
// -x) on the wildcard with the SAME parameters, peer = both heads. They agree (orphan mode:
// one leads at the local stratum, the other follows it), and a VIP is answered by whichever
// head holds it, also after the other head is gone.
import { it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from '../helpers/sync';
import { rmSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { distOcf, tempDir } from '../helpers/agents';
import { describeWith } from '../helpers/prereq';
import { bundleEntry } from '../helpers/build';

const agent = join(distOcf, 'ntpd');
const tag = String(process.pid % 100000);
const nsA = `dv6-cl-a-${tag}`;
const nsB = `dv6-cl-b-${tag}`;
const vethA = `dv6a${tag}`;
const vethB = `dv6b${tag}`;
let dir: string;
let query: string;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const params = (node: 'a' | 'b') => ({
  listen: '0.0.0.0 ::', allow: '192.0.2.0/24 2001:db8:6::/64', peer: '192.0.2.1 192.0.2.2', local_stratum: '10',
  clock_control: 'false', minpoll: '0', maxpoll: '1', state_dir: join(dir, node), pidfile: join(dir, `${node}.pid`),
});

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

function nsAgent(ns: string, node: 'a' | 'b', action: string, extra: Record<string, string> = {}) {
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', OCF_ROOT: '/usr/lib/ocf',
    OCF_RA_VERSION_MAJOR: '1', OCF_RA_VERSION_MINOR: '1', OCF_RESOURCE_INSTANCE: `dv6-ntp-${node}`, OCF_RESKEY_CRM_meta_timeout: '20000', ...extra,
  };
  for (const [k, v] of Object.entries(params(node))) env[`OCF_RESKEY_${k}`] = v;
  const r = spawnSync('ip', ['netns', 'exec', ns, agent, action], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stderr: r.stderr ?? '' };
}

/** An NTP query sent from inside a namespace (the bundled probe). */
function nsQuery(ns: string, address: string): { ok: boolean; reply?: { stratum: number; refId: string }; error?: string } {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, query, address, '123', '1000'], { encoding: 'utf8', timeout: 10_000 });
  try { return JSON.parse(r.stdout); } catch { return { ok: false, error: r.stderr || 'no output' }; }
}

async function until(what: string, fn: () => boolean, ms: number): Promise<number> {
  const t0 = Date.now();
  while (!fn()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(300);
  }
  return Date.now() - t0;
}

describeWith({ bins: ['ip', 'chronyd', 'chronyc'], root: true, packages: ['iproute2', 'chrony'] }, 'ocf:ha-oscar:ntpd as a clone on two heads (namespaces)', () => {
  beforeAll(async () => {
    dir = tempDir('dv6-clone');
    chmodSync(dir, 0o755);
    query = await bundleEntry('test/fixtures/ntp/query.ts', join(dir, 'query.js'));
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    ip('link', 'add', vethA, 'netns', nsA, 'type', 'veth', 'peer', 'name', vethB, 'netns', nsB);
    for (const [ns, dev, n] of [[nsA, vethA, '1'], [nsB, vethB, '2']] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'addr', 'add', `192.0.2.${n}/24`, 'dev', dev);
      ip('-n', ns, 'addr', 'add', `2001:db8:6::${n}/64`, 'dev', dev, 'nodad');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
  }, 120_000);

  afterAll(() => {
    if (dir) { nsAgent(nsA, 'a', 'stop'); nsAgent(nsB, 'b', 'stop'); }
    for (const ns of [nsA, nsB]) {
      for (const pid of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
        try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      }
      spawnSync('ip', ['netns', 'del', ns]); // the veth pair goes with it
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('both heads serve, peer each other (each leaving itself out) and agree: one leads at the local stratum, the other follows', async () => {
    expect(nsAgent(nsA, 'a', 'start').code).toBe(0);
    expect(nsAgent(nsB, 'b', 'start').code).toBe(0);
    const conf = spawnSync('cat', [join(dir, 'a', 'chrony.conf')], { encoding: 'utf8' }).stdout;
    expect(conf).toMatch(/^peer 192\.0\.2\.2 minpoll 0 maxpoll 1$/m);
    expect(conf).not.toMatch(/^peer 192\.0\.2\.1 /m);
    expect(conf).not.toMatch(/^bindaddress /m); // wildcard: the VIPs are served wherever they are
    expect(conf).toMatch(/^allow 192\.0\.2\.0\/24$/m);
    // follower: synchronised to the other head at stratum 11
    const ms = await until('one head to follow the other', () => {
      const s = [nsQuery(nsB, '192.0.2.1').reply?.stratum, nsQuery(nsA, '192.0.2.2').reply?.stratum].sort();
      return s[0] === 10 && s[1] === 11;
    }, 60_000);
    process.stdout.write(`clone: heads agreed (stratum 10 leader, 11 follower) ${ms} ms after start\n`);
    for (const [ns, node] of [[nsA, 'a'], [nsB, 'b']] as const) {
      const m = nsAgent(ns, node, 'monitor', { OCF_CHECK_LEVEL: '20', OCF_RESKEY_CRM_meta_interval: '30000' });
      expect(m.code, m.stderr).toBe(0);
    }
    // across the wire, on IPv6 too
    expect(nsQuery(nsB, '2001:db8:6::1').ok).toBe(true);
    expect(nsQuery(nsA, '2001:db8:6::2').ok).toBe(true);
  });

  it('a VIP is answered by the head that holds it, and still after the other head is gone', async () => {
    ip('-n', nsA, 'addr', 'add', '192.0.2.100/24', 'dev', vethA);
    ip('-n', nsA, 'addr', 'add', '2001:db8:6::100/64', 'dev', vethA, 'nodad');
    expect(nsQuery(nsB, '192.0.2.100').ok).toBe(true);
    expect(nsQuery(nsB, '2001:db8:6::100').ok).toBe(true);
    // head A fails: its daemon stops, the VIPs move to B, already running and synchronised
    expect(nsAgent(nsA, 'a', 'stop').code).toBe(0);
    ip('-n', nsA, 'addr', 'del', '192.0.2.100/24', 'dev', vethA);
    ip('-n', nsA, 'addr', 'del', '2001:db8:6::100/64', 'dev', vethA);
    ip('-n', nsB, 'addr', 'add', '192.0.2.100/24', 'dev', vethB);
    ip('-n', nsB, 'addr', 'add', '2001:db8:6::100/64', 'dev', vethB, 'nodad');
    const v4 = nsQuery(nsA, '192.0.2.100');
    const v6 = nsQuery(nsA, '2001:db8:6::100');
    process.stdout.write(`clone: first queries to the moved VIP answered by the other head in ${(v4 as { ms?: number }).ms} ms (IPv4) / ${(v6 as { ms?: number }).ms} ms (IPv6), stratum ${v4.reply?.stratum}\n`);
    expect(v4.ok, v4.error).toBe(true);
    expect(v6.ok, v6.error).toBe(true);
    expect(v4.reply!.stratum).toBeGreaterThanOrEqual(10);
    const m = nsAgent(nsB, 'b', 'monitor', { OCF_CHECK_LEVEL: '20', OCF_RESKEY_CRM_meta_interval: '30000' });
    expect(m.code, m.stderr).toBe(0);
  });
});

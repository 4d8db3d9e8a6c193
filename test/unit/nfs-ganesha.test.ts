// ocf:ha-oscar:nfsserver with server=ganesha, for real: nfs-ganesha + rpcbind in a server
// namespace of our own, a libnfs client (through src/probe) in a client namespace, IPv4 and IPv6.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { distOcf, tempDir } from '../helpers/agents';
import { bundleEntry } from '../helpers/build';
import { describeWith } from '../helpers/prereq';
import { createNet, runIn, SRV4, SRV6, type NfsNet } from '../fixtures/nfs/ns';

const agent = join(distOcf, 'nfsserver');
const need = {
  bins: ['ganesha.nfsd', 'rpcbind', 'nfs-cat', 'nfs-cp', 'ip', 'nsenter', 'unshare', 'ocf-tester'],
  root: true,
  packages: ['nfs-ganesha', 'nfs-ganesha-vfs', 'rpcbind', 'libnfs-utils', 'iproute2', 'util-linux', 'resource-agents'],
};

let net: NfsNet;
let base: string;
let exp: string;
let client: string;
let params: Record<string, string>;
const env = (extra: Record<string, string> = {}) => {
  const e: Record<string, string> = {
    OCF_ROOT: '/usr/lib/ocf', OCF_RA_VERSION_MAJOR: '1', OCF_RA_VERSION_MINOR: '1',
    OCF_RESOURCE_INSTANCE: 'dv9nfs', OCF_RESKEY_CRM_meta_timeout: '30000',
  };
  for (const [k, v] of Object.entries(params)) e[`OCF_RESKEY_${k}`] = v;
  return { ...e, ...extra };
};
const act = (action: string, extra: Record<string, string> = {}) => {
  const r = runIn(net.inSrv, [agent, action], env(extra));
  const reasons = r.stderr.split('\n').filter((l) => l.startsWith('ocf-exit-reason:')).map((l) => l.slice(16));
  return { ...r, reasons };
};
const cli = (...args: string[]) => {
  const r = runIn(net.inCli, [process.execPath, client, ...args], {}, 30_000);
  try { return JSON.parse(r.stdout.trim().split('\n').pop() ?? '') as { ok: boolean; error?: string; data?: string; retryable?: boolean; versions?: { low: number; high: number }; port?: number }; } catch { return { ok: false, error: `client: ${r.stdout} ${r.stderr}` }; }
};
const pidOf = (name: string) => { try { return Number.parseInt(readFileSync(join(base, 'run', `${name}.pid`), 'utf8'), 10); } catch { return undefined; } };
const alive = (pid: number | undefined) => pid !== undefined && existsSync(`/proc/${pid}`) && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));

/** Poll until fn() is ok; returns ms waited (or throws). */
async function until(fn: () => { ok: boolean; error?: string }, limitMs: number): Promise<{ ms: number; errors: string[] }> {
  const t0 = Date.now();
  const errors: string[] = [];
  for (;;) {
    const r = fn();
    if (r.ok) return { ms: Date.now() - t0, errors };
    if (r.error && !errors.includes(r.error)) errors.push(r.error);
    if (Date.now() - t0 > limitMs) throw new Error(`not ok within ${limitMs} ms: ${errors.join(' | ')}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

describeWith(need, 'nfsserver (ganesha, real)', () => {
  beforeAll(async () => {
    base = tempDir('dv9-nfs');
    exp = join(base, 'export');
    mkdirSync(exp, { recursive: true });
    writeFileSync(join(exp, 'hello.txt'), 'hello over NFS\n');
    client = await bundleEntry('test/fixtures/nfs/client.ts', join(base, 'client.js'));
    net = createNet(String(process.pid % 100000), base);
    params = {
      server: 'ganesha',
      exports: `${exp} 192.0.2.0/24(rw,no_root_squash) 2001:db8:9::/64(rw,no_root_squash)`,
      state_dir: join(base, 'state'), run_dir: join(base, 'run'),
      listen: `${SRV4} ${SRV6}`, grace_time: '5', lease_time: '5', versions: '3 4',
    };
  });
  afterAll(() => {
    if (net) {
      act('stop');
      net.teardown([join(base, 'run', 'ganesha.pid'), join(base, 'run', 'rpcbind.pid')]);
    }
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it('passes ocf-tester', () => {
    const o = Object.entries(params).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
    const r = runIn(net.inSrv, ['ocf-tester', '-n', 'dv9nfs', ...o, agent], { OCF_ROOT: '/usr/lib/ocf' }, 300_000);
    expect(r.stdout + r.stderr, r.stdout + r.stderr).toMatch(/nfsserver passed all tests/);
    expect(alive(pidOf('ganesha'))).toBe(false);
  }, 300_000);

  it('start serves NFSv3 and NFSv4 on IPv4 and IPv6; times to first read', async () => {
    const t0 = Date.now();
    const s = act('start');
    expect(s.code, s.stderr).toBe(0);
    const startMs = Date.now() - t0;
    const v3 = await until(() => cli('read', SRV4, `${exp}/hello.txt`, '3'), 20_000);
    const v3ms = Date.now() - t0;
    const v4 = await until(() => cli('read', SRV4, `${exp}/hello.txt`, '4'), 30_000);
    const v4ms = Date.now() - t0;
    console.log(`[nfs ganesha grace=5 lease=5] start returned after ${startMs} ms; first NFSv3 read ${v3ms} ms, first NFSv4 read ${v4ms} ms after start began; v4 errors meanwhile: ${v4.errors.join(' | ') || 'none'}`);
    expect(v3.ms).toBeLessThan(20_000);
    for (const addr of [SRV4, SRV6]) {
      for (const v of ['3', '4']) {
        const r = cli('read', addr, `${exp}/hello.txt`, v);
        expect(r, `${addr} v${v}`).toMatchObject({ ok: true, data: 'hello over NFS\n' });
      }
    }
    // a second start is a no-op on the running daemon
    const pid = pidOf('ganesha');
    expect(act('start').code).toBe(0);
    expect(pidOf('ganesha')).toBe(pid);
  }, 60_000);

  it('the client probe speaks ONC RPC to the server (TCP and UDP, portmapper, mismatch)', () => {
    for (const addr of [SRV4, SRV6]) {
      expect(cli('null', addr, '2049', '100003', '3', 'tcp'), addr).toMatchObject({ ok: true });
      expect(cli('null', addr, '2049', '100003', '4', 'tcp'), addr).toMatchObject({ ok: true });
      expect(cli('null', addr, '111', '100000', '2', 'udp'), addr).toMatchObject({ ok: true });
      const mm = cli('null', addr, '2049', '100003', '9', 'tcp');
      expect(mm.ok).toBe(false);
      expect(mm.error).toBe('PROG_MISMATCH');
      expect(mm.versions!.low).toBeLessThanOrEqual(3);
      expect(mm.versions!.high).toBeGreaterThanOrEqual(4);
      const mnt = cli('pmap', addr, '100005', '3', 'tcp');
      expect(mnt.ok && mnt.port! > 0, JSON.stringify(mnt)).toBe(true);
      expect(cli('pmap', addr, '100099', '1', 'tcp')).toMatchObject({ ok: true, port: 0 });
    }
    // nothing listens on 2050: refused, not a hang
    expect(cli('null', SRV4, '2050', '100003', '3', 'tcp').error).toMatch(/ECONNREFUSED/);
  });

  it('monitor levels 0, 10 and 20 pass on a healthy server', () => {
    for (const lvl of ['0', '10', '20']) {
      const r = act('monitor', { OCF_CHECK_LEVEL: lvl, OCF_RESKEY_CRM_meta_interval: '10000' });
      expect(r.code, `level ${lvl}: ${r.stderr}`).toBe(0);
    }
  });

  it('client writes are acknowledged, and survive a restart (state dir kept)', async () => {
    const local = join(base, 'payload');
    for (const [addr, v] of [[SRV4, '3'], [SRV6, '3'], [SRV4, '4'], [SRV6, '4']] as const) {
      writeFileSync(local, `payload via ${addr} v${v}\n`);
      const w = cli('write', addr, local, `${exp}/w-${v}-${addr.includes(':') ? 6 : 4}.txt`, v);
      expect(w, `${addr} v${v}`).toMatchObject({ ok: true });
    }
    expect(act('stop').code).toBe(0);
    expect(act('monitor').code).toBe(7);
    const s = act('start');
    expect(s.code, s.stderr).toBe(0);
    for (const [addr, v] of [[SRV4, '3'], [SRV6, '3'], [SRV4, '4'], [SRV6, '4']] as const) {
      const name = `${exp}/w-${v}-${addr.includes(':') ? 6 : 4}.txt`;
      expect(readFileSync(name, 'utf8')).toBe(`payload via ${addr} v${v}\n`);
      const r = await until(() => cli('read', addr === SRV4 ? SRV6 : SRV4, name, v), 30_000);
      expect(r.ms).toBeLessThan(30_000);
    }
    // ganesha's recovery records live in the state dir (RecoveryRoot)
    expect(readdirSync(params.state_dir!).sort()).toEqual(expect.arrayContaining(['v4recov']));
  }, 90_000);

  it('level 10 notices a hung server, level 20 a missing probe file, level 0 a dead daemon', async () => {
    const pid = pidOf('ganesha')!;
    expect(alive(pid)).toBe(true);
    process.kill(pid, 'SIGSTOP');
    try {
      expect(act('monitor', { OCF_CHECK_LEVEL: '0', OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(0);
      const r = act('monitor', { OCF_CHECK_LEVEL: '10', OCF_RESKEY_CRM_meta_interval: '10000', OCF_RESKEY_CRM_meta_timeout: '6000' });
      expect(r.code).toBe(1);
      expect(r.reasons[0]).toMatch(/RPC NULL to (192\.0\.2\.9|\[2001:db8:9::9\]):2049\/tcp failed/);
    } finally { process.kill(pid, 'SIGCONT'); }
    expect(act('monitor', { OCF_CHECK_LEVEL: '10', OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(0);

    const probe = join(exp, '.ha-oscar-nfs-probe');
    rmSync(probe);
    const r20 = act('monitor', { OCF_CHECK_LEVEL: '20', OCF_RESKEY_CRM_meta_interval: '10000' });
    expect(r20.code).toBe(1);
    expect(r20.reasons[0]).toMatch(/cannot read .*\.ha-oscar-nfs-probe through NFS on/);

    process.kill(pid, 'SIGKILL');
    await until(() => ({ ok: !alive(pid) }), 5000);
    expect(act('monitor', { OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(7);
    expect(act('stop').code).toBe(0);
    const s = act('start'); // start rewrites the probe file
    expect(s.code, s.stderr).toBe(0);
    expect(existsSync(probe)).toBe(true);
    await until(() => { const m = act('monitor', { OCF_CHECK_LEVEL: '20', OCF_RESKEY_CRM_meta_interval: '10000' }); return { ok: m.code === 0, error: m.reasons[0] }; }, 20_000);
  }, 90_000);

  it('a hung rpcbind (SIGSTOP): level 10 fails, stop kills it and returns, start runs a new one (issue 21)', () => {
    const rb = pidOf('rpcbind')!;
    const g = pidOf('ganesha');
    expect(alive(rb) && alive(g)).toBe(true);
    process.kill(rb, 'SIGSTOP');
    try {
      const m = act('monitor', { OCF_CHECK_LEVEL: '10', OCF_RESKEY_CRM_meta_interval: '10000', OCF_RESKEY_CRM_meta_timeout: '6000' });
      expect(m.code, m.stderr).toBe(1);
      expect(m.reasons[0]).toMatch(/mountd: portmapper on (192\.0\.2\.9|\[2001:db8:9::9\]):111: no TCP reply within \d+ ms/);
      // before the fix, ganesha's stop waited on its unregistration until the stop time-out's
      // SIGKILL, and start took the stopped rpcbind for a running one: not ready, start failed
      const st = act('stop', { OCF_RESKEY_CRM_meta_timeout: '20000' });
      expect(st.code, st.stderr).toBe(0);
      expect(st.stderr).toMatch(new RegExp(`rpcbind \\(pid ${rb}, started by this resource\\) does not answer`));
      expect(alive(rb)).toBe(false);
      expect(alive(g)).toBe(false);
      const s = act('start', { OCF_RESKEY_CRM_meta_timeout: '20000' });
      expect(s.code, s.stderr).toBe(0);
      expect(pidOf('rpcbind')).not.toBe(rb);
      expect(alive(pidOf('rpcbind'))).toBe(true);
      const m2 = act('monitor', { OCF_CHECK_LEVEL: '10', OCF_RESKEY_CRM_meta_interval: '10000' });
      expect(m2.code, m2.stderr).toBe(0);
    } finally { if (alive(rb)) process.kill(rb, 'SIGKILL'); }
  }, 90_000);

  for (const grace of ['5', '15']) {
    it(`restart with grace_time=${grace}: time until the client reads again (v3, v4)`, async () => {
      expect(act('stop').code).toBe(0);
      const t0 = Date.now();
      const s = act('start', { OCF_RESKEY_grace_time: grace, OCF_RESKEY_lease_time: '5' });
      expect(s.code, s.stderr).toBe(0);
      const startMs = Date.now() - t0;
      await until(() => cli('read', SRV4, `${exp}/hello.txt`, '3'), 20_000);
      const v3 = Date.now() - t0;
      const v4 = await until(() => cli('read', SRV6, `${exp}/hello.txt`, '4'), 60_000);
      const v4ms = Date.now() - t0;
      // every failure meanwhile is one a client retries (grace), never a hard error
      for (const e of v4.errors) expect(e).toMatch(/NFS4ERR_GRACE|NFS4ERR_DELAY|timed out|refused/i);
      console.log(`[nfs ganesha grace=${grace} lease=5] start ${startMs} ms; first NFSv3 read ${v3} ms; first NFSv4 read ${v4ms} ms`);
      expect(v4ms).toBeLessThan(Number(grace) * 1000 + 20_000);
    }, 120_000);
  }

  it('stop leaves no daemon and nothing holding the state dir or the export', () => {
    const pid = pidOf('ganesha');
    expect(act('stop').code).toBe(0);
    expect(alive(pid)).toBe(false);
    expect(act('stop').code).toBe(0);
    const held: string[] = [];
    for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        for (const fd of readdirSync(`/proc/${p}/fd`)) {
          const t = readlinkSync(`/proc/${p}/fd/${fd}`);
          if (t.startsWith(params.state_dir!) || t.startsWith(exp)) held.push(`${p}:${t}`);
        }
      } catch { /* gone */ }
    }
    expect(held).toEqual([]);
  });
});

describe('nfsserver probe URL', () => {
  it('builds libnfs URLs (IPv6 without brackets, escaped paths, version, port)', async () => {
    const { nfsUrl } = await import('../../src/probe/nfs');
    expect(nfsUrl('192.0.2.9', '/srv/home/a b', { version: 4 })).toBe('nfs://192.0.2.9/srv/home/a%20b?version=4');
    expect(nfsUrl('2001:db8:9::9', '/srv/x', { version: 3, nfsPort: 20049 })).toBe('nfs://2001:db8:9::9/srv/x?version=3&nfsport=20049');
  });
});

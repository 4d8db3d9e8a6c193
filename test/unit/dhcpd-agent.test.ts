// ocf:ha-oscar:dhcpd for real, in network namespaces of our own: the agent runs ISC dhcpd
// (v4, v6) and Kea in dv5-srv; the DHCP client (src/probe/dhcp.ts, bundled) runs in dv5-cli,
// across a veth pair. 192.0.2.1 is the node's address, 192.0.2.10 the VIP.
// A "failover" is the service stopped here and started as another instance on the same state_dir
// (what shared storage or a synced directory gives the peer head).
import { it, expect, beforeAll, afterAll } from 'vitest';
import { spawn } from 'node:child_process';
import { spawnSync } from '../helpers/sync';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distOcf, root, runAgentIn, tempDir, type AgentRun } from '../helpers/agents';
import { bundleEntry } from '../helpers/build';
import { describeWith } from '../helpers/prereq';

const agent = join(distOcf, 'dhcpd');
const SRV = 'dv5-srv';
const CLI = 'dv5-cli';
const VIP = '192.0.2.10';
const fx = (f: string) => join(root, 'test/fixtures/dhcp', f);
let dir: string;
let clientJs: string;
const timings: Record<string, number[]> = {};
const note = (k: string, ms: number) => { (timings[k] ??= []).push(ms); };

function run(cmd: string, args: string[], timeout = 30_000) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The agent as pacemaker-execd runs it, inside the server namespace. */
const nsAgent = (action: string, params: Record<string, string>, extra: Record<string, string> = {}): AgentRun =>
  runAgentIn(SRV, agent, action, params, { OCF_RESOURCE_INSTANCE: 'dv5-dhcpd', ...extra }, 60_000);
const mon = (lvl: number) => ({ OCF_CHECK_LEVEL: String(lvl), OCF_RESKEY_CRM_meta_interval: '30000' });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Res = { ok: boolean; error?: string; address?: string; bootFile?: string; serverId?: string; ms: number; [k: string]: any };
/** One DHCP call from the client namespace. */
function client(call: string, opts: Record<string, unknown>): Res {
  const r = spawnSync('ip', ['netns', 'exec', CLI, process.execPath, clientJs, call, JSON.stringify(opts)], { encoding: 'utf8', timeout: 30_000 });
  return JSON.parse(r.stdout || `{"ok":false,"error":${JSON.stringify(r.stderr)}}`) as Res;
}

const isc4 = (over: Record<string, string> = {}) => ({
  config: fx('isc4.conf'), interface: 'dv5-s0', server_id: VIP, state_dir: join(dir, 'state4'), pidfile: join(dir, 'run', 'dhcpd4.pid'), ...over,
});
const isc6 = (over: Record<string, string> = {}) => ({
  family: '6', config: fx('isc6.conf'), interface: 'dv5-s0', state_dir: join(dir, 'state6'), pidfile: join(dir, 'run', 'dhcpd6.pid'), ...over,
});
const kea4 = (over: Record<string, string> = {}) => ({
  server: 'kea', config: fx('kea4.json'), interface: 'dv5-s0', server_id: VIP, state_dir: join(dir, 'statek'), pidfile: join(dir, 'run', 'kea4.pid'), ...over,
});

describeWith({ bins: ['dhcpd', 'kea-dhcp4', 'ip', 'ocf-tester', 'xmllint'], root: true, packages: ['isc-dhcp-server', 'kea-dhcp4-server', 'iproute2', 'resource-agents', 'libxml2-utils'] }, 'ocf:ha-oscar:dhcpd in namespaces', () => {
  beforeAll(async () => {
    dir = tempDir('dv5-dhcpd');
    clientJs = await bundleEntry('test/fixtures/dhcp/client.ts', join(dir, 'client.js'));
    for (const n of [SRV, CLI]) spawnSync('ip', ['netns', 'del', n]); // leftovers of an interrupted run (our names only)
    for (const n of [SRV, CLI]) {
      run('ip', ['netns', 'add', n]);
      run('ip', ['netns', 'exec', n, 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0']);
      run('ip', ['-n', n, 'link', 'set', 'lo', 'up']);
    }
    run('ip', ['-n', SRV, 'link', 'add', 'dv5-s0', 'type', 'veth', 'peer', 'name', 'dv5-c0', 'netns', CLI]);
    run('ip', ['-n', SRV, 'addr', 'add', '192.0.2.1/24', 'dev', 'dv5-s0']);
    run('ip', ['-n', SRV, 'addr', 'add', `${VIP}/24`, 'dev', 'dv5-s0']);
    run('ip', ['-n', SRV, 'addr', 'add', '2001:db8:5::1/64', 'dev', 'dv5-s0', 'nodad']);
    run('ip', ['-n', SRV, 'addr', 'add', '2001:db8:5::10/64', 'dev', 'dv5-s0', 'nodad']);
    run('ip', ['-n', SRV, 'link', 'set', 'dv5-s0', 'up']);
    run('ip', ['-n', CLI, 'link', 'set', 'dv5-c0', 'up']);
    // a client without an address sends its broadcasts out of this interface
    run('ip', ['-n', CLI, 'route', 'add', '255.255.255.255/32', 'dev', 'dv5-c0']);
    for (let i = 0; i < 50; i++) {
      const t = spawnSync('ip', ['-n', CLI, '-6', 'addr', 'show', 'dev', 'dv5-c0', 'tentative'], { encoding: 'utf8' }).stdout
        + spawnSync('ip', ['-n', SRV, '-6', 'addr', 'show', 'dev', 'dv5-s0', 'tentative'], { encoding: 'utf8' }).stdout;
      const ll = spawnSync('ip', ['-n', CLI, '-6', 'addr', 'show', 'dev', 'dv5-c0', 'scope', 'link'], { encoding: 'utf8' }).stdout;
      if (!t.trim() && ll.includes('fe80')) break;
      spawnSync('sleep', ['0.1']);
    }
  }, 120_000);

  afterAll(() => {
    for (const p of [isc4(), isc6(), kea4(), isc4({ pidfile: join(dir, 'run', 'peer4.pid') }), isc6({ pidfile: join(dir, 'run', 'peer6.pid') })]) nsAgent('stop', p);
    for (const n of [SRV, CLI]) spawnSync('ip', ['netns', 'del', n]);
    rmSync(dir, { recursive: true, force: true });
    // eslint-disable-next-line no-console
    console.log(`dv5 DHCP timings (ms): ${JSON.stringify(timings)}`);
  });

  it('passes ocf-tester (ISC dhcpd, DHCPv4)', () => {
    const args = ['netns', 'exec', SRV, 'ocf-tester', '-n', 'dv5-dhcpd-test'];
    for (const [k, v] of Object.entries(isc4({ state_dir: join(dir, 'tester'), pidfile: join(dir, 'run', 'tester.pid') }))) args.push('-o', `${k}=${v}`);
    const r = spawnSync('ip', [...args, agent], { encoding: 'utf8', timeout: 180_000 });
    expect(r.stdout + r.stderr).toContain('passed all tests');
    expect(r.status).toBe(0);
  }, 300_000);

  for (const [name, params] of [
    ['ISC dhcpd -6', () => isc6({ state_dir: join(dir, 'tester6'), pidfile: join(dir, 'run', 'tester6.pid') })],
    ['Kea DHCPv4', () => kea4({ state_dir: join(dir, 'testerk'), pidfile: join(dir, 'run', 'testerk.pid') })],
  ] as const) {
    it(`passes ocf-tester (${name})`, () => {
      const args = ['netns', 'exec', SRV, 'ocf-tester', '-n', 'dv5-dhcpd-test'];
      for (const [k, v] of Object.entries(params())) args.push('-o', `${k}=${v}`);
      const r = spawnSync('ip', [...args, agent], { encoding: 'utf8', timeout: 180_000 });
      expect(r.stdout + r.stderr).toContain('passed all tests');
      expect(r.status).toBe(0);
    }, 300_000);
  }

  it('ISC v4: a client gets a lease naming the boot file; the level-10 monitor does a DHCPINFORM from the VIP', () => {
    const s = nsAgent('start', isc4());
    expect(s.code, s.stderr).toBe(0);
    note('isc4 start (agent process)', s.ms);
    const m = nsAgent('monitor', isc4(), mon(10));
    expect(m.code, m.stderr).toBe(0);
    note('isc4 monitor level 10 (agent process)', m.ms);
    const off = client('discover', { family: 4, mac: '02:00:00:00:05:09', settleMs: 300 });
    expect(off).toMatchObject({ ok: true, answer: 'DHCPOFFER', serverId: VIP, bootFile: 'pxelinux.0', nextServer: VIP });
    expect(off.answers).toHaveLength(1);
    note('v4 DISCOVER->OFFER', off.ms);
  });

  it('ISC v4: lease, renew, and the SAME address after a failover to a peer on the same state_dir; a second client gets another address', () => {
    const a = client('lease', { family: 4, mac: '02:00:00:00:05:01' });
    expect(a, a.error).toMatchObject({ ok: true, serverId: VIP, bootFile: 'pxelinux.0' });
    note('v4 DISCOVER/OFFER/REQUEST/ACK', a.ms);
    expect(readFileSync(join(dir, 'state4', 'dhcpd.leases'), 'utf8')).toContain(`lease ${a.address} {`);
    // a real RENEW: the client owns the address and unicasts to the server identifier (the VIP)
    run('ip', ['-n', CLI, 'addr', 'add', `${a.address}/24`, 'dev', 'dv5-c0']);
    try {
      const r1 = client('renew', { family: 4, lease: a, mode: 'renew' });
      expect(r1, r1.error).toMatchObject({ ok: true, address: a.address, answer: 'DHCPACK' });
      note('v4 RENEW (unicast to VIP)', r1.ms);
      // failover: head1's server goes, head2's starts on the same lease database
      expect(nsAgent('stop', isc4()).code).toBe(0);
      expect(nsAgent('monitor', isc4(), mon(0)).code).toBe(7);
      const peer = isc4({ pidfile: join(dir, 'run', 'peer4.pid') });
      expect(nsAgent('start', peer, { OCF_RESOURCE_INSTANCE: 'dv5-dhcpd-peer' }).code).toBe(0);
      const t0 = Date.now();
      const r2 = client('renew', { family: 4, lease: a, mode: 'renew', timeoutMs: 5000 });
      expect(r2, r2.error).toMatchObject({ ok: true, address: a.address, serverId: VIP });
      note('v4 RENEW after failover', r2.ms);
      note('v4 RENEW after failover incl. client process start', Date.now() - t0);
      const b = client('lease', { family: 4, mac: '02:00:00:00:05:02' });
      expect(b.ok, b.error).toBe(true);
      expect(b.address).not.toBe(a.address);
      expect(nsAgent('stop', peer, { OCF_RESOURCE_INSTANCE: 'dv5-dhcpd-peer' }).code).toBe(0);
      expect(nsAgent('start', isc4()).code).toBe(0);
    } finally {
      spawnSync('ip', ['-n', CLI, 'addr', 'del', `${a.address}/24`, 'dev', 'dv5-c0']);
      // removing the last IPv4 address flushed the device's routes: restore the broadcast route
      spawnSync('ip', ['-n', CLI, 'route', 'replace', '255.255.255.255/32', 'dev', 'dv5-c0']);
    }
    // a rebooting client (no address yet) asks for its old one: INIT-REBOOT
    const r3 = client('renew', { family: 4, lease: a, mode: 'reboot' });
    expect(r3, r3.error).toMatchObject({ ok: true, address: a.address });
  });

  it('ISC v4: a hung dhcpd passes level 0 and fails level 10 with a reason; a wrong server_id is reported', () => {
    const pid = Number(readFileSync(join(dir, 'run', 'dhcpd4.pid'), 'utf8'));
    process.kill(pid, 'SIGSTOP');
    try {
      expect(nsAgent('monitor', isc4(), mon(0)).code).toBe(0);
      const t0 = Date.now();
      const r = nsAgent('monitor', isc4(), mon(10));
      expect(r.code).toBe(1);
      expect(r.reasons[0]).toMatch(/^no DHCPv4 answer on dv5-s0: no answer to DHCPINFORM within \d+ ms$/);
      note('isc4 monitor level 10 on a hung server (agent process)', Date.now() - t0);
    } finally { process.kill(pid, 'SIGCONT'); }
    const w = nsAgent('monitor', isc4({ server_id: '192.0.2.1' }), mon(10));
    expect(w.code).toBe(1);
    expect(w.reasons[0]).toMatch(/answers with server identifier 192\.0\.2\.10, not 192\.0\.2\.1: renewals would miss the VIP/);
    expect(nsAgent('monitor', isc4(), mon(10)).code).toBe(0);
    // dhcpd's own pidfile naming a live process (PID reuse, unreaped zombie) must not block a restart
    expect(nsAgent('stop', isc4()).code).toBe(0);
    writeFileSync(join(dir, 'run', 'dhcpd4.pid.d', 'dhcpd.pid'), `${process.pid}\n`);
    const s = nsAgent('start', isc4());
    expect(s.code, s.stderr).toBe(0);
    expect(nsAgent('monitor', isc4(), mon(10)).code).toBe(0);
  });

  it('ISC v4: a full state_dir (leases it could not record) fails level 10 and start, with the reason; with room again it starts', () => {
    // dhcpd keeps granting leases it cannot write: after a takeover the peer would not know them
    const small = join(dir, 'small-state');
    run('mkdir', ['-p', small]);
    run('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0750', 'dv5-small', small]);
    const full = isc4({ state_dir: small, pidfile: join(dir, 'run', 'full4.pid') });
    try {
      expect(nsAgent('stop', isc4()).code).toBe(0);
      const s = nsAgent('start', full);
      expect(s.code, s.stderr).toBe(0);
      expect(nsAgent('monitor', full, mon(10)).code).toBe(0);
      try { writeFileSync(join(small, 'filler'), Buffer.alloc(512 * 1024)); } catch (e) { expect((e as NodeJS.ErrnoException).code).toBe('ENOSPC'); }
      const m = nsAgent('monitor', full, mon(10));
      expect(m.code).toBe(1);
      expect(m.reasons[0]).toMatch(new RegExp(`^${small.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is full: \\d+ KiB free, 64 KiB needed .*: leases could not be recorded$`));
      expect(nsAgent('monitor', full, mon(0)).code).toBe(0); // level 0: the process only
      expect(nsAgent('stop', full).code).toBe(0);
      const refused = nsAgent('start', full);
      expect(refused.code).toBe(1);
      expect(refused.reasons[0]).toMatch(/ is full: .*leases could not be recorded$/);
      expect(nsAgent('monitor', full).code).toBe(7); // nothing was started
      rmSync(join(small, 'filler'));
      expect(nsAgent('start', full).code).toBe(0);
      expect(nsAgent('monitor', full, mon(10)).code).toBe(0);
    } finally {
      nsAgent('stop', full);
      spawnSync('umount', [small]);
    }
    const again = nsAgent('start', isc4());
    expect(again.code, again.stderr).toBe(0);
  });

  it('a config file broken or missing on this node gives OCF_ERR_INSTALLED (the peer may run it) with the server\'s own message, and nothing starts', () => {
    const v = nsAgent('validate-all', isc4({ config: fx('isc4-broken.conf') }));
    expect(v.code).toBe(5);
    expect(v.reasons).toEqual([`${fx('isc4-broken.conf')} line 3: semicolon expected.`]);
    const s = nsAgent('start', isc4({ config: fx('isc4-broken.conf'), pidfile: join(dir, 'run', 'broken.pid') }));
    expect(s.code).toBe(5);
    expect(existsSync(join(dir, 'run', 'broken.pid'))).toBe(false);
    const gone = nsAgent('start', isc4({ config: join(dir, 'no-such.conf'), pidfile: join(dir, 'run', 'broken.pid') }));
    expect(gone.code).toBe(5);
    expect(gone.reasons).toEqual([`config file ${join(dir, 'no-such.conf')} does not exist or is not readable on this node`]);
    const k = nsAgent('validate-all', kea4({ config: fx('kea4-broken.json') }));
    expect(k.code).toBe(5);
    expect(k.reasons[0]).toMatch(/^Syntax check failed with: .*kea4-broken\.json:1\.\d+(-\d+)?: syntax error/);
    expect(nsAgent('validate-all', isc4({ interface: 'dv5-nosuch' })).code).toBe(5);
    expect(nsAgent('validate-all', kea4({ family: '6' })).reasons).toEqual(['server=kea with family 6 needs ha_mode (Kea HA); without it use server=isc for DHCPv6']);
    expect(nsAgent('validate-all', kea4({ server_id: '' })).code).toBe(6);
  });

  it('ISC v6: lease with a boot file URL over ff02::1:2; level 10 (Information-request); renew after failover keeps the address', () => {
    const s = nsAgent('start', isc6());
    expect(s.code, s.stderr).toBe(0);
    const m = nsAgent('monitor', isc6(), mon(10));
    expect(m.code, m.stderr).toBe(0);
    note('isc6 monitor level 10 (agent process)', m.ms);
    const adv = client('discover', { family: 6, iface: 'dv5-c0', mac: '02:00:00:00:06:09' });
    expect(adv).toMatchObject({ ok: true, answer: 'ADVERTISE', bootFile: 'tftp://[2001:db8:5::10]/bootx64.efi' });
    note('v6 SOLICIT->ADVERTISE', adv.ms);
    const a = client('lease', { family: 6, iface: 'dv5-c0', mac: '02:00:00:00:06:01' });
    expect(a, a.error).toMatchObject({ ok: true, answer: 'REPLY' });
    expect(a.address).toMatch(/^2001:db8:5::1[0-9a-f]{2}$/);
    note('v6 SOLICIT/ADVERTISE/REQUEST/REPLY', a.ms);
    expect(nsAgent('stop', isc6()).code).toBe(0);
    const peer = isc6({ pidfile: join(dir, 'run', 'peer6.pid') });
    expect(nsAgent('start', peer, { OCF_RESOURCE_INSTANCE: 'dv5-dhcpd6-peer' }).code).toBe(0);
    // RENEW names the server DUID: the peer has the same one, from the lease database
    const t0 = Date.now();
    const r = client('renew', { family: 6, iface: 'dv5-c0', lease: a, mode: 'renew', timeoutMs: 5000 });
    expect(r, r.error).toMatchObject({ ok: true, address: a.address, serverId: a.serverId });
    note('v6 RENEW after failover', r.ms);
    note('v6 RENEW after failover incl. client process start', Date.now() - t0);
    const b = client('lease', { family: 6, iface: 'dv5-c0', mac: '02:00:00:00:06:02' });
    expect(b.ok, b.error).toBe(true);
    expect(b.address).not.toBe(a.address);
    expect(nsAgent('stop', peer, { OCF_RESOURCE_INSTANCE: 'dv5-dhcpd6-peer' }).code).toBe(0);
  });

  it('why the agent binds Kea to interface/VIP: a Kea on the bare interface answers every DISCOVER twice, from the node address', async () => {
    expect(nsAgent('stop', isc4()).code).toBe(0); // one DHCPv4 server on the link
    const cfg = join(dir, 'kea-bare.json');
    writeFileSync(cfg, JSON.stringify({ Dhcp4: {
      'interfaces-config': { interfaces: ['dv5-s0'] }, 'lease-database': { type: 'memfile', persist: false },
      subnet4: [{ subnet: '192.0.2.0/24', pools: [{ pool: '192.0.2.100 - 192.0.2.150' }] }],
    } }));
    const kea = spawn('ip', ['netns', 'exec', SRV, 'kea-dhcp4', '-c', cfg], { stdio: 'ignore', env: { ...process.env, KEA_PIDFILE_DIR: dir, KEA_LOCKFILE_DIR: dir } });
    const gone = new Promise((r) => kea.once('exit', r));
    try {
      let d: Res = { ok: false, ms: 0 };
      for (let i = 0; i < 20 && !d.ok; i++) d = client('discover', { family: 4, settleMs: 500, timeoutMs: 1000 });
      expect(d, d.error).toMatchObject({ ok: true, serverId: '192.0.2.1', answers: ['192.0.2.1', '192.0.2.1'] });
    } finally {
      kea.kill('SIGTERM');
      await gone;
    }
  });

  it('Kea v4: bound to interface/VIP, leases in state_dir; level 10 checks its socket on the VIP', () => {
    expect(nsAgent('stop', isc4()).code).toBe(0); // one DHCPv4 server on the link
    const s = nsAgent('start', kea4());
    expect(s.code, s.stderr).toBe(0);
    const derived = JSON.parse(readFileSync(join(dir, 'statek', 'kea-dhcp4.derived.json'), 'utf8'));
    expect(derived.Dhcp4['interfaces-config'].interfaces).toEqual([`dv5-s0/${VIP}`]);
    expect(derived.Dhcp4['lease-database'].name).toBe(join(dir, 'statek', 'kea-leases4.csv'));
    expect(nsAgent('monitor', kea4(), mon(10)).code).toBe(0);
    // bound to interface/VIP, Kea answers once, from the VIP
    const d = client('discover', { family: 4, mac: '02:00:00:00:07:09', settleMs: 500 });
    expect(d, d.error).toMatchObject({ ok: true, answers: [VIP] });
    const a = client('lease', { family: 4, mac: '02:00:00:00:07:01' });
    expect(a, a.error).toMatchObject({ ok: true, serverId: VIP, bootFile: 'pxelinux.0', from: VIP });
    note('kea v4 DISCOVER/OFFER/REQUEST/ACK', a.ms);
    expect(readFileSync(join(dir, 'statek', 'kea-leases4.csv'), 'utf8')).toContain(`${a.address},02:00:00:00:07:01`);
    // no loggers in the config: Kea logs to a file it rotates itself, beside the pidfile
    expect(derived.Dhcp4.loggers[0].output_options[0]).toMatchObject({ output: join(dir, 'run', 'kea4.pid.d', 'kea-dhcp4.log'), maxver: 2 });
    expect(readFileSync(join(dir, 'run', 'kea4.pid.d', 'kea-dhcp4.log'), 'utf8')).toMatch(/DHCP4_LEASE_ALLOC|DHCP4_STARTED/);
    const r = client('renew', { family: 4, lease: a, mode: 'reboot' });
    expect(r).toMatchObject({ ok: true, address: a.address });
    expect(nsAgent('stop', kea4()).code).toBe(0);
    expect(nsAgent('monitor', kea4(), mon(10)).code).toBe(7);
    expect(nsAgent('stop', kea4()).code).toBe(0);
  });
});

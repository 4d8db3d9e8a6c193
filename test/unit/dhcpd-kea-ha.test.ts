// ocf:ha-oscar:dhcpd with Kea HA (server=kea ha_mode=load-balancing), for real: two "heads" in
// network namespaces of our own (kha-a-*, kha-b-*), each running the agent with the SAME
// parameters, as a clone does; a client namespace (kha-c-*) holds the bridge that joins them
// (192.0.2.0/24: head A .1, head B .2). Leases are replicated by Kea's HA hook, with no shared
// storage (each head has its own state_dir). A head's power-off is every process of its
// namespace killed; Pacemaker's word that the partner is gone is the post-stop notification the
// survivor's agent gets (OCF_RESKEY_CRM_meta_notify_*), as Pacemaker sends it to a clone with
// notify=true.
import { it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, rmSync, chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from '../helpers/sync';
import { distOcf, root, runAgentIn, tempDir, type AgentRun } from '../helpers/agents';
import { bundleEntry } from '../helpers/build';
import { describeWith } from '../helpers/prereq';
import { haStatus, type HaStatus } from '../../src/service/kea';

const agent = join(distOcf, 'dhcpd');
const tag = String(process.pid % 100000);
const NS = { a: `kha-a-${tag}`, b: `kha-b-${tag}`, c: `kha-c-${tag}` };
const NODE = { a: 'heada', b: 'headb' } as const;
const ADDR = { a: '192.0.2.1', b: '192.0.2.2' } as const;
type Head = 'a' | 'b';
let dir: string;
let clientJs: string;
const timings: Record<string, number[]> = {};
const note = (k: string, ms: number) => { (timings[k] ??= []).push(ms); };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 30_000 });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`);
}

/** The unreachable routes in head h's namespace (blockPartner's), as `ip -o route` prints them. */
const unreachable = (h: Head): string =>
  spawnSync('ip', ['-n', NS[h], '-o', 'route', 'show', 'type', 'unreachable'], { encoding: 'utf8', timeout: 10_000 }).stdout.trim();

/** The clone's parameters: the same on both heads. */
const params = (h: Head, over: Record<string, string> = {}) => ({
  server: 'kea', config: join(root, 'test/fixtures/dhcp/kea4-ha.json'), interface: 'kh0',
  ha_mode: 'load-balancing', ha_peers: `${NODE.a}=${ADDR.a} ${NODE.b}=${ADDR.b}`,
  // what differs per head is only where it keeps things (the defaults are per node anyway)
  state_dir: join(dir, h), pidfile: join(dir, `${h}.pid`), ...over,
});
const control = (h: Head) => join(dir, `${h}.pid.d`, 'kea4-ctrl.sock');
/** DHCPv6: its own Kea on each head, its own HA pair (the agent's default port 8002). */
const params6 = (h: Head) => ({
  ...params(h), family: '6', config: join(root, 'test/fixtures/dhcp/kea6-ha.json'), state_dir: join(dir, `${h}6`), pidfile: join(dir, `${h}6.pid`),
});
const control6 = (h: Head) => join(dir, `${h}6.pid.d`, 'kea6-ctrl.sock');

/** The agent as pacemaker-execd runs it on head h (Pacemaker passes the node name). */
const nsAgent = (h: Head, action: string, over: Record<string, string> = {}, extra: Record<string, string> = {}): AgentRun =>
  runAgentIn(NS[h], agent, action, params(h, over), { OCF_RESOURCE_INSTANCE: 'kha-dhcpd', OCF_RESKEY_CRM_meta_on_node: NODE[h], ...extra }, 60_000);
const mon = (lvl: number) => ({ OCF_CHECK_LEVEL: String(lvl), OCF_RESKEY_CRM_meta_interval: '120000' });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Res = { ok: boolean; error?: string; address?: string; serverId?: string; ms: number; [k: string]: any };
function client(call: string, opts: Record<string, unknown>): Res {
  const r = spawnSync('ip', ['netns', 'exec', NS.c, process.execPath, clientJs, call, JSON.stringify(opts)], { encoding: 'utf8', timeout: 30_000 });
  return JSON.parse(r.stdout || `{"ok":false,"error":${JSON.stringify(r.stderr)}}`) as Res;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try { const v = await fn(); if (v !== undefined) return v; } catch (e) { last = e; }
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last: ${(last as Error).message})` : ''}`);
    await sleep(250);
  }
}
const stateIs = (h: Head, states: string[]) => async (): Promise<HaStatus | undefined> => {
  const s = await haStatus(control(h), 2000);
  return states.includes(s.state) ? s : undefined;
};
const leases = (h: Head) => readFileSync(join(dir, h, 'kea-leases4.csv'), 'utf8');

function killAll(ns: string): void {
  for (const pid of spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean)) {
    try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
  }
}

// Client MACs, each with the head whose half of the clients it falls into (Kea's load-balancing
// hash of the client identifier is fixed, so these are too): both halves are exercised.
const MACS = ['02:5c:13:7c:00:2c', '02:5a:13:7a:00:2a', '02:5b:13:7b:00:2b', '02:5d:13:7d:00:2d', '02:5e:13:7e:00:2e', '02:5f:13:7f:00:2f'];
const granted: Res[] = [];

describeWith({ bins: ['ip', 'kea-dhcp4', 'kea-dhcp6'], root: true, packages: ['iproute2', 'kea-dhcp4-server', 'kea-dhcp6-server'] }, 'ocf:ha-oscar:dhcpd, Kea HA on two heads (namespaces)', () => {
  beforeAll(async () => {
    dir = tempDir('kha');
    chmodSync(dir, 0o755);
    clientJs = await bundleEntry('test/fixtures/dhcp/client.ts', join(dir, 'client.js'));
    for (const n of Object.values(NS)) {
      ip('netns', 'add', n);
      // DHCPv6 over link-local addresses usable at once (no duplicate address detection)
      ip('netns', 'exec', n, 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0');
    }
    ip('-n', NS.c, 'link', 'add', 'kh-br', 'type', 'bridge');
    for (const h of ['a', 'b'] as const) {
      ip('-n', NS.c, 'link', 'add', `khp${h}`, 'type', 'veth', 'peer', 'name', 'kh0', 'netns', NS[h]);
      ip('-n', NS.c, 'link', 'set', `khp${h}`, 'master', 'kh-br');
      ip('-n', NS.c, 'link', 'set', `khp${h}`, 'up');
      ip('-n', NS[h], 'link', 'set', 'lo', 'up');
      ip('-n', NS[h], 'addr', 'add', `${ADDR[h]}/24`, 'dev', 'kh0');
      ip('-n', NS[h], 'link', 'set', 'kh0', 'up');
    }
    ip('-n', NS.c, 'link', 'set', 'lo', 'up');
    ip('-n', NS.c, 'link', 'set', 'kh-br', 'up');
    // a client without an address sends its broadcasts out of the bridge
    ip('-n', NS.c, 'route', 'add', '255.255.255.255/32', 'dev', 'kh-br');
  }, 120_000);

  afterAll(() => {
    if (dir) for (const h of ['a', 'b'] as const) { nsAgent(h, 'stop'); runAgentIn(NS[h], agent, 'stop', params6(h), { OCF_RESOURCE_INSTANCE: 'kha-dhcpd6', OCF_RESKEY_CRM_meta_on_node: NODE[h] }, 60_000); }
    for (const n of Object.values(NS)) { killAll(n); spawnSync('ip', ['netns', 'del', n]); }
    if (dir) rmSync(dir, { recursive: true, force: true });
    // eslint-disable-next-line no-console
    console.log(`kea HA timings (ms): ${JSON.stringify(timings)}`);
  });

  /** The test's Kea config with a one-address pool, in the test's directory. */
  const onePool = (): string => {
    const f = join(dir, 'kea4-one.json');
    writeFileSync(f, readFileSync(join(root, 'test/fixtures/dhcp/kea4-ha.json'), 'utf8').replace('192.0.2.100 - 192.0.2.199', '192.0.2.100 - 192.0.2.100'));
    return f;
  };

  it('bad HA parameters: one line each, OCF_ERR_CONFIGURED, nothing started', () => {
    const cases: [Record<string, string>, Record<string, string>, RegExp][] = [
      [{ server: 'isc' }, {}, /^ha_mode=load-balancing needs server=kea/],
      [{ ha_peers: `${NODE.a}=${ADDR.a}` }, {}, /ha_peers.*Kea HA pairs exactly two/],
      [{ ha_peers: `${NODE.a}=${ADDR.a} ${NODE.a}=${ADDR.b}` }, {}, /ha_peers.*names heada twice/],
      [{ ha_peers: 'heada:192.0.2.1 headb=192.0.2.2' }, {}, /ha_peers.*"heada:192\.0\.2\.1" is not name=address/],
      [{ server_id: '192.0.2.10' }, {}, /^with ha_mode each head answers from its own address: unset server_id$/],
      [{}, { OCF_RESKEY_CRM_meta_on_node: 'headz' }, /^this node \(headz\) is not one of ha_peers \(heada, headb\)$/],
      [{ ha_port: '0' }, {}, /ha_port/],
      [{ pidfile: `/run/${'x'.repeat(100)}.pid` }, {}, /^pidfile .* is too long: Kea's control socket .* must fit in 107 bytes$/],
      // load-balancing gives each head half of every pool: a one-address pool cannot be halved
      [{ config: onePool() }, {}, /kea4-one\.json: subnet 192\.0\.2\.0\/24: pool '192\.0\.2\.100 - 192\.0\.2\.100' has one address; load-balancing gives each head half of every pool/],
    ];
    for (const [over, env, want] of cases) {
      const r = nsAgent('a', 'validate-all', over, env);
      expect(r.code, `${JSON.stringify(over)}: ${r.stderr}`).toBe(6);
      expect(r.reasons).toHaveLength(1);
      expect(r.reasons[0]).toMatch(want);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    expect(nsAgent('a', 'monitor', {}, mon(0)).code).toBe(7);
  });

  it('hot-standby: the derived config names the first head primary, the second standby; Kea\'s own check passes', () => {
    const r = nsAgent('b', 'validate-all', { ha_mode: 'hot-standby' });
    expect(r.code, r.stderr).toBe(0);
    const conf = JSON.parse(readFileSync(join(dir, 'b.pid.d', 'kea-dhcp4.check.json'), 'utf8'));
    const ha = conf.Dhcp4['hooks-libraries'].find((h: { library: string }) => h.library.endsWith('libdhcp_ha.so')).parameters['high-availability'][0];
    expect(ha).toMatchObject({ 'this-server-name': NODE.b, mode: 'hot-standby', 'heartbeat-delay': 1000, 'max-response-delay': 10000 });
    expect(ha.peers).toEqual([
      { name: NODE.a, url: `http://${ADDR.a}:8001/`, role: 'primary', 'auto-failover': true },
      { name: NODE.b, url: `http://${ADDR.b}:8001/`, role: 'standby', 'auto-failover': true },
    ]);
    expect(conf.Dhcp4['interfaces-config'].interfaces).toEqual([`kh0/${ADDR.b}`]);
  });

  it('both heads start and pair up in load-balancing; the level-10 monitor reads the HA state over the control channel', async () => {
    for (const h of ['a', 'b'] as const) {
      const s = nsAgent(h, 'start');
      expect(s.code, s.stderr).toBe(0);
      note('start (agent process)', s.ms);
    }
    const t0 = Date.now();
    await until('both heads in load-balancing', async () => ((await stateIs('a', ['load-balancing'])()) && (await stateIs('b', ['load-balancing'])()) ? true : undefined), 40_000);
    note('both started -> both load-balancing', Date.now() - t0);
    for (const h of ['a', 'b'] as const) {
      const m = nsAgent(h, 'monitor', {}, mon(10));
      expect(m.code, m.stderr).toBe(0);
      note('monitor level 10 (agent process)', m.ms);
    }
    expect((await haStatus(control('a'), 2000)).scopes).toEqual([NODE.a]);
    expect((await haStatus(control('b'), 2000)).scopes).toEqual([NODE.b]);
  }, 120_000);

  it('clients get leases from both heads (each its half), and every lease is on both heads: no shared storage', async () => {
    for (const mac of MACS) {
      const r = client('lease', { family: 4, mac, timeoutMs: 4000 });
      expect(r, r.error).toMatchObject({ ok: true, bootFile: 'pxelinux.0' });
      granted.push(r);
      note('DORA', r.ms);
    }
    expect(new Set(granted.map((g) => g.serverId))).toEqual(new Set([ADDR.a, ADDR.b]));
    // each head allocates from its own half of the pool (src/service/kea-pools.ts): heada
    // .100-.149, headb .150-.199, so the two never give one address to two clients
    const pools = JSON.parse(readFileSync(join(dir, 'a', 'kea-dhcp4.derived.json'), 'utf8')).Dhcp4.subnet4[0].pools;
    expect(pools).toEqual([{ pool: '192.0.2.100 - 192.0.2.149', 'client-class': `HA_${NODE.a}` }, { pool: '192.0.2.150 - 192.0.2.199', 'client-class': `HA_${NODE.b}` }]);
    for (const g of granted) expect(Number(g.address!.split('.')[3]) >= 150 ? ADDR.b : ADDR.a, `${g.address} granted by ${g.serverId}`).toBe(g.serverId);
    // Kea sends the update to the partner before it answers the client
    for (const g of granted) for (const h of ['a', 'b'] as const) expect(leases(h)).toContain(`${g.address},${g.mac}`);
  }, 120_000);

  it('head B loses power; once Pacemaker says so (post-stop notification), head A serves B\'s clients at once, with their addresses', async () => {
    // a power-off: B's cable goes dead first (no reset for A's connections: they time out), then
    // every process of B dies
    ip('-n', NS.b, 'link', 'set', 'kh0', 'down');
    killAll(NS.b);
    const bClients = granted.filter((g) => g.serverId === ADDR.b);
    expect(bClients.length).toBeGreaterThan(0);
    // Kea alone does not take B's half (its own detection is the 10-s backstop, and wants clients
    // left unanswered): without Pacemaker's word, B's client goes unanswered
    const before = client('renew', { family: 4, lease: bClients[0], mode: 'reboot', timeoutMs: 1500 });
    expect(before.ok, JSON.stringify(before)).toBe(false);
    // Pacemaker's notification may come while Kea on A still thinks B is there (load-balancing):
    // the takeover must hold through the state change Kea makes when it misses B
    const n = nsAgent('a', 'notify', {}, {
      OCF_RESKEY_CRM_meta_notify_type: 'post', OCF_RESKEY_CRM_meta_notify_operation: 'stop',
      OCF_RESKEY_CRM_meta_notify_stop_uname: `${NODE.b} `, OCF_RESKEY_CRM_meta_notify_active_uname: `${NODE.a} ${NODE.b}`,
    });
    expect(n.code, n.stderr).toBe(0);
    expect(n.stderr).toMatch(new RegExp(`Pacemaker stopped the partner's instance on ${NODE.b}: Kea serves every scope`));
    note('notify post-stop (agent process)', n.ms);
    console.log(`[kea-ha] ${/Kea serves every scope[^\n]*/.exec(n.stderr)?.[0] ?? ''}`);
    expect((await haStatus(control('a'), 2000)).state).toBe('partner-down');
    // the unreachable route that made Kea's call to B fail at once (blockPartner) is gone again
    expect(unreachable('a')).toBe('');
    // B's clients (INIT-REBOOT: broadcast, asking for the address they hold) are answered by A
    for (const g of bClients) {
      const r = client('renew', { family: 4, lease: g, mode: 'reboot', timeoutMs: 3000 });
      expect(r, r.error).toMatchObject({ ok: true, address: g.address, serverId: ADDR.a });
      note('B client INIT-REBOOT answered by A', r.ms);
    }
    // and a new client of B's half gets a lease from A
    const fresh = client('lease', { family: 4, mac: '02:5a:13:7a:00:3a', timeoutMs: 3000 });
    expect(fresh, fresh.error).toMatchObject({ ok: true, serverId: ADDR.a });
    granted.push(fresh);
    expect(nsAgent('a', 'monitor', {}, mon(10)).code).toBe(0);
    // still serving everything after those grants (each a failed lease update to B)
    await sleep(2500);
    expect((await haStatus(control('a'), 2000)).state).toBe('partner-down');
    // notifications about something else: success, and no takeover attempted (the agent logs
    // every one it makes, as above): the partner's pre-start, and a post-stop of this head itself
    for (const other of <Record<string, string>[]>[
      { OCF_RESKEY_CRM_meta_notify_type: 'pre', OCF_RESKEY_CRM_meta_notify_operation: 'start', OCF_RESKEY_CRM_meta_notify_start_uname: NODE.b },
      { OCF_RESKEY_CRM_meta_notify_type: 'post', OCF_RESKEY_CRM_meta_notify_operation: 'stop', OCF_RESKEY_CRM_meta_notify_stop_uname: `${NODE.a} ${NODE.b}` },
    ]) {
      const o = nsAgent('a', 'notify', {}, other);
      expect(o.code, o.stderr).toBe(0);
      expect(o.stderr, JSON.stringify(other)).not.toMatch(/partner's instance/);
    }
    expect((await haStatus(control('a'), 2000)).state).toBe('partner-down');
    // a block left behind (a notify killed before its undo) would cut A from B for good: the
    // level-10 monitor removes it; level 0 (the sh fast path, every 10 s) does not look
    ip('-n', NS.a, 'route', 'add', 'unreachable', `${ADDR.b}/32`);
    expect(unreachable('a')).toContain(ADDR.b);
    const m = nsAgent('a', 'monitor', {}, mon(10));
    expect(m.code, m.stderr).toBe(0);
    expect(m.stderr).toMatch(/removed a stale unreachable route to the partner \(192\.0\.2\.2\/32\)/);
    expect(unreachable('a')).toBe('');
  }, 120_000);

  it('head B comes back: its Kea syncs the leases A granted meanwhile, and both serve their halves again', async () => {
    ip('-n', NS.b, 'link', 'set', 'kh0', 'up');
    const s = nsAgent('b', 'start');
    expect(s.code, s.stderr).toBe(0);
    const t0 = Date.now();
    await until('both heads in load-balancing again', async () => ((await stateIs('a', ['load-balancing'])()) && (await stateIs('b', ['load-balancing'])()) ? true : undefined), 60_000);
    note('B started -> both load-balancing', Date.now() - t0);
    for (const g of granted) expect(leases('b')).toContain(`${g.address},${g.mac}`);
    expect((await haStatus(control('a'), 2000)).scopes).toEqual([NODE.a]);
  }, 120_000);

  it('a hung Kea fails the level-10 monitor with a reason (level 0 still sees the process); stop stops it', async () => {
    const pid = Number(readFileSync(join(dir, 'b.pid'), 'utf8').trim());
    process.kill(pid, 'SIGSTOP');
    try {
      const m = nsAgent('b', 'monitor', {}, mon(10));
      expect(m.code).toBe(1);
      expect(m.reasons[0]).toMatch(/control socket .* did not answer 'ha-heartbeat' within \d+ ms/);
      expect(nsAgent('b', 'monitor', {}, mon(0)).code).toBe(0);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    for (const h of ['a', 'b'] as const) {
      expect(nsAgent(h, 'stop').code).toBe(0);
      expect(nsAgent(h, 'stop').code).toBe(0);
      expect(nsAgent(h, 'monitor', {}, mon(0)).code).toBe(7);
    }
  }, 120_000);

  // ---- DHCPv6: kea-dhcp6, the same HA, its own pair (after the DHCPv4 servers are stopped) ----
  const ns6Agent = (h: Head, action: string, extra: Record<string, string> = {}): AgentRun =>
    runAgentIn(NS[h], agent, action, params6(h), { OCF_RESOURCE_INSTANCE: 'kha-dhcpd6', OCF_RESKEY_CRM_meta_on_node: NODE[h], ...extra }, 60_000);
  const leases6 = (h: Head) => readFileSync(join(dir, `${h}6`, 'kea-leases6.csv'), 'utf8');
  const granted6: Res[] = [];

  it('DHCPv6: both heads pair up in load-balancing; clients get leases from both halves, and every lease is on both heads', async () => {
    for (const h of ['a', 'b'] as const) {
      const s = ns6Agent(h, 'start');
      expect(s.code, s.stderr).toBe(0);
    }
    const t0 = Date.now();
    await until('both DHCPv6 servers in load-balancing', async () => {
      const [a, b] = [await haStatus(control6('a'), 2000), await haStatus(control6('b'), 2000)];
      return a.state === 'load-balancing' && b.state === 'load-balancing' ? true : undefined;
    }, 40_000);
    note('v6: both started -> both load-balancing', Date.now() - t0);
    for (const h of ['a', 'b'] as const) expect(ns6Agent(h, 'monitor', mon(10)).code).toBe(0);
    for (const mac of MACS) {
      const r = client('lease', { family: 6, iface: 'kh-br', mac, timeoutMs: 4000 });
      expect(r, r.error).toMatchObject({ ok: true });
      granted6.push(r);
      note('v6 SARR', r.ms);
    }
    // two servers, two DUIDs: both halves served
    expect(new Set(granted6.map((g) => g.serverId)).size).toBe(2);
    for (const g of granted6) for (const h of ['a', 'b'] as const) expect(leases6(h)).toContain(`${g.address},`);
  }, 120_000);

  it('DHCPv6: head B loses power; after Pacemaker\'s notification A answers B\'s clients (REBIND) with their addresses', async () => {
    ip('-n', NS.b, 'link', 'set', 'kh0', 'down');
    killAll(NS.b);
    // B's half: the clients whose server DUID is not A's
    const aDuid = (await keaDuid('a'));
    const bClients = granted6.filter((g) => g.serverId !== aDuid);
    expect(bClients.length, `A's DUID ${aDuid}, servers ${granted6.map((g) => g.serverId).join(' ')}`).toBeGreaterThan(0);
    const before = client('renew', { family: 6, iface: 'kh-br', lease: bClients[0], mode: 'rebind', timeoutMs: 1500 });
    expect(before.ok, JSON.stringify(before)).toBe(false);
    const n = ns6Agent('a', 'notify', {
      OCF_RESKEY_CRM_meta_notify_type: 'post', OCF_RESKEY_CRM_meta_notify_operation: 'stop', OCF_RESKEY_CRM_meta_notify_stop_uname: NODE.b,
    });
    expect(n.code, n.stderr).toBe(0);
    note('v6 notify post-stop (agent process)', n.ms);
    expect((await haStatus(control6('a'), 2000)).state).toBe('partner-down');
    for (const g of bClients) {
      const r = client('renew', { family: 6, iface: 'kh-br', lease: g, mode: 'rebind', timeoutMs: 3000 });
      expect(r, r.error).toMatchObject({ ok: true, address: g.address, serverId: aDuid });
      note('v6 B client REBIND answered by A', r.ms);
    }
    ip('-n', NS.b, 'link', 'set', 'kh0', 'up');
    expect(ns6Agent('a', 'stop').code).toBe(0);
    expect(ns6Agent('b', 'stop').code).toBe(0);
  }, 120_000);

  /** Head h's DHCPv6 server DUID, as Kea keeps it in its data directory (state_dir). */
  async function keaDuid(h: Head): Promise<string> {
    const line = readFileSync(join(dir, `${h}6`, 'kea-dhcp6-serverid'), 'utf8').trim();
    return line.replace(/:/g, '').toLowerCase();
  }
});

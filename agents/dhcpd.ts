// ocf:ha-oscar:dhcpd — the PXE DHCP server as a cluster resource: ISC dhcpd (DHCPv4, or
// DHCPv6 with family=6: one resource per family) or Kea (server=kea: DHCPv4, and DHCPv6 with HA).
// The config is checked with the server's own test mode in validate-all and before every start.
// Leases live in state_dir, which moves with the service (shared storage or a synced dir).
// Kea HA (ha_mode): Kea on both heads as a clone with notify, leases replicated by Kea's HA hook
// (no shared storage); Pacemaker's post-stop notification of the partner makes the survivor serve
// every scope at once (src/service/kea.ts).
// Monitor: level 0 = the server process is alive; level 10 = a real DHCP exchange from this
// node: DHCPINFORM broadcast on the interface from the VIP (v4, answer must carry server
// identifier = server_id), INFORMATION-REQUEST to ff02::1:2 on the interface (v6).
import { defineAgent, p, fail, OCF, splitList, checkAbsolutePath, isIPv4, isIPv6, type Context } from '../src/ocf/agent';
import type { OcfCode } from '../src/ocf/codes';
import { oneLine } from '../src/ocf/log';
import { daemonState, logTail, runningPid, startDaemon, stopDaemon } from '../src/service/daemon';
import { boundSockets } from '../src/service/proc';
import { writeFileAtomic } from '../src/service/atomic';
import { roomProblem } from '../src/service/space';
import { run } from '../src/service/run';
import { dhcpInform, macFor } from '../src/probe/dhcp';
import { existsSync, mkdirSync, accessSync, constants, rmSync, readdirSync } from 'node:fs';
import { networkInterfaces, hostname } from 'node:os';
import { dirname } from 'node:path';
import { partitionMembers } from '../src/pacemaker/membership';
import { HA_RUNNING_STATES, allScopes, blockPartner, deriveKeaConfig, dropPartnerConnections, forgetNeighbour, haStatus, parseHaPeers, removeStaleBlock, serveEveryScope, type HaMode, type HaPeer } from '../src/service/kea';
import { version } from '../package.json';

const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}$/;
const DUID = /^([0-9a-fA-F]{2}:?){4,130}$/;

const params = {
  server: p.select({ options: ['isc', 'kea'] as const, default: 'isc', shortdesc: 'DHCP server: ISC dhcpd or Kea (DHCPv4; DHCPv6 with ha_mode)' }),
  family: p.select({ options: ['4', '6'] as const, default: '4', shortdesc: 'Address family: 4 (DHCPv4) or 6 (DHCPv6: ISC dhcpd -6, or kea-dhcp6 with ha_mode). One resource per family.' }),
  config: p.string({
    required: true, check: checkAbsolutePath,
    shortdesc: 'Server configuration file (dhcpd.conf, dhcpd6.conf, kea-dhcp4.conf or kea-dhcp6.conf)',
    longdesc: 'Checked with the server\'s own test mode (dhcpd -t -cf, kea-dhcp4 -t) in validate-all and before every start. A file missing or broken on this node gives OCF_ERR_INSTALLED (the service can still run on the peer, whose copy may be good), not OCF_ERR_CONFIGURED (which would stop it on every node). For Kea the agent writes a derived copy into state_dir with interfaces bound to interface/server_id and the lease file set to leasefile.',
  }),
  interface: p.string({
    required: true, uniqueGroup: 'listen',
    check: (s) => { const l = splitList(s); return l.length === 0 ? 'must name at least one interface' : l.every((i) => IFNAME.test(i)) ? undefined : 'must be interface names (1-15 letters, digits or _.@-, starting with a letter or digit)'; },
    shortdesc: 'Interface(s) to serve (the compute-node network)',
    longdesc: 'Space- or comma-separated interface names. ISC dhcpd gets them as arguments; Kea is bound to interface/server_id (a bare interface made Kea answer every request twice, once from the node\'s own address). The level-10 monitor probes on the first one.',
  }),
  server_id: p.string({
    check: (s) => (isIPv4(s) || isIPv6(s) || DUID.test(s) ? undefined : 'must be the VIP (an IPv4/IPv6 address) or, for family 6, a server DUID in hex'),
    uniqueGroup: 'listen',
    shortdesc: 'Server identifier: the VIP (v4); optionally the server DUID (v6)',
    longdesc: 'v4: the VIP the clients must see as DHCP server identifier, so that renewals reach whichever head holds the VIP. ISC dhcpd.conf must say "server-identifier <VIP>;" (the level-10 monitor fails otherwise); Kea is bound to interface/VIP. v6: when a DUID (hex), the monitor checks the answering server has it.',
  }),
  state_dir: p.string({
    check: checkAbsolutePath,
    shortdesc: 'Directory of the lease database (default /var/lib/ha-oscar/<instance>)',
    longdesc: 'Holds the leases (and Kea\'s derived config). It must move with the service: put it on shared storage mounted before this resource, or in a directory the cluster keeps in sync between the heads. Otherwise clients lose their addresses at failover.',
  }),
  leasefile: p.string({ check: checkAbsolutePath, shortdesc: 'Lease file (default <state_dir>/dhcpd.leases, dhcpd6.leases or kea-leases4.csv)' }),
  pidfile: p.string({ check: checkAbsolutePath, shortdesc: 'Pidfile (default /run/ha-oscar/<instance>.pid)' }),
  user: p.string({ pattern: /^[a-z_][a-z0-9_-]{0,31}$/, patternHint: 'a user name', shortdesc: 'ISC dhcpd: run as this user (-user; only with a dhcpd built with --enable-paranoia)' }),
  group: p.string({ pattern: /^[a-z_][a-z0-9_-]{0,31}$/, patternHint: 'a group name', shortdesc: 'ISC dhcpd: run as this group (-group; only with a dhcpd built with --enable-paranoia)' }),
  ha_mode: p.select({
    options: ['off', 'hot-standby', 'load-balancing'] as const, default: 'off',
    shortdesc: 'Kea HA: off, hot-standby or load-balancing (server=kea; run the resource as a clone with notify=true)',
    longdesc: 'Kea on both heads, its HA hook replicating every lease to the partner as it is granted (no shared storage: state_dir is each head\'s own). hot-standby: the first head of ha_peers serves, the second stands by; load-balancing: both serve, each its half of the clients, and each allocates from its own half of every pool the config leaves without a client-class (the agent splits it: client-class HA_<head>; never one address to two clients). Each head answers from its own address on interface (server_id must be unset). When Pacemaker has stopped the partner\'s instance or fenced its head (the post-stop notification), this head serves every scope at once (Kea\'s ha-maintenance-start: partner-down); Kea\'s own detection (10 s without heartbeats, and clients left unanswered) is only the backstop.',
  }),
  ha_peers: p.string({
    check: (s) => { const r = parseHaPeers(s); return typeof r === 'string' ? `must be two name=address entries (the heads' node names and their HA addresses): ${r}` : undefined; },
    shortdesc: 'Kea HA: "head1=ADDRESS head2=ADDRESS" (node names and the addresses the HA hooks talk over)',
    longdesc: 'Both heads, as Pacemaker names them, each with its own address on the network the HA hooks talk over (the cluster network, never a VIP). The first is the primary. The same value on both heads; each finds itself by its node name.',
  }),
  ha_port: p.integer({ min: 1, max: 65535, shortdesc: 'Kea HA: TCP port of the HA hook\'s own HTTP listener on each head\'s ha_peers address (default 8001 for DHCPv4, 8002 for DHCPv6)' }),
};
type Ctx = Context<typeof params>;

const exeName = (c: Ctx) => (c.params.server === 'kea' ? `kea-dhcp${c.params.family}` : 'dhcpd');
const ifaces = (c: Ctx) => splitList(c.params.interface);

function paths(c: Ctx) {
  const state = c.params.state_dir ?? `/var/lib/ha-oscar/${c.instanceId}`;
  const pidfile = c.params.pidfile ?? `/run/ha-oscar/${c.instanceId}.pid`;
  const lease = c.params.server === 'kea' ? `kea-leases${c.params.family}.csv` : c.params.family === '6' ? 'dhcpd6.leases' : 'dhcpd.leases';
  return {
    state,
    pidfile,
    rundir: `${pidfile}.d`,
    leasefile: c.params.leasefile ?? `${state}/${lease}`,
    log: `${pidfile}.log`,
    keaConf: `${state}/kea-dhcp${c.params.family}.derived.json`,
    control: `${pidfile}.d/kea${c.params.family}-ctrl.sock`,
  };
}

/** The server's own complaint, on one line, from its test-mode output. */
function serverMessage(out: string): string {
  const lines = out.split('\n').map((l) => l.trim()).filter(Boolean);
  const kea = lines.find((l) => /^(Syntax check failed with|Error encountered):/.test(l));
  if (kea) return oneLine(kea, 300);
  const banner = /^(Internet Systems Consortium|Copyright|All rights reserved|For info, please visit)/;
  const useful = lines.filter((l) => !banner.test(l) && !/^\^$/.test(l));
  const first = useful.find((l) => /line \d+:|Can't open|No subnet|Not configured to listen/i.test(l)) ?? useful[0] ?? '(no output)';
  return oneLine(first, 300);
}

/**
 * The server's own test mode on `file`. `code`: OCF_ERR_INSTALLED for the admin's config file,
 * which lives on each node (a copy broken on this node must let the peer run the service:
 * ERR_CONFIGURED would stop it on every node); ERR_CONFIGURED for what the parameters made.
 */
async function configTest(c: Ctx, exe: string, file: string, code: OcfCode = OCF.ERR_INSTALLED): Promise<void> {
  const argv = c.params.server === 'kea' ? ['-t', file] : [...(c.params.family === '6' ? ['-6'] : []), '-t', '-cf', file];
  const r = await run(exe, argv, { timeoutMs: Math.max(2000, Math.min(15000, c.remaining() - 1000)), cleanEnv: true });
  if (r.timedOut) fail(OCF.ERR_GENERIC, `${exeName(c)} config test of ${file} timed out`);
  if (r.code !== 0) {
    const m = serverMessage(`${r.stdout}\n${r.stderr}`);
    fail(code, m.includes(file) ? m : `${file}: ${m}`);
  }
}

const haOn = (c: Ctx) => c.params.server === 'kea' && c.params.ha_mode !== 'off';
const haPeers = (c: Ctx) => parseHaPeers(c.params.ha_peers ?? '') as HaPeer[];
/** This head's name in ha_peers: the node name Pacemaker runs the action on. */
const haNode = (c: Ctx) => c.env.OCF_RESKEY_CRM_meta_on_node || hostname();
/** The HA listener's port: DHCPv4 and DHCPv6 each have their own on the same addresses. */
const haPort = (c: Ctx) => c.params.ha_port ?? (c.params.family === '6' ? 8002 : 8001);

/** This head's own IPv4 address on the interface (the first one: a VIP is added after it). */
function ownAddress4(c: Ctx): string | undefined {
  return networkInterfaces()[ifaces(c)[0]!]?.find((x) => x.family === 'IPv4')?.address;
}

/** Where Kea binds: interface/VIP, or with HA each head's own address (no head holds a VIP for it). */
function keaBind(c: Ctx): string {
  const a = haOn(c) ? ownAddress4(c) : c.params.server_id;
  if (!a) fail(OCF.ERR_INSTALLED, `no IPv4 address on ${ifaces(c)[0]} for Kea to answer from`);
  return a;
}

/** Kea's derived config for these parameters (src/service/kea.ts keaDerived). */
function keaDerived(c: Ctx): string {
  const f = paths(c);
  const ha = haOn(c) ? { mode: c.params.ha_mode as HaMode, peers: haPeers(c), thisName: haNode(c), port: haPort(c), controlSocket: f.control } : undefined;
  return deriveKeaConfig({
    config: c.params.config, family: c.params.family, interfaces: ifaces(c),
    // DHCPv4 binds the VIP, or with HA each head's own address; DHCPv6 (HA only) the bare interface
    bind: c.params.family === '4' ? () => keaBind(c) : undefined,
    state: f.state, leasefile: f.leasefile, logfile: `${f.rundir}/${exeName(c)}.log`, ha,
  });
}

function interfaceAddress4(c: Ctx): string | undefined {
  return c.params.server_id && isIPv4(c.params.server_id) ? c.params.server_id : ownAddress4(c);
}

/** One DHCP exchange from this node to the running server; a reason when it fails. */
async function answering(c: Ctx, timeoutMs: number, strict = true): Promise<string | undefined> {
  const iface = ifaces(c)[0]!;
  if (c.params.server === 'kea') {
    // Kea drops frames the node sends itself (its packet filter skips outgoing frames, and its
    // UDP socket only sends), so no DHCP exchange from the node can reach it: check that Kea
    // itself holds the DHCP socket on the VIP. The real exchange is the client-side probe's job.
    const exe = exeName(c);
    const pid = runningPid(paths(c).pidfile, c.bin(exe));
    if (pid === undefined) return `${exe} is not running`;
    if (c.params.family === '6') {
      if (!boundSockets(pid).some((b) => b.proto === 'udp6' && b.port === 547)) return `${exe} (pid ${pid}) holds no DHCPv6 socket (port 547)`;
    } else {
      const bind = haOn(c) ? ownAddress4(c) : c.params.server_id;
      const s = boundSockets(pid).find((b) => b.proto === 'udp' && b.address === bind && b.port === 67);
      if (!s) return `${exe} (pid ${pid}) holds no DHCP socket on ${bind}:67`;
    }
    if (!haOn(c)) return undefined;
    // with HA, Kea's own view over its control channel: it answers (not hung) and its HA state is one that serves
    try {
      const st = await haStatus(paths(c).control, timeoutMs);
      return (HA_RUNNING_STATES as readonly string[]).includes(st.state) ? undefined : `${exe}'s HA service is in state ${st.state}: it serves no client until restarted`;
    } catch (e) { return oneLine((e as Error).message, 200); }
  }
  const mac = macFor(`${hostname()}/${c.instance}`);
  if (c.params.family === '4') {
    const local = interfaceAddress4(c);
    if (!local) return `no IPv4 address on ${iface} to probe from (set server_id to the VIP)`;
    const r = await dhcpInform({ family: 4, localAddress: local, mac, timeoutMs, retransmitMs: Math.max(100, Math.floor(timeoutMs / 3)) });
    if (!r.ok) return `no DHCPv4 answer on ${iface}: ${r.error}`;
    if (strict && c.params.server_id && r.serverId !== c.params.server_id) {
      return `DHCPv4 server on ${iface} answers with server identifier ${r.serverId ?? '(none)'}, not ${c.params.server_id}: renewals would miss the VIP after failover (add "server-identifier ${c.params.server_id};" to ${c.params.config})`;
    }
    return undefined;
  }
  const r = await dhcpInform({ family: 6, iface, mac, timeoutMs, retransmitMs: Math.max(100, Math.floor(timeoutMs / 3)) });
  if (!r.ok) return `no DHCPv6 answer on ${iface} (ff02::1:2): ${r.error}`;
  const want = c.params.server_id && DUID.test(c.params.server_id) && !isIPv6(c.params.server_id) ? c.params.server_id.replace(/:/g, '').toLowerCase() : undefined;
  if (strict && want && r.serverId !== want) return `DHCPv6 server on ${iface} has DUID ${r.serverId}, not ${want}`;
  return undefined;
}

async function supportsUser(exe: string): Promise<boolean> {
  const r = await run(exe, ['-h'], { timeoutMs: 5000, cleanEnv: true });
  return /-user\b/.test(r.stdout + r.stderr);
}

export default defineAgent({
  name: 'dhcpd',
  version,
  shortdesc: 'DHCP server (ISC dhcpd v4/v6, Kea v4, Kea HA v4/v6) for PXE boot',
  longdesc: 'Runs ISC dhcpd (DHCPv4, or DHCPv6 with family=6) or Kea DHCPv4 in the foreground as a cluster resource on the compute-node network. The configuration is checked with the server\'s own test mode before every start. Leases live in state_dir, which must move with the service (shared storage or a synced directory). Level 10 monitors do a real DHCP exchange from the node (DHCPINFORM from the VIP, or a DHCPv6 Information-request), and check that the lease file\'s directory has room to rewrite it (twice its size, at least 64 KiB): a server that cannot record its leases fails the monitor, and start refuses to run it there, so the service moves to the peer.',
  params,
  needsRoot: true,
  binaries: (pr) => [pr.server === 'kea' ? `kea-dhcp${pr.family}` : 'dhcpd'],
  timeouts: { start: 30, stop: 20, monitor: 20 },
  monitors: [{ depth: 0, interval: 10 }, { depth: 10, interval: 120, timeout: 20 }],
  // what the level-0 monitor looks at (src/ocf/fastpath.ts: a sh fast path answers it)
  processes: (c) => [{ pidfile: paths(c).pidfile, exe: c.bin(exeName(c)) }],

  async validate(c) {
    const pr = c.params;
    if (pr.server === 'kea' && pr.family === '6' && pr.ha_mode === 'off') fail(OCF.ERR_CONFIGURED, 'server=kea with family 6 needs ha_mode (Kea HA); without it use server=isc for DHCPv6');
    if (pr.server === 'kea' && (pr.user || pr.group)) fail(OCF.ERR_CONFIGURED, 'user/group are not supported with server=kea');
    if (pr.family === '4' && pr.server_id && !isIPv4(pr.server_id)) fail(OCF.ERR_CONFIGURED, `server_id ${pr.server_id} must be an IPv4 address (the VIP) for family 4`);
    if (pr.family === '6' && pr.server_id && isIPv4(pr.server_id)) fail(OCF.ERR_CONFIGURED, `server_id ${pr.server_id} must be an IPv6 address or a DUID for family 6`);
    if (pr.ha_mode !== 'off') {
      if (pr.server !== 'kea') fail(OCF.ERR_CONFIGURED, `ha_mode=${pr.ha_mode} needs server=kea (ISC dhcpd has no HA here)`);
      if (!pr.ha_peers) fail(OCF.ERR_CONFIGURED, `ha_mode=${pr.ha_mode} needs ha_peers ("head1=ADDRESS head2=ADDRESS")`);
      if (pr.server_id) fail(OCF.ERR_CONFIGURED, 'with ha_mode each head answers from its own address: unset server_id');
      // a unix socket path must fit sun_path (108 bytes): Kea would fail to start on a longer one
      if (Buffer.byteLength(paths(c).control) > 107) fail(OCF.ERR_CONFIGURED, `pidfile ${paths(c).pidfile} is too long: Kea's control socket ${paths(c).control} must fit in 107 bytes`);
      const me = haNode(c);
      if (!haPeers(c).some((x) => x.name === me)) fail(OCF.ERR_CONFIGURED, `this node (${me}) is not one of ha_peers (${haPeers(c).map((x) => x.name).join(', ')})`);
    } else if (pr.server === 'kea' && !pr.server_id) fail(OCF.ERR_CONFIGURED, 'server=kea needs server_id (the VIP): Kea is bound to interface/VIP (or set ha_mode)');
    // the config file is this node's (ERR_INSTALLED: the peer may still run the service)
    try { accessSync(pr.config, constants.R_OK); } catch { fail(OCF.ERR_INSTALLED, `config file ${pr.config} does not exist or is not readable on this node`); }
    const missing = ifaces(c).filter((i) => !existsSync(`/sys/class/net/${i}`));
    if (missing.length) fail(OCF.ERR_INSTALLED, `interface ${missing.join(', ')} does not exist on this node`);
    const exe = c.bin(exeName(c));
    if ((pr.user || pr.group) && !(await supportsUser(exe))) fail(OCF.ERR_CONFIGURED, `${exe} has no -user/-group option (built without --enable-paranoia): unset user and group`);
    if (pr.server === 'kea') {
      await configTest(c, exe, pr.config);
      // the derived file is what runs: check it too (in a temp copy, not over the live one)
      const f = paths(c);
      mkdirSync(f.rundir, { recursive: true, mode: 0o755 });
      // Kea DHCPv6 checks that its data directory (state_dir: the server DUID) exists
      if (c.params.family === '6') mkdirSync(f.state, { recursive: true, mode: 0o750 });
      const tmp = `${f.rundir}/${exeName(c)}.check.json`;
      writeFileAtomic(tmp, keaDerived(c), { mode: 0o640 });
      await configTest(c, exe, tmp, OCF.ERR_CONFIGURED); // the admin's file passed: the parameters broke it
    } else {
      await configTest(c, exe, pr.config);
    }
  },

  async start(c) {
    const f = paths(c);
    const exe = c.bin(exeName(c));
    if (daemonState(f.pidfile, exe).state === 'running') return OCF.SUCCESS;
    mkdirSync(f.state, { recursive: true, mode: 0o750 });
    mkdirSync(f.rundir, { recursive: true, mode: 0o755 });
    // a server that cannot record its leases must not run here: the peer can (src/service/space.ts)
    const full = roomProblem(dirname(f.leasefile), f.leasefile);
    if (full) fail(OCF.ERR_GENERIC, full);
    let argv: string[];
    let env: Record<string, string> | undefined;
    if (c.params.server === 'kea') {
      writeFileAtomic(f.keaConf, keaDerived(c), { mode: 0o640 });
      // Kea, like dhcpd, refuses to start while its own pidfile names a live PID
      for (const n of readdirSync(f.rundir)) if (n.endsWith(`.${exeName(c)}.pid`)) rmSync(`${f.rundir}/${n}`, { force: true });
      argv = [exe, '-c', f.keaConf];
      env = { KEA_PIDFILE_DIR: f.rundir, KEA_LOCKFILE_DIR: f.rundir };
    } else {
      if (!existsSync(f.leasefile)) writeFileAtomic(f.leasefile, '', { mode: 0o644, mkdir: true });
      // dhcpd refuses to start ("There's already a DHCP server running") while its own -pf file
      // names a live PID: a reused PID, or our stopped dhcpd not yet reaped. Ours says stopped.
      rmSync(`${f.rundir}/dhcpd.pid`, { force: true });
      argv = [exe, '-f', ...(c.params.family === '6' ? ['-6'] : ['-4']), '-cf', c.params.config, '-lf', f.leasefile, '-pf', `${f.rundir}/dhcpd.pid`];
      if (c.params.user) argv.push('-user', c.params.user);
      if (c.params.group) argv.push('-group', c.params.group);
      argv.push(...ifaces(c));
    }
    try {
      const pid = await startDaemon(
        { argv, pidfile: f.pidfile, logfile: f.log, env },
        { timeoutMs: Math.max(1000, c.remaining() - 500), pollMs: 200, ready: async () => (await answering(c, 400, false)) === undefined },
      );
      c.log.info(`started ${exeName(c)} (pid ${pid}) for DHCPv${c.params.family} on ${ifaces(c).join(' ')}, leases in ${f.leasefile}${haOn(c) ? `, Kea HA ${c.params.ha_mode} as ${haNode(c)}` : ''}`);
    } catch (e) {
      fail(OCF.ERR_GENERIC, `start failed: ${oneLine((e as Error).message, 300)}`);
    }
    // it answers; with the wrong server identifier it is misconfigured for failover
    const why = await answering(c, Math.max(500, Math.min(3000, c.remaining() - 2000)));
    if (why) {
      await stopDaemon(f.pidfile, exe, 5000);
      fail(/server identifier|DUID/.test(why) ? OCF.ERR_CONFIGURED : OCF.ERR_GENERIC, why);
    }
    // an answer may have come from another server on the link while ours died (port taken)
    if (daemonState(f.pidfile, exe).state !== 'running') fail(OCF.ERR_GENERIC, `${exeName(c)} exited right after start: ${logTail(f.log, 2) || 'no output'}`);
  },

  async stop(c) {
    const f = paths(c);
    await stopDaemon(f.pidfile, c.bin(exeName(c)), c.remaining());
  },

  /**
   * Kea HA: after Pacemaker stopped the partner's instance (a stop, or its head fenced), serve
   * every scope now. Other notifications need nothing: a returning partner syncs its leases from
   * this head by itself (Kea's waiting -> syncing -> ready).
   */
  async notify(c) {
    if (!haOn(c)) return OCF.SUCCESS;
    const e = c.env;
    const stopped = splitList(e.OCF_RESKEY_CRM_meta_notify_stop_uname ?? '');
    const me = haNode(c);
    const partner = haPeers(c).find((x) => x.name !== me);
    if (e.OCF_RESKEY_CRM_meta_notify_type !== 'post' || e.OCF_RESKEY_CRM_meta_notify_operation !== 'stop' || !partner || !stopped.includes(partner.name) || stopped.includes(me)) return OCF.SUCCESS;
    if (daemonState(paths(c).pidfile, c.bin(exeName(c))).state !== 'running') return OCF.SUCCESS;
    const scopes = allScopes(c.params.ha_mode as HaMode, haPeers(c));
    const t0 = Date.now();
    const stale = await forgetNeighbour(partner.address);
    if (stale) c.log.warn(stale);
    // its Kea does not run: Kea's attempt to tell it fails at once instead of after ~3 s of ARP/NDP
    const block = await blockPartner(partner.address);
    if (typeof block === 'string') c.log.warn(block);
    // a partner out of the partition (fenced, dead) answers nothing: the lease updates Kea had
    // already sent it would hold Kea's packet threads until its 10-s HTTP timeout
    const members = await partitionMembers();
    if (members && !members.includes(partner.name)) {
      const dropped = await dropPartnerConnections(partner.address, haPort(c));
      if (dropped) c.log.info(`${partner.name} is out of the partition: ${dropped}`);
    }
    try {
      const st = await serveEveryScope(paths(c).control, scopes, Math.max(1000, c.remaining() - 1500));
      c.log.info(`Pacemaker stopped the partner's instance on ${partner.name}: Kea serves every scope (${st.scopes.join(', ') || scopes.join(', ')}), state ${st.state} after ${Date.now() - t0} ms${st.commands.length ? ` (${st.commands.join('; ')})` : ''}`);
    } catch (err) {
      // not a failure of this instance: Kea's own detection still takes over after max-response-delay
      c.log.warn(`Pacemaker stopped the partner's instance on ${partner.name}, but Kea could not be made to serve its scope now: ${oneLine((err as Error).message, 200)}`);
    } finally {
      const left = typeof block === 'string' ? undefined : await block.undo();
      if (left) c.log.warn(left);
    }
    return OCF.SUCCESS;
  },

  async monitor(c) {
    const f = paths(c);
    const st = daemonState(f.pidfile, c.bin(exeName(c)));
    if (st.state === 'stopped') return OCF.NOT_RUNNING;
    if (c.checkLevel >= 10) {
      // a notify killed between blocking the partner and undoing it (see notify) must not cut the pair for good
      const partner = haOn(c) ? haPeers(c).find((x) => x.name !== haNode(c)) : undefined;
      const stale = partner ? await removeStaleBlock(partner.address) : undefined;
      if (stale) c.log.warn(stale);
      const why = await answering(c, Math.min(3000, Math.max(500, c.remaining() / 3)));
      if (why) fail(OCF.ERR_GENERIC, why);
      // it answers, but grants leases it cannot write: fail, so that start (which refuses a full
      // directory) moves the service to the peer
      const full = roomProblem(dirname(f.leasefile), f.leasefile);
      if (full) fail(OCF.ERR_GENERIC, full);
    }
    return OCF.SUCCESS;
  },
}).main();

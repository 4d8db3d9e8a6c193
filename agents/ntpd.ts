// ocf:ha-oscar:ntpd — the cluster's time server: chrony (default) or ntpsec, serving the
// compute nodes on the VIPs (IPv4 and IPv6), with a local-stratum/orphan fallback and the
// other head as peer.
// Monitor: level 0 = the daemon is alive; level 10 = a real NTP mode-3 query to every listen
// address, answered with a sane stratum and no leap alarm; level 20 = the daemon reports itself
// synchronised (to upstream, or to its local/orphan reference when upstream is unreachable).
import { defineAgent, p, fail, OCF, OcfError, splitList, checkAddressList, checkAbsolutePath, isIP, isIPv4, isIPv6, type Context } from '../src/ocf/agent';
import { startDaemon, stopDaemon, daemonState, runningPid } from '../src/service/daemon';
import { writeFileAtomic } from '../src/service/atomic';
import { ntpQuery } from '../src/probe/ntp';
import { accessSync, constants, existsSync, mkdirSync, rmSync, statSync, openSync, readSync, closeSync } from 'node:fs';

const sizeOf = (file: string) => { try { return statSync(file).size; } catch { return 0; } };
/** What a log file gained since it had `from` bytes (at most 64 KiB). */
function newLogText(file: string, from: number): string {
  try {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(Math.max(0, Math.min(65536, sizeOf(file) - from)));
      readSync(fd, buf, 0, buf.length, from);
      return buf.toString('utf8');
    } finally { closeSync(fd); }
  } catch { return ''; }
}
import { networkInterfaces, hostname } from 'node:os';
import { version } from '../package.json';

const HOST = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

/** check(): host names or IPv4/IPv6 addresses. */
function checkHostList(s: string): string | undefined {
  const items = splitList(s);
  if (items.length === 0) return 'must list at least one host name or address';
  const bad = items.find((h) => !(isIP(h) || (HOST.test(h) && !/^[\d.]+$/.test(h))));
  return bad === undefined ? undefined : `must list host names or IPv4/IPv6 addresses, and ${JSON.stringify(bad.slice(0, 45))} is not one`;
}

/** check(): networks (address or address/prefix), IPv4 or IPv6. */
function checkNetworkList(s: string): string | undefined {
  const items = splitList(s);
  if (items.length === 0) return 'must list at least one network (address or address/prefix)';
  for (const n of items) {
    const [addr, prefix, extra] = n.split('/');
    const ok = extra === undefined && addr !== undefined && isIP(addr)
      && (prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= (isIPv4(addr) ? 32 : 128)));
    if (!ok) return `must list networks such as 192.0.2.0/24 or 2001:db8::/32, and ${JSON.stringify(n.slice(0, 50))} is not one`;
  }
  return undefined;
}

const params = {
  server: p.select({
    options: ['chrony', 'ntpsec'] as const, default: 'chrony',
    shortdesc: 'NTP implementation: chrony (chronyd) or ntpsec (ntpd)',
  }),
  listen: p.string({
    required: true, uniqueGroup: 'address', check: checkAddressList,
    shortdesc: 'Addresses to serve NTP on (IPv4/IPv6 VIPs, or 0.0.0.0/:: for all)',
    longdesc: 'Space- or comma-separated IPv4 and IPv6 addresses the server answers on, normally the cluster VIPs. chrony binds one address per family: with one address of a family it binds exactly that address; with several it serves that family on every local address (wildcard) and relies on "allow" to limit who is answered. A family not listed is served on loopback only. The level-10 monitor queries every listed address (0.0.0.0 and :: are queried on 127.0.0.1 and ::1).',
  }),
  port: p.integer({ default: 123, min: 1, max: 65535, uniqueGroup: 'address', shortdesc: 'UDP port to serve NTP on (chrony only; ntpsec always uses 123)' }),
  upstream: p.string({
    check: checkHostList,
    shortdesc: 'Upstream NTP servers (host names or addresses)',
    longdesc: 'Space- or comma-separated upstream servers (the site\'s time sources), polled with iburst. Unset: the cluster keeps its own time from the local/orphan reference.',
  }),
  upstream_port: p.integer({ default: 123, min: 1, max: 65535, shortdesc: 'UDP port of the upstream servers and of the peer (chrony only)' }),
  allow: p.string({
    check: checkNetworkList,
    shortdesc: 'Networks allowed to query (address or address/prefix, IPv4/IPv6)',
    longdesc: 'Space- or comma-separated networks whose hosts may query this server, normally the compute nodes\' networks. Loopback and the listen addresses themselves are always allowed (the monitor queries from them). Everything else is refused.',
  }),
  local_stratum: p.integer({
    default: 10, min: 0, max: 15,
    shortdesc: 'Stratum of the local/orphan fallback (0 = no fallback)',
    longdesc: 'When upstream is unreachable the server keeps serving its own clock at this stratum, so the cluster stays on one time: chrony "local stratum N orphan", ntpsec "tos orphan N". Both heads must use the same value and name each other as peer. 0 disables the fallback: without upstream the server then answers "unsynchronised".',
  }),
  peer: p.string({
    check: checkHostList,
    shortdesc: 'The other head (host name or address), as a symmetric peer',
    longdesc: 'The other head node\'s address(es). The two heads then agree on one time, and in orphan mode the one with the smaller reference ID leads. Listing BOTH heads is fine (and what a clone needs): each instance leaves out its own addresses and host name.',
  }),
  clock_control: p.boolean({
    default: true,
    shortdesc: 'Let the daemon discipline the system clock',
    longdesc: 'true on a real head. false runs chronyd with -x and ntpd with "disable ntp" and without CAP_SYS_TIME: the daemon never steps or slews the clock. The lab sets it false because every namespace shares one clock.',
  }),
  minpoll: p.integer({ default: 6, min: 0, max: 17, shortdesc: 'Minimum poll interval towards upstream and peer, as log2 seconds (6 = 64 s)' }),
  maxpoll: p.integer({ default: 10, min: 0, max: 17, shortdesc: 'Maximum poll interval, as log2 seconds (10 = 1024 s)' }),
  binary: p.string({
    pattern: /^[A-Za-z0-9._+\/-]{1,255}$/, patternHint: 'an executable name or absolute path',
    check: (s) => (s.includes('/') ? checkAbsolutePath(s) : undefined),
    shortdesc: 'The daemon executable (default chronyd or ntpd, found in PATH/sbin)',
    longdesc: 'Name or absolute path of chronyd or ntpd. Use a path for an ntpsec unpacked outside the package manager (ntpsec and chrony conflict as Debian packages).',
  }),
  extra_config: p.string({
    check: checkAbsolutePath,
    shortdesc: 'A file included at the end of the generated configuration',
    longdesc: 'Absolute path of a file with extra directives (keys, NTS, logging...), included after the generated ones (chrony "include", ntpsec "includefile").',
  }),
  user: p.string({ pattern: /^[a-z_][a-z0-9_-]{0,31}$/, patternHint: 'a user name', shortdesc: 'Run the daemon as this user after start (default: chrony\'s built-in _chrony; ntpd stays root)' }),
  pidfile: p.string({ check: checkAbsolutePath, shortdesc: 'Pidfile (default /run/ha-oscar/<instance>.pid)' }),
  state_dir: p.string({ check: checkAbsolutePath, shortdesc: 'Directory for the generated config, log, drift file and command socket (default /var/lib/ha-oscar/<instance>)' }),
};
type Ctx = Context<typeof params>;

const daemonName = (c: Ctx) => c.params.binary ?? (c.params.server === 'chrony' ? 'chronyd' : 'ntpd');

const paths = (c: Ctx) => {
  const state = c.params.state_dir ?? `/var/lib/ha-oscar/${c.instanceId}`;
  // chronyd creates <state>/chrony itself (mode 0750, owned by its user) before dropping root:
  // the command socket and the drift file live there.
  const priv = c.params.server === 'chrony' ? `${state}/chrony` : `${state}/ntpsec`;
  return {
    state,
    priv,
    conf: `${state}/${c.params.server === 'chrony' ? 'chrony.conf' : 'ntp.conf'}`,
    log: `${state}/${c.params.server === 'chrony' ? 'chronyd' : 'ntpd'}.log`,
    sock: `${priv}/chronyd.sock`,
    drift: `${priv}/drift`,
    innerPid: `${priv}/${c.params.server === 'chrony' ? 'chronyd' : 'ntpd'}.pid`,
    pidfile: c.params.pidfile ?? `/run/ha-oscar/${c.instanceId}.pid`,
  };
};

const fam = (c: Ctx) => {
  const all = splitList(c.params.listen);
  return { v4: all.filter(isIPv4), v6: all.filter(isIPv6), all };
};

/** The address the monitor asks: a wildcard listen address is asked on loopback. */
const probeAddr = (a: string) => (a === '0.0.0.0' ? '127.0.0.1' : a === '::' ? '::1' : a);
const show = (a: string, port: number) => (a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`);
const isWild = (a: string) => a === '0.0.0.0' || a === '::';

/** Addresses always allowed to query: loopback and the (non-wildcard) listen addresses. */
function selfAllow(c: Ctx): string[] {
  return [...new Set(['127.0.0.1', '::1', ...fam(c).all.filter((a) => !isWild(a))])];
}

/**
 * The peers other than this node: a clone on both heads gets the same "peer" list (both heads),
 * and each instance leaves itself out (its own addresses, its own host name).
 */
function otherPeers(c: Ctx): string[] {
  const own = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const a of list ?? []) own.add(a.address.toLowerCase());
  const host = hostname().toLowerCase();
  return splitList(c.params.peer).filter((p0) => {
    const x = p0.toLowerCase().replace(/\.$/, '');
    return !(own.has(x) || x === host || x === host.split('.')[0] || host === x.split('.')[0] && !isIP(x));
  });
}

function pollOpts(c: Ctx): string {
  const min = c.params.minpoll;
  const max = Math.max(min, c.params.maxpoll);
  return `minpoll ${min} maxpoll ${max}`;
}

function chronyConfig(c: Ctx): string {
  const f = paths(c);
  const { v4, v6 } = fam(c);
  const L = [`# Generated by ocf:ha-oscar:ntpd for resource ${c.instance}. Changes are overwritten at start.`];
  L.push(`port ${c.params.port}`);
  // one bindaddress per family; several addresses of a family -> wildcard, limited by allow
  // (0.0.0.0 / :: = the wildcard: no bindaddress at all)
  if (v4.length === 1 && !isWild(v4[0]!)) L.push(`bindaddress ${v4[0]}`);
  else if (v4.length === 0) L.push('bindaddress 127.0.0.1');
  if (v6.length === 1 && !isWild(v6[0]!)) L.push(`bindaddress ${v6[0]}`);
  else if (v6.length === 0) L.push('bindaddress ::1');
  const up = c.params.upstream_port === 123 ? '' : ` port ${c.params.upstream_port}`;
  for (const s of splitList(c.params.upstream)) L.push(`server ${s}${up} iburst ${pollOpts(c)}`);
  for (const s of otherPeers(c)) L.push(`peer ${s}${up} ${pollOpts(c)}`);
  for (const a of [...selfAllow(c), ...splitList(c.params.allow)]) L.push(`allow ${a}`);
  if (c.params.local_stratum > 0) L.push(`local stratum ${c.params.local_stratum} orphan`);
  if (c.params.clock_control) L.push('makestep 1.0 3', 'rtcsync');
  L.push(
    // the command socket of THIS instance (chronyc -h <socket>); no UDP command port
    'cmdport 0',
    `bindcmdaddress ${f.sock}`,
    `driftfile ${f.drift}`,
    `pidfile ${f.innerPid}`,
  );
  if (c.params.extra_config) L.push(`include ${c.params.extra_config}`);
  return `${L.join('\n')}\n`;
}

function ntpsecConfig(c: Ctx): string {
  const f = paths(c);
  const { all } = fam(c);
  const L = [`# Generated by ocf:ha-oscar:ntpd for resource ${c.instance}. Changes are overwritten at start.`];
  L.push(`driftfile ${f.drift}`);
  // listen only where asked (plus loopback, for the monitor and ntpq)
  if (!all.some(isWild)) {
    L.push('interface ignore all');
    for (const a of new Set(['127.0.0.1', '::1', ...all])) L.push(`interface listen ${a}`);
  } else {
    if (!all.includes('0.0.0.0')) L.push('interface ignore ipv4', 'interface listen 127.0.0.1');
    if (!all.includes('::')) L.push('interface ignore ipv6', 'interface listen ::1');
    for (const a of all.filter((x) => !isWild(x))) L.push(`interface listen ${a}`);
  }
  L.push('restrict default ignore', 'restrict -6 default ignore');
  for (const a of selfAllow(c)) L.push(`restrict ${a} nomodify`);
  for (const n of splitList(c.params.allow)) L.push(`restrict ${n} nomodify noquery`);
  for (const s of splitList(c.params.upstream)) L.push(`server ${s} iburst ${pollOpts(c)}`, `restrict ${s} nomodify noquery`);
  // ntpsec has no symmetric mode any more ("peer" is read as "server"): the heads poll each
  // other as servers, which is what its orphan mode expects
  for (const s of otherPeers(c)) L.push(`server ${s} iburst ${pollOpts(c)}`, `restrict ${s} nomodify noquery`);
  if (c.params.local_stratum > 0) L.push(`tos orphan ${c.params.local_stratum}`, 'tos orphanwait 1');
  if (!c.params.clock_control) L.push('disable ntp', 'disable kernel');
  if (c.params.extra_config) L.push(`includefile ${c.params.extra_config}`);
  return `${L.join('\n')}\n`;
}

interface Answer {
  why?: string;
  /** every address got an NTP reply (even "unsynchronised") */
  answered: boolean;
  /** the addresses that got one */
  answering: string[];
}

/** Query every listen address; the first problem, if any. */
async function answering(c: Ctx, timeoutMs: number): Promise<Answer> {
  const port = c.params.server === 'chrony' ? c.params.port : 123;
  const results = await Promise.all(fam(c).all.map(async (addr) => {
    const r = await ntpQuery(probeAddr(addr), port, { timeoutMs });
    return { addr, r };
  }));
  const bad = results.find((x) => !x.r.ok);
  const answeringAddrs = results.filter((x) => x.r.answered).map((x) => show(probeAddr(x.addr), port));
  if (!bad) return { answered: true, answering: answeringAddrs };
  return {
    answered: results.every((x) => x.r.answered),
    answering: answeringAddrs,
    why: `NTP query to ${show(bad.addr, port)} failed: ${bad.r.error}`,
  };
}

// ---- level 20: the daemon's own view ------------------------------------------------------

interface SyncState { synced: boolean; stratum: number; reference: string; local: boolean; leap: string }

async function chronyTracking(c: Ctx): Promise<SyncState> {
  const { run, describeFailure } = await import('../src/service/run');
  const chronyc = c.bin('chronyc');
  const r = await run(chronyc, ['-h', paths(c).sock, '-n', '-c', 'tracking'], { timeoutMs: Math.max(1000, Math.min(5000, c.remaining() - 500)) });
  if (r.code !== 0) fail(OCF.ERR_GENERIC, `cannot ask chronyd for its state: ${describeFailure('chronyc tracking', r)}`);
  const f = r.stdout.trim().split('\n')[0]?.split(',') ?? [];
  if (f.length < 14) fail(OCF.ERR_GENERIC, `unexpected chronyc tracking output: ${JSON.stringify(r.stdout.slice(0, 100))}`);
  const stratum = Number(f[2]);
  const leap = f[13]!;
  const local = f[0] === '7F7F0101';
  return { synced: leap !== 'Not synchronised' && stratum >= 1 && stratum <= 15, stratum, reference: local ? 'its local reference' : (f[1] || f[0]!), local, leap };
}

async function ntpsecState(c: Ctx): Promise<SyncState> {
  const { ntpReadVars } = await import('../src/probe/ntp');
  const r = await ntpReadVars('127.0.0.1', 123, { timeoutMs: Math.max(500, Math.min(3000, c.remaining() / 3)) });
  if (!r.ok) fail(OCF.ERR_GENERIC, `cannot ask ntpd for its state: ${r.error}`);
  const v = r.vars!;
  const leap = Number(v.leap ?? '3');
  const stratum = Number(v.stratum ?? '16');
  const refid = (v.refid ?? '').replace(/^"|"$/g, '');
  // orphan parent: it serves its own clock at the orphan stratum
  const local = c.params.local_stratum > 0 && stratum === c.params.local_stratum;
  return { synced: leap !== 3 && stratum >= 1 && stratum <= 15, stratum, reference: local ? 'its local (orphan) reference' : refid || '?', local, leap: String(leap) };
}

export default defineAgent({
  name: 'ntpd',
  version,
  shortdesc: 'NTP time server (chrony or ntpsec) on the cluster VIPs',
  longdesc: 'Runs chronyd (default) or ntpsec ntpd as a cluster resource serving time to the compute nodes on the head-node VIPs (IPv4 and IPv6), with upstream servers, the other head as peer and a local-stratum/orphan fallback so the cluster keeps one time when upstream is unreachable. Level 10 monitors send a real NTP client query to every listen address; level 20 monitors ask the daemon whether it is synchronised.',
  params,
  needsRoot: true,
  binaries: (pp) => (pp.server === 'chrony' ? [pp.binary ?? 'chronyd', 'chronyc'] : [pp.binary ?? 'ntpd']),
  timeouts: { start: 30, stop: 20, monitor: 20 },
  monitors: [{ depth: 0, interval: 10 }, { depth: 10, interval: 120, timeout: 20 }, { depth: 20, interval: 300, timeout: 20 }],
  // what the level-0 monitor looks at (src/ocf/fastpath.ts: a sh fast path answers it)
  processes: (c) => [{ pidfile: paths(c).pidfile, exe: c.bin(daemonName(c)) }],

  validate(c) {
    if (c.params.minpoll > c.params.maxpoll) fail(OCF.ERR_CONFIGURED, `minpoll (${c.params.minpoll}) must not exceed maxpoll (${c.params.maxpoll})`);
    if (c.params.server === 'ntpsec') {
      if (c.params.port !== 123) fail(OCF.ERR_CONFIGURED, 'ntpsec always serves on port 123: leave "port" unset or 123');
      if (c.params.upstream_port !== 123) fail(OCF.ERR_CONFIGURED, 'ntpsec always asks upstream on port 123: leave "upstream_port" unset or 123');
    }
    if (c.params.extra_config) {
      try { accessSync(c.params.extra_config, constants.R_OK); } catch { fail(OCF.ERR_CONFIGURED, `extra_config file ${c.params.extra_config} does not exist or is not readable`); }
    }
    if (!c.params.upstream && !c.params.peer && c.params.local_stratum === 0) {
      fail(OCF.ERR_CONFIGURED, 'no time source: set upstream, peer or a local_stratum above 0');
    }
  },

  async start(c) {
    const f = paths(c);
    const exe = c.bin(daemonName(c));
    if (daemonState(f.pidfile, exe).state === 'running') return OCF.SUCCESS;
    mkdirSync(f.state, { recursive: true, mode: 0o755 });
    // a daemon of this instance whose pidfile we lost would hold the sockets: stop it first
    const orphan = runningPid(f.innerPid, exe);
    if (orphan !== undefined) {
      c.log.warn(`stopping a ${daemonName(c)} (pid ${orphan}) left over from this instance`);
      await stopDaemon(f.innerPid, exe, Math.min(10_000, c.remaining() / 2));
    }
    rmSync(f.innerPid, { force: true });
    // chronyd shares its port (SO_REUSEPORT) with another chronyd, so a second server on the
    // same address and port would start "fine" and answer half the queries: refuse it here
    const other = await answering(c, 300);
    if (other.answering.length > 0) {
      fail(OCF.ERR_GENERIC, `another NTP server already answers on ${other.answering.join(' ')}: stop it first (a system chrony/ntp service?)`);
    }
    let argv: string[];
    if (c.params.server === 'chrony') {
      writeFileAtomic(f.conf, chronyConfig(c), { mode: 0o644, mkdir: true });
      argv = [exe, '-d', '-f', f.conf];
      if (!c.params.clock_control) argv.push('-x');
      if (c.params.user) argv.push('-u', c.params.user);
    } else {
      mkdirSync(f.priv, { recursive: true, mode: 0o755 });
      writeFileAtomic(f.conf, ntpsecConfig(c), { mode: 0o644, mkdir: true });
      argv = [exe, '-n', '-c', f.conf, '-p', f.innerPid];
      if (c.params.user) argv.push('-u', c.params.user);
      if (!c.params.clock_control) {
        // no right to set the clock at all: drop CAP_SYS_TIME from the bounding set before exec
        const { which } = await import('../src/service/which');
        const setpriv = which('setpriv', c.env);
        if (!setpriv) fail(OCF.ERR_INSTALLED, 'clock_control=false with ntpsec needs setpriv (util-linux) to drop CAP_SYS_TIME');
        argv = [setpriv, '--bounding-set', '-sys_time', '--', ...argv];
      }
    }
    const t0 = Date.now();
    const logStart = sizeOf(f.log);
    try {
      const pid = await startDaemon(
        { argv, pidfile: f.pidfile, logfile: f.log },
        // ready when every listen address gets a reply to a real NTP query (even "unsynchronised")
        { timeoutMs: Math.max(1000, c.remaining() - 500), pollMs: 50, ready: async () => (await answering(c, 250)).answered },
      );
      // another server on the same port would answer the readiness queries for a daemon that
      // could not bind: chronyd says so in its log and carries on, so read what it said
      const said = newLogText(f.log, logStart).split('\n');
      const bindError = said.find((l) => /Could not bind .*NTP socket|Address already in use/.test(l));
      if (bindError) {
        await stopDaemon(f.pidfile, exe, Math.min(5000, c.remaining()));
        fail(OCF.ERR_GENERIC, `start failed: ${daemonName(c)} could not listen: ${bindError.replace(/^\S+Z /, '').trim()}`);
      }
      // without its command socket the level-20 monitor is blind: typically the chrony user
      // (it drops root) cannot reach state_dir because a parent directory is not searchable
      if (c.params.server === 'chrony' && !existsSync(f.sock)) {
        await stopDaemon(f.pidfile, exe, Math.min(5000, c.remaining()));
        const line = said.find((l) => /command socket/.test(l))?.replace(/^\S+Z /, '').trim();
        fail(OCF.ERR_CONFIGURED, `start failed: chronyd has no command socket${line ? ` (${line})` : ''}: state_dir ${f.state} and its parents must be searchable by the chrony user`);
      }
      c.log.info(`started ${daemonName(c)} (pid ${pid}) answering NTP on ${fam(c).all.join(' ')} after ${Date.now() - t0} ms`);
    } catch (e) {
      if (e instanceof OcfError) throw e;
      fail(OCF.ERR_GENERIC, `start failed: ${(e as Error).message}`);
    }
  },

  async stop(c) {
    const f = paths(c);
    const exe = c.bin(daemonName(c));
    await stopDaemon(f.pidfile, exe, c.remaining());
    rmSync(f.innerPid, { force: true });
  },

  async monitor(c) {
    const f = paths(c);
    const st = daemonState(f.pidfile, c.bin(daemonName(c)));
    if (st.state === 'stopped') return OCF.NOT_RUNNING;
    // level 20 first: "not synchronised" is the cause when the NTP answers are refused too
    if (c.checkLevel >= 20) {
      const s = c.params.server === 'chrony' ? await chronyTracking(c) : await ntpsecState(c);
      if (!s.synced) {
        fail(OCF.ERR_GENERIC, `${daemonName(c)} reports itself not synchronised (stratum ${s.stratum}, leap ${s.leap}): no reachable upstream or peer${c.params.local_stratum ? '' : ' and no local_stratum fallback'}`);
      }
      if (s.local && c.params.upstream) c.log.warn(`synchronised to ${s.reference} (stratum ${s.stratum}): upstream ${c.params.upstream} is not in use`);
      else c.log.debug(`synchronised to ${s.reference} (stratum ${s.stratum})`);
    }
    if (c.checkLevel >= 10) {
      const a = await answering(c, Math.min(2000, Math.max(300, c.remaining() / 3)));
      if (a.why) fail(OCF.ERR_GENERIC, a.why);
    }
    return OCF.SUCCESS;
  },
}).main();

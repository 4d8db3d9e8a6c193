// Kea DHCPv4 High Availability under Pacemaker (ocf:ha-oscar:dhcpd server=kea ha_mode=...):
// the HA hook's configuration the agent writes into Kea's derived config, Kea's control channel
// (a unix socket, one JSON command per connection), and the takeover Pacemaker asks for.
//
// Kea runs on both heads (a clone). Its HA hook replicates every lease to the partner as it is
// granted, over a dedicated HTTP listener on each head's own address, so no shared storage is
// needed. Who is alive is Pacemaker's call: once Pacemaker has stopped the partner's instance
// (or fenced its head), the survivor's agent puts Kea in partner-down (`ha-maintenance-start`
// against an unreachable partner), instead of waiting for Kea's own detection.
import { existsSync, readFileSync } from 'node:fs';
import { createConnection, isIPv6 } from 'node:net';
import { OCF, fail } from '../ocf/codes';
import { oneLine } from '../ocf/log';
import { describeFailure, run } from './run';
import { splitPools } from './kea-pools';

export type HaMode = 'hot-standby' | 'load-balancing';

export interface HaPeer { name: string; address: string }

/** "head1=198.51.100.1 head2=198.51.100.2" -> peers; a reason when it is not two distinct name=address entries. */
export function parseHaPeers(s: string): HaPeer[] | string {
  const items = s.split(/[\s,;]+/).filter(Boolean);
  const peers: HaPeer[] = [];
  for (const it of items) {
    const m = /^([A-Za-z0-9][A-Za-z0-9_.-]{0,62})=(.+)$/.exec(it);
    if (!m) return `"${it}" is not name=address`;
    peers.push({ name: m[1]!, address: m[2]!.replace(/^\[(.*)\]$/, '$1') });
  }
  if (peers.length !== 2) return `names ${peers.length} head(s): Kea HA pairs exactly two`;
  if (peers[0]!.name === peers[1]!.name) return `names ${peers[0]!.name} twice`;
  if (peers[0]!.address === peers[1]!.address) return `gives both heads the address ${peers[0]!.address}`;
  return peers;
}

/**
 * The HA timings the agent writes. Kea's defaults detect a dead partner in 60 s
 * (max-response-delay); here Pacemaker decides, so Kea's own detection is only the backstop
 * (and what lets a head that starts alone serve: waiting -> partner-down). Heartbeats every
 * second make a dead partner show at once in `ha-heartbeat`. max-ack-delay and
 * max-unacked-clients stay Kea's: a head only goes partner-down on its own when clients are
 * also left unanswered, so a cut of the HA link alone (both heads still serving their
 * clients) never makes both serve every scope.
 */
export const HA_TIMINGS = { 'heartbeat-delay': 1000, 'max-response-delay': 10000, 'max-ack-delay': 10000, 'max-unacked-clients': 10 } as const;

/** The Kea hooks directory that holds the HA and lease_cmds libraries, or undefined. */
export function hooksDir(): string | undefined {
  const arch = process.arch === 'x64' ? 'x86_64' : process.arch === 'arm64' ? 'aarch64' : process.arch;
  const dirs = [`/usr/lib/${arch}-linux-gnu/kea/hooks`, '/usr/lib64/kea/hooks', '/usr/lib/kea/hooks', '/usr/local/lib/kea/hooks'];
  return dirs.find((d) => existsSync(`${d}/libdhcp_ha.so`) && existsSync(`${d}/libdhcp_lease_cmds.so`));
}

const url = (p: HaPeer, port: number) => `http://${isIPv6(p.address) ? `[${p.address}]` : p.address}:${port}/`;

/** Roles in ha_peers order: the first is the primary. */
export function roles(mode: HaMode): [string, string] {
  return mode === 'hot-standby' ? ['primary', 'standby'] : ['primary', 'secondary'];
}

/**
 * The scopes a survivor serves once its partner is gone: both in load-balancing; in hot-standby
 * the primary's (the only scope there is).
 */
export function allScopes(mode: HaMode, peers: HaPeer[]): string[] {
  return mode === 'load-balancing' ? peers.map((p) => p.name) : [peers[0]!.name];
}

/**
 * Adds Kea HA to a Dhcp4 object (in place): the lease_cmds and HA hooks (after the admin's own
 * hooks), multi-threading (the dedicated HA listener needs it) and the control socket the agent
 * talks to; in load-balancing each head's half of every pool the admin did not classify
 * (splitPools). A reason when the admin's config already loads the HA hook or sets a control
 * socket, or has a pool that cannot be split.
 */
export function addHa(d4: Record<string, unknown>, o: { mode: HaMode; peers: HaPeer[]; thisName: string; port: number; hooks: string; controlSocket: string }): string | undefined {
  const hooks = Array.isArray(d4['hooks-libraries']) ? (d4['hooks-libraries'] as { library?: string }[]) : [];
  if (hooks.some((h) => /libdhcp_(ha|lease_cmds)\.so$/.test(String(h.library ?? '')))) {
    return 'the config already loads libdhcp_ha.so or libdhcp_lease_cmds.so: with ha_mode the agent writes the HA hook itself (remove them)';
  }
  if (d4['control-socket'] !== undefined) return 'the config sets a control-socket: with ha_mode the agent sets its own (remove it)';
  if (o.mode === 'load-balancing') {
    // each head its own half of every pool (src/service/kea-pools.ts): never one address to two clients
    const why = splitPools(d4, [o.peers[0]!.name, o.peers[1]!.name]);
    if (why) return why;
  }
  const [r1, r2] = roles(o.mode);
  d4['hooks-libraries'] = [
    ...hooks,
    { library: `${o.hooks}/libdhcp_lease_cmds.so` },
    {
      library: `${o.hooks}/libdhcp_ha.so`,
      parameters: {
        'high-availability': [{
          'this-server-name': o.thisName, mode: o.mode, ...HA_TIMINGS,
          'multi-threading': { 'enable-multi-threading': true, 'http-dedicated-listener': true, 'http-listener-threads': 2, 'http-client-threads': 2 },
          peers: o.peers.map((p, i) => ({ name: p.name, url: url(p, o.port), role: i === 0 ? r1 : r2, 'auto-failover': true })),
        }],
      },
    },
  ];
  const mt = (d4['multi-threading'] ?? {}) as Record<string, unknown>;
  d4['multi-threading'] = { 'thread-pool-size': 2, 'packet-queue-size': 64, ...mt, 'enable-multi-threading': true };
  d4['control-socket'] = { 'socket-type': 'unix', 'socket-name': o.controlSocket };
  return undefined;
}

/** Kea's config is JSON with //, # and C comments: strip them outside strings. */
function stripJsonComments(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      out += s.slice(i, j + 1);
      i = j;
    } else if (ch === '#' || (ch === '/' && s[i + 1] === '/')) {
      while (i < s.length && s[i] !== '\n') i++;
      out += '\n';
    } else if (ch === '/' && s[i + 1] === '*') {
      const e = s.indexOf('*/', i + 2);
      i = e < 0 ? s.length : e + 1;
    } else out += ch;
  }
  return out;
}

export interface KeaDeriveOptions {
  /** The admin's Kea config file. */
  config: string;
  family: '4' | '6';
  interfaces: string[];
  /** The address each interface is bound to (interface/address), asked for after the file is read; undefined: the bare interface. */
  bind?: () => string;
  state: string;
  leasefile: string;
  /** Where Kea logs when the admin's config has no loggers of its own. */
  logfile: string;
  ha?: { mode: HaMode; peers: HaPeer[]; thisName: string; port: number; controlSocket: string };
}

/**
 * The config Kea runs on: the admin's file, with the interfaces bound (service-sockets-require-all:
 * a Kea that cannot bind exits instead of running deaf), memfile leases at `leasefile`, DHCPv6's
 * server DUID in `state` (data-directory, not the host's /var/lib/kea), a log file Kea rotates
 * itself (10 MB x 3) unless the admin has loggers, and with `ha` the HA hook (addHa). A reason
 * with its OCF code (OcfError) when the file or the parameters do not allow it.
 */
export function deriveKeaConfig(o: KeaDeriveOptions): string {
  const key = `Dhcp${o.family}`;
  let conf: Record<string, unknown>;
  try { conf = JSON.parse(stripJsonComments(readFileSync(o.config, 'utf8'))); } catch (e) {
    fail(OCF.ERR_CONFIGURED, `${o.config}: not JSON the agent can read: ${oneLine((e as Error).message, 200)}`);
  }
  const d = conf[key] as Record<string, unknown> | undefined;
  if (!d || typeof d !== 'object') fail(OCF.ERR_CONFIGURED, `${o.config}: no "${key}" object`);
  const ic = (d['interfaces-config'] ?? {}) as Record<string, unknown>;
  const bind = o.bind?.();
  d['interfaces-config'] = { ...ic, interfaces: o.interfaces.map((i) => (bind ? `${i}/${bind}` : i)), 'service-sockets-require-all': true };
  if (o.family === '6') d['data-directory'] = o.state;
  const ldb = (d['lease-database'] ?? {}) as Record<string, unknown>;
  if (ldb.type !== undefined && ldb.type !== 'memfile') fail(OCF.ERR_CONFIGURED, `${o.config}: lease-database type ${String(ldb.type)}: the agent manages memfile leases only`);
  d['lease-database'] = { ...ldb, type: 'memfile', persist: true, name: o.leasefile };
  if (d.loggers === undefined && conf.Logging === undefined) {
    d.loggers = [{ name: `kea-dhcp${o.family}`, severity: 'INFO', output_options: [{ output: o.logfile, maxsize: 10 * 1024 * 1024, maxver: 2 }] }];
  }
  if (o.ha) {
    const hooks = hooksDir();
    if (!hooks) fail(OCF.ERR_INSTALLED, 'Kea\'s HA hook (libdhcp_ha.so, libdhcp_lease_cmds.so) is not installed on this node (Debian: kea-common, which kea-dhcp4-server and kea-dhcp6-server pull in)');
    const why = addHa(d, { ...o.ha, hooks });
    if (why) fail(OCF.ERR_CONFIGURED, `${o.config}: ${why}`);
  }
  return `${JSON.stringify(conf, null, 2)}\n`;
}

export interface KeaAnswer { result: number; text?: string; arguments?: Record<string, unknown> }

/**
 * One command on Kea's control socket: Kea answers with one JSON object and closes. Rejects
 * with a one-line reason when the socket is missing, Kea does not answer within timeoutMs
 * (a hung server), or the answer is not JSON.
 */
export function keaCommand(socket: string, command: string, args: Record<string, unknown> | undefined, timeoutMs: number): Promise<KeaAnswer> {
  return new Promise((resolve, reject) => {
    let buf = '';
    let done = false;
    const finish = (e?: Error, a?: KeaAnswer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      if (e) reject(e); else resolve(a!);
    };
    const s = createConnection(socket, () => s.write(JSON.stringify(args ? { command, arguments: args } : { command })));
    const timer = setTimeout(() => finish(new Error(`Kea's control socket ${socket} did not answer '${command}' within ${timeoutMs} ms`)), timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      buf += d;
      try { finish(undefined, JSON.parse(buf) as KeaAnswer); } catch { /* not all of it yet */ }
    });
    s.on('end', () => {
      try { finish(undefined, JSON.parse(buf) as KeaAnswer); } catch { finish(new Error(`Kea answered '${command}' with no JSON: ${buf.slice(0, 120) || '(nothing)'}`)); }
    });
    s.on('error', (e: NodeJS.ErrnoException) => finish(new Error(`Kea's control socket ${socket}: ${e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'no server listens' : e.message}`)));
  });
}

export interface HaStatus { state: string; scopes: string[]; unsent: number }

/** `ha-heartbeat`: this server's HA state and the scopes it serves. */
export async function haStatus(socket: string, timeoutMs: number): Promise<HaStatus> {
  const a = await keaCommand(socket, 'ha-heartbeat', undefined, timeoutMs);
  if (a.result !== 0 || !a.arguments) throw new Error(`Kea's ha-heartbeat failed: ${a.text ?? `result ${a.result}`}`);
  const g = a.arguments;
  return { state: String(g.state), scopes: Array.isArray(g.scopes) ? g.scopes.map(String) : [], unsent: Number(g['unsent-update-count'] ?? 0) };
}

/**
 * HA states in which the server answers clients (or is about to, with its partner): anything but
 * these is a failure of the monitor. "terminated" (clocks too far apart) stops the HA service
 * for good until a restart.
 */
export const HA_RUNNING_STATES = [
  'waiting', 'syncing', 'ready', 'load-balancing', 'hot-standby', 'partner-down', 'partner-in-maintenance',
  'in-maintenance', 'communication-recovery', 'backup',
] as const;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Forget this node's cached link-layer address of the partner (`ip neigh flush to ADDRESS`), once
 * Pacemaker has fenced it. Kea's `ha-maintenance-start` opens a new connection to the partner
 * and waits for it for a fixed 10 s (Kea's HTTP client timeout): to a powered-off partner whose
 * neighbour entry is still "reachable" (the kernel keeps it ~30 s) the connection attempt hangs
 * all that time, and neither head serves anyone meanwhile (in load-balancing, even its own
 * clients wait on a lease update to the partner). Without the entry the kernel asks again, gets
 * no answer, and fails the connection in ~3 s (3 ARP or NDP probes). Only a cache: the entry
 * comes back by itself when the partner does. Returns a reason when `ip` failed.
 */
export async function forgetNeighbour(address: string): Promise<string | undefined> {
  const r = await run('ip', ['neigh', 'flush', 'to', address], { timeoutMs: 5000 });
  return r.code === 0 ? undefined : describeFailure(`ip neigh flush to ${address}`, r);
}

const hostRoute = (address: string): { fam: string; dst: string } =>
  (isIPv6(address) ? { fam: '-6', dst: `${address}/128` } : { fam: '-4', dst: `${address}/32` });

/**
 * Pacemaker has stopped the partner's instance (its head fenced, or its Kea stopped), so the
 * partner's Kea does not run. `ha-maintenance-start` still tries to tell it first: to a dead head
 * the connection waits until ARP or NDP gives up (~3 s, three probes; forgetNeighbour), and no
 * client is answered meanwhile. An unreachable route to the partner's address (a host route,
 * `ip route replace unreachable ADDRESS/32|128`) makes that connection fail at once, and Kea goes
 * to partner-down. Held only while serveEveryScope runs: the returned undo removes it (call it in
 * a finally). A reason instead when `ip` failed (then there is nothing to undo).
 */
export async function blockPartner(address: string): Promise<{ undo: () => Promise<string | undefined> } | string> {
  const { fam, dst } = hostRoute(address);
  const r = await run('ip', [fam, 'route', 'replace', 'unreachable', dst], { timeoutMs: 5000 });
  if (r.code !== 0) return describeFailure(`ip route replace unreachable ${dst}`, r);
  return {
    undo: async () => {
      const d = await run('ip', [fam, 'route', 'del', 'unreachable', dst], { timeoutMs: 5000 });
      return d.code === 0 ? undefined : describeFailure(`ip route del unreachable ${dst}`, d);
    },
  };
}

/**
 * Kea keeps its HTTP connections to the partner open. When the partner's head dies, the lease
 * updates already sent on them wait for Kea's HTTP timeout (10 s), each holding one of Kea's
 * packet threads: no client is answered until they end, partner-down or not (the boot-storm
 * bench: answers back exactly 10 s after the power-off). `ss -K` closes this head's TCP
 * connections to the partner's HA listener at once (SOCK_DESTROY, kernels with
 * CONFIG_INET_DIAG_DESTROY): the updates fail and the threads go back to the clients. Only for a
 * partner out of the partition (the caller's check). What it closed, a reason when `ss` failed,
 * or undefined when there was nothing to close.
 */
export async function dropPartnerConnections(address: string, port: number): Promise<string | undefined> {
  const dst = isIPv6(address) ? `[${address}]` : address;
  const r = await run('ss', ['-K', '-t', '-n', 'dst', dst, 'dport', '=', `:${port}`], { timeoutMs: 5000 });
  if (r.code !== 0) return describeFailure(`ss -K dst ${dst}:${port}`, r);
  const n = r.stdout.split('\n').slice(1).filter((l) => l.trim()).length;
  return n ? `closed ${n} connection(s) to its HA listener ${dst}:${port}` : undefined;
}

/**
 * A blockPartner route left behind (its agent killed between add and undo) would keep this head
 * from ever reaching its partner again: the level-10 monitor removes it. Returns what it did, or a
 * reason when `ip` failed; undefined when there was none.
 */
export async function removeStaleBlock(address: string): Promise<string | undefined> {
  const { fam, dst } = hostRoute(address);
  const r = await run('ip', [fam, '-o', 'route', 'show', 'type', 'unreachable', 'exact', dst], { timeoutMs: 5000 });
  if (r.code !== 0) return describeFailure(`ip route show type unreachable ${dst}`, r);
  if (!r.stdout.trim()) return undefined;
  const d = await run('ip', [fam, 'route', 'del', 'unreachable', dst], { timeoutMs: 5000 });
  return d.code === 0 ? `removed a stale unreachable route to the partner (${dst})` : describeFailure(`ip route del unreachable ${dst}`, d);
}

/**
 * Pacemaker says the partner is gone: serve every scope now, and keep serving them.
 * `ha-maintenance-start` does it: Kea first tells its partner, and when the partner does not
 * answer it goes to partner-down at once (as it would by itself after max-response-delay), a
 * state it keeps until the partner is back and synced. `ha-scopes` alone is not enough: it
 * holds only until Kea's next state change, and the change Kea makes when a lease update to the
 * dead partner fails (load-balancing -> communication-recovery) puts its own scope back (seen in
 * the lab: B's clients unanswered for 30 s after the scopes were set). So `ha-scopes` is only
 * the fallback, set again until it holds over `settleMs`.
 */
export async function serveEveryScope(socket: string, scopes: string[], deadlineMs: number, settleMs = 1500): Promise<HaStatus & { commands: string[] }> {
  const end = Date.now() + deadlineMs;
  const commands: string[] = [];
  const left = () => Math.max(200, end - Date.now());
  const first = await haStatus(socket, Math.min(2000, left()));
  if (first.state === 'partner-down') return { ...first, commands };
  // a partner that still answers gets "in-maintenance" and serves nothing: this head serves all
  const m = await keaCommand(socket, 'ha-maintenance-start', undefined, left());
  commands.push(`ha-maintenance-start: ${m.text ?? m.result}`);
  if (m.result === 0) {
    const st = await haStatus(socket, Math.min(2000, left()));
    if (st.state === 'partner-down' || st.state === 'partner-in-maintenance') return { ...st, commands };
  }
  let heldSince: number | undefined;
  for (;;) {
    const st = await haStatus(socket, Math.min(2000, left()));
    const covered = st.state === 'partner-down' || scopes.every((x) => st.scopes.includes(x));
    if (covered) {
      heldSince ??= Date.now();
      if (st.state === 'partner-down' || Date.now() - heldSince >= settleMs || Date.now() >= end) return { ...st, commands };
    } else {
      heldSince = undefined;
      if (Date.now() >= end) throw new Error(`Kea still serves only ${st.scopes.join(', ') || 'no scope'} (state ${st.state}) after ${commands.join('; ')}`);
      const a = await keaCommand(socket, 'ha-scopes', { scopes }, Math.min(2000, left()));
      commands.push('ha-scopes');
      if (a.result !== 0) throw new Error(`Kea refused ha-scopes ${scopes.join(',')}: ${a.text ?? `result ${a.result}`}`);
    }
    await sleep(250);
  }
}

// ocf:ha-oscar:snmpd — Net-SNMP's snmpd as a cluster resource, listening on the VIPs.
// Monitor: level 0 = the daemon is alive; level 10 = a real SNMP GET of sysUpTime.0 on every listen address.
import { defineAgent, p, fail, OCF, splitList, checkAddressList, checkAbsolutePath, isIPv4, isIPv6, type Context } from '../src/ocf/agent';
import { startDaemon, stopDaemon, daemonState, holdsPort } from '../src/service/daemon';
import { writeFileAtomic } from '../src/service/atomic';
import { lookupId } from '../src/service/accounts';
import { snmpGet, type SnmpAuth } from '../src/probe/snmp';
import { readFileSync, accessSync, constants, mkdirSync, existsSync, chownSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { version } from '../package.json';

/** A trap receiver as net-snmp names it (udp:A:PORT, udp6:[A]:PORT), from that or a bare address. */
export function trapSink(v: string): string | undefined {
  const port = (x: string | undefined) => (x === undefined ? '162' : /^\d{1,5}$/.test(x) && Number(x) >= 1 && Number(x) <= 65535 ? x : undefined);
  let m = /^udp:([0-9.]+)(?::(\w+))?$/.exec(v);
  if (m && isIPv4(m[1]!) && port(m[2])) return `udp:${m[1]}:${port(m[2])}`;
  m = /^udp6:\[([0-9A-Fa-f:.]+)\](?::(\w+))?$/.exec(v);
  if (m && isIPv6(m[1]!) && port(m[2])) return `udp6:[${m[1]}]:${port(m[2])}`;
  if (isIPv4(v)) return `udp:${v}:162`;
  if (isIPv6(v)) return `udp6:[${v}]:162`;
  return undefined;
}

function checkTrapSinks(s: string): string | undefined {
  const items = splitList(s);
  if (!items.length) return 'must list at least one trap receiver';
  const bad = items.find((a) => trapSink(a) === undefined);
  return bad === undefined ? undefined : `must list trap receivers (udp:192.0.2.5:162, udp6:[2001:db8::5]:162 or an address), and ${JSON.stringify(bad.slice(0, 60))} is not one`;
}

/**
 * The AgentX socket's directory, when missing: root:<agentx_group> 0770. snmpd makes it with
 * its umask applied and no group (0750 root:root), which locks the subagent out.
 */
function agentxDir(c: Ctx): void {
  const sock = c.params.agentx_socket;
  if (!sock?.startsWith('/') || c.params.config) return;
  const dir = dirname(sock);
  if (existsSync(dir)) return;
  const gid = lookupId('/etc/group', c.params.agentx_group);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o770 });
    if (gid !== undefined) chownSync(dir, 0, gid);
    chmodSync(dir, 0o770);
  } catch (e) { fail(OCF.ERR_GENERIC, `cannot make the AgentX socket directory ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`); }
}

const params = {
  listen: p.string({
    required: true, uniqueGroup: 'address', check: checkAddressList,
    shortdesc: 'Addresses to listen on (IPv4/IPv6 VIPs)',
    longdesc: 'Space- or comma-separated IPv4 and IPv6 addresses snmpd listens on, normally the cluster VIPs. The level-10 monitor queries each of them.',
  }),
  port: p.integer({ default: 161, min: 1, max: 65535, uniqueGroup: 'address', shortdesc: 'UDP port' }),
  config: p.string({
    check: checkAbsolutePath,
    shortdesc: 'An existing snmpd.conf to use',
    longdesc: 'Path of an snmpd.conf to use as it is. When unset, the agent generates one from community, v3_user and agentx_socket. Listen addresses always come from "listen".',
  }),
  community: p.string({
    default: 'public', secret: true, pattern: /^[A-Za-z0-9._~!@%^+=-]{1,64}$/, patternHint: '1-64 letters, digits or ._~!@%^+=-',
    shortdesc: 'Read-only SNMPv2c community (generated config; also used by the monitor)',
  }),
  v3_user: p.string({ pattern: /^[A-Za-z0-9._-]{1,32}$/, patternHint: '1-32 letters, digits or ._-', shortdesc: 'Read-only SNMPv3 user (authPriv, SHA/AES)' }),
  v3_auth_file: p.string({ check: checkAbsolutePath, shortdesc: 'File holding the v3 user\'s authentication passphrase (8+ characters)' }),
  v3_priv_file: p.string({ check: checkAbsolutePath, shortdesc: 'File holding the v3 user\'s privacy passphrase (8+ characters)' }),
  agentx_socket: p.string({
    pattern: /^(\/[A-Za-z0-9._\/-]{1,200}|tcp:(127\.0\.0\.1|\[::1\]|localhost):\d{1,5})$/, patternHint: 'an absolute socket path or tcp:127.0.0.1:PORT',
    shortdesc: 'AgentX master socket for the ha-oscar subagent',
    longdesc: 'When set, the generated config makes snmpd an AgentX master on this socket, so that ha-oscar-snmp-agent can serve HA-OSCAR-MIB.',
  }),
  agentx_group: p.string({
    default: 'haclient', pattern: /^[a-z_][a-z0-9_-]{0,31}$/, patternHint: 'a group name',
    shortdesc: 'Group allowed on the AgentX socket (generated config)',
    longdesc: 'With agentx_socket, the generated config has "agentXPerms 0660 0770 root <group>": the socket and its directory belong to this group, so that ha-oscar-snmp-agent, which runs as a non-root user in group haclient, can connect. The group must exist on the node.',
  }),
  trap_sink: p.string({
    check: checkTrapSinks,
    shortdesc: 'Where snmpd sends notifications (generated config)',
    longdesc: 'Space- or comma-separated SNMPv2c trap receivers: udp:IPv4:PORT, udp6:[IPv6]:PORT, or a bare address (port 162). The generated config has one "trap2sink <receiver> <community>" each: notifications the subagent sends through AgentX (alert_haoscar transport=subagent, or its --notify) go there.',
  }),
  pidfile: p.string({ check: checkAbsolutePath, shortdesc: 'Pidfile (default /run/ha-oscar/<instance>.pid)' }),
  state_dir: p.string({ check: checkAbsolutePath, shortdesc: 'Directory for the generated config, log and persistent data (default /var/lib/ha-oscar/<instance>)' }),
  user: p.string({ pattern: /^[a-z_][a-z0-9_-]{0,31}$/, patternHint: 'a user name', shortdesc: 'Run snmpd as this user after binding' }),
  group: p.string({ pattern: /^[a-z_][a-z0-9_-]{0,31}$/, patternHint: 'a group name', shortdesc: 'Run snmpd as this group after binding' }),
};
type Ctx = Context<typeof params>;

const paths = (c: Ctx) => {
  const state = c.params.state_dir ?? `/var/lib/ha-oscar/${c.instanceId}`;
  return {
    state,
    conf: c.params.config ?? `${state}/snmpd.conf`,
    log: `${state}/snmpd.log`,
    persist: `${state}/persist`,
    pidfile: c.params.pidfile ?? `/run/ha-oscar/${c.instanceId}.pid`,
  };
};

function readSecret(file: string, what: string): string {
  let s: string;
  try { s = readFileSync(file, 'utf8').trim(); } catch (e) { fail(OCF.ERR_CONFIGURED, `cannot read ${what} file ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`); }
  if (s.length < 8 || /[\s"\\]/.test(s)) fail(OCF.ERR_CONFIGURED, `${what} in ${file} must be 8+ characters without spaces, quotes or backslashes`);
  return s;
}

/** The address the monitor asks: a wildcard listen address is asked on loopback. */
const probeAddr = (a: string) => (a === '0.0.0.0' ? '127.0.0.1' : a === '::' ? '::1' : a);

function auth(c: Ctx): SnmpAuth {
  if (c.params.config === undefined && c.params.v3_user && !c.env.OCF_RESKEY_community) {
    return { version: '3', user: c.params.v3_user, authKey: readSecret(c.params.v3_auth_file!, 'v3 auth passphrase'), privKey: readSecret(c.params.v3_priv_file!, 'v3 privacy passphrase') };
  }
  return { version: '2c', community: c.params.community };
}

async function answering(c: Ctx, timeoutMs: number): Promise<string | undefined> {
  const a = auth(c);
  const results = await Promise.all(splitList(c.params.listen).map(async (addr) => {
    const r = await snmpGet(probeAddr(addr), c.params.port, a, { timeoutMs, retries: 0 });
    return r.ok ? undefined : `no SNMP answer from ${addr.includes(':') ? `[${addr}]` : addr}:${c.params.port}: ${r.error}`;
  }));
  return results.find(Boolean);
}

function generatedConfig(c: Ctx): string {
  const lines = [`# Generated by ocf:ha-oscar:snmpd for resource ${c.instance}. Changes are overwritten at start.`];
  if (!c.params.v3_user || c.env.OCF_RESKEY_community) {
    lines.push(`rocommunity ${c.params.community} default`, `rocommunity6 ${c.params.community} default`);
  }
  if (c.params.v3_user) {
    const a = readSecret(c.params.v3_auth_file!, 'v3 auth passphrase');
    const pr = readSecret(c.params.v3_priv_file!, 'v3 privacy passphrase');
    lines.push(`createUser ${c.params.v3_user} SHA "${a}" AES "${pr}"`, `rouser ${c.params.v3_user} priv`);
  }
  // The subagent runs as a non-root user in group haclient: socket 0660 and its directory 0770,
  // group agentx_group (issue 7). Without a group, snmpd leaves them root's.
  if (c.params.agentx_socket) lines.push('master agentx', `agentXSocket ${c.params.agentx_socket}`, `agentXPerms 0660 0770 root ${c.params.agentx_group}`);
  for (const t of c.params.trap_sink ? splitList(c.params.trap_sink) : []) lines.push(`trap2sink ${trapSink(t)} ${c.params.community}`);
  lines.push('dontLogTCPWrappersConnects yes');
  return `${lines.join('\n')}\n`;
}

function listenArg(c: Ctx): string {
  return splitList(c.params.listen).map((a) => (a.includes(':') ? `udp6:[${a}]:${c.params.port}` : `udp:${a}:${c.params.port}`)).join(',');
}

export default defineAgent({
  name: 'snmpd',
  version,
  shortdesc: 'Net-SNMP agent on the cluster VIPs',
  longdesc: 'Runs Net-SNMP snmpd as a cluster resource on the head-node VIPs (IPv4 and IPv6), optionally as AgentX master for the ha-oscar subagent. Level 10 monitors do a real SNMP GET of sysUpTime.0 on every listen address.',
  params,
  needsRoot: true,
  binaries: () => ['snmpd'],
  timeouts: { start: 20, stop: 20, monitor: 20 },
  monitors: [{ depth: 0, interval: 10 }, { depth: 10, interval: 120, timeout: 20 }],
  // what the level-0 monitor looks at (src/ocf/fastpath.ts: a sh fast path answers it)
  processes: (c) => [{ pidfile: paths(c).pidfile, exe: c.bin('snmpd') }],

  validate(c) {
    if (c.params.config) {
      try { accessSync(c.params.config, constants.R_OK); } catch { fail(OCF.ERR_CONFIGURED, `config file ${c.params.config} does not exist or is not readable`); }
    }
    if (c.params.v3_user && (!c.params.v3_auth_file || !c.params.v3_priv_file)) {
      fail(OCF.ERR_CONFIGURED, 'v3_user needs v3_auth_file and v3_priv_file');
    }
    if (c.params.v3_user) auth(c);
    if (c.params.agentx_socket && !c.params.config && lookupId('/etc/group', c.params.agentx_group) === undefined) {
      fail(OCF.ERR_INSTALLED, `agentx_group ${c.params.agentx_group} does not exist on this node (is pacemaker installed?)`);
    }
  },

  async start(c) {
    const f = paths(c);
    const exe = c.bin('snmpd');
    if (daemonState(f.pidfile, exe).state === 'running') return OCF.SUCCESS;
    mkdirSync(f.persist, { recursive: true, mode: 0o700 });
    if (!c.params.config) writeFileAtomic(f.conf, generatedConfig(c), { mode: 0o600, mkdir: true });
    agentxDir(c);
    const argv = [exe, '-f', '-Le', '-C', '-c', f.conf];
    if (c.params.user) argv.push('-u', c.params.user);
    if (c.params.group) argv.push('-g', c.params.group);
    argv.push(listenArg(c));
    try {
      const pid = await startDaemon(
        { argv, pidfile: f.pidfile, logfile: f.log, env: { SNMP_PERSISTENT_DIR: f.persist, MIBS: '' } },
        { timeoutMs: Math.max(1000, c.remaining() - 500), ready: async (pid) => holdsPort(pid, 'udp', c.params.port, splitList(c.params.listen)) && (await answering(c, 300)) === undefined },
      );
      c.log.info(`started snmpd (pid ${pid}) on ${listenArg(c)}`);
    } catch (e) {
      fail(OCF.ERR_GENERIC, `start failed: ${(e as Error).message}`);
    }
  },

  async stop(c) {
    const f = paths(c);
    // stop must succeed whenever the daemon is stopped, even if snmpd was uninstalled meanwhile
    await stopDaemon(f.pidfile, '/usr/sbin/snmpd', c.remaining());
  },

  async monitor(c) {
    const f = paths(c);
    const st = daemonState(f.pidfile, c.bin('snmpd'));
    if (st.state === 'stopped') return OCF.NOT_RUNNING;
    if (c.checkLevel >= 10) {
      const why = await answering(c, Math.min(2000, Math.max(300, c.remaining() / 3)));
      if (why) fail(OCF.ERR_GENERIC, why);
    }
    return OCF.SUCCESS;
  },
}).main();

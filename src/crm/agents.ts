// THE table: how each part of the cluster description becomes resource-agent
// parameters. A renamed agent parameter is a one-line change here, and the
// description keys accepted by `config check` come from this table too.

/** How a description value is checked and turned into the parameter's text. */
export type Kind =
  | 'string'   // any non-empty string without newlines
  | 'path'     // an absolute path
  | 'int'      // a non-negative integer
  | 'bool'     // true/false -> "true"/"false"
  | 'duration' // 30, "30s", "2min", "1h"
  | 'addr'     // one IPv4/IPv6 address
  | 'addrs'    // a list of addresses -> space-separated
  | 'list'     // a list of strings -> space-separated
  | 'hosts'    // a list of host names or addresses -> space-separated
  | 'exports'; // NFS exports: an exports file (absolute path), or a list of export lines -> "; "-separated

export interface ParamSpec {
  /** The agent parameter this description key sets. */
  param: string;
  kind: Kind;
  /** Allowed values (for enumerations). */
  values?: readonly string[];
}

const p = (param: string, kind: Kind, values?: readonly string[]): ParamSpec => ({ param, kind, values });

/** A recurring monitor operation; depth is its OCF_CHECK_LEVEL. */
export interface Monitor { interval: string; timeout: string; depth?: number }
/** start and stop timeouts: the ones the agent's meta-data advises (Pacemaker's default, 20 s, is too short for some). */
export interface Timeouts { start: string; stop: string }
const t = (start: number, stop: number): Timeouts => ({ start: `${start}s`, stop: `${stop}s` });
/**
 * Every service agent: the process check (level 0) every 10 s, the protocol check on every listen
 * address (level 10) every 120 s. Level 0 is what Pacemaker runs most; the agents answer it in sh
 * in a few ms (src/ocf/fastpath.ts). Level 10 needs the agent's JavaScript and a protocol
 * exchange: ~300 ms of CPU each in the lab (npm run bench:idle). The six level-10 monitors of the
 * lab's head cost 1.6 % of a core at 120 s; at 30 s they would cost ~6 % (issue 25, README
 * "Idle cost"). A crash is still found within 10 s; a hung daemon within 120 s + the timeout.
 */
const LEVEL0: Monitor = { interval: '10s', timeout: '20s' };
const SERVICE_MONITORS: readonly Monitor[] = [LEVEL0, { interval: '120s', timeout: '30s', depth: 10 }];

/** What a default may depend on: the set the service runs in, the networks. */
export interface DefaultCtx {
  /** The set's VIPs (canonical text), IPv4 first. */
  vips: string[];
  vips4: string[];
  vips6: string[];
  /** The service network's CIDRs (canonical text). */
  serviceCidrs: string[];
  /** The service network's interface name, when described. */
  serviceInterface?: string;
  /** Both heads' node names. */
  heads: string[];
  /** Both heads' addresses on corosync link 0's network (corosync.family). */
  peerAddrs: string[];
}

export interface Variant {
  /** Appended to the resource id (dhcpd + 4 -> dhcpd4). */
  suffix: string;
  /** Parameters every instance of this variant gets. */
  fixed: Record<string, string>;
  keys: Record<string, ParamSpec>;
  defaults?: Record<string, (c: DefaultCtx) => string | undefined>;
}

export interface ServiceSpec {
  agent: string;
  /** Resource id (base). */
  id: string;
  /** Keys valid directly under services.<name>. */
  keys: Record<string, ParamSpec>;
  /** Agent parameters filled in when the description leaves them out (keyed by PARAMETER name). */
  defaults?: Record<string, (c: DefaultCtx) => string | undefined>;
  /** Sub-sections that each make one resource (dhcp v4/v6). At least one is required. */
  variants?: Record<string, Variant>;
  /** Recurring monitors: level 0 (the process) often, level 10 (the protocol, on every address) less often. */
  monitors: readonly Monitor[];
  /** start/stop operation timeouts (as advised by the agent's meta-data: test crm-agents). */
  timeouts: Timeouts;
}

const listenVips = (c: DefaultCtx) => (c.vips.length ? c.vips.join(' ') : undefined);

export const SERVICES: Record<string, ServiceSpec> = {
  dhcp: {
    agent: 'ocf:ha-oscar:dhcpd', id: 'dhcpd',
    keys: {
      server: p('server', 'string', ['isc', 'kea']), interface: p('interface', 'string'),
      user: p('user', 'string'), group: p('group', 'string'),
      // Kea HA (server: kea): the DHCPv4 resource becomes a clone on both heads (model.ts)
      ha: p('ha_mode', 'string', ['hot-standby', 'load-balancing']), ha_port: p('ha_port', 'int'),
    },
    defaults: { interface: (c) => c.serviceInterface },
    variants: {
      v4: {
        suffix: '4', fixed: { family: '4' },
        keys: {
          config: p('config', 'path'), leasefile: p('leasefile', 'path'), pidfile: p('pidfile', 'path'),
          server_id: p('server_id', 'addr'), state_dir: p('state_dir', 'path'),
        },
        defaults: { server_id: (c) => c.vips4[0] },
      },
      v6: {
        suffix: '6', fixed: { family: '6' },
        keys: {
          config: p('config', 'path'), leasefile: p('leasefile', 'path'), pidfile: p('pidfile', 'path'),
          server_id: p('server_id', 'string'), state_dir: p('state_dir', 'path'),
        },
      },
    },
    monitors: SERVICE_MONITORS,
    timeouts: t(30, 20),
  },
  tftp: {
    agent: 'ocf:ha-oscar:tftpd', id: 'tftpd',
    keys: {
      root: p('root', 'path'), listen: p('listen', 'addrs'), port: p('port', 'int'), secure: p('secure', 'bool'),
      user: p('user', 'string'), blocksize_max: p('blocksize_max', 'int'),
    },
    defaults: { listen: listenVips },
    monitors: SERVICE_MONITORS,
    timeouts: t(20, 20),
  },
  ntp: {
    agent: 'ocf:ha-oscar:ntpd', id: 'ntpd',
    keys: {
      server: p('server', 'string', ['chrony', 'ntpsec']), upstream: p('upstream', 'hosts'),
      listen: p('listen', 'addrs'), allow: p('allow', 'list'), local_stratum: p('local_stratum', 'int'),
      peer: p('peer', 'hosts'), clock_control: p('clock_control', 'bool'), port: p('port', 'int'),
      upstream_port: p('upstream_port', 'int'), minpoll: p('minpoll', 'int'), maxpoll: p('maxpoll', 'int'),
      user: p('user', 'string'), pidfile: p('pidfile', 'path'), state_dir: p('state_dir', 'path'),
      binary: p('binary', 'path'), extra_config: p('extra_config', 'path'),
    },
    defaults: { listen: listenVips, allow: (c) => (c.serviceCidrs.length ? c.serviceCidrs.join(' ') : undefined) },
    monitors: SERVICE_MONITORS,
    timeouts: t(30, 20),
  },
  nfs: {
    agent: 'ocf:ha-oscar:nfsserver', id: 'nfsserver',
    keys: {
      server: p('server', 'string', ['kernel', 'ganesha']), exports: p('exports', 'exports'),
      state_dir: p('state_dir', 'path'), grace_time: p('grace_time', 'int'), lease_time: p('lease_time', 'int'),
      listen: p('listen', 'addrs'), versions: p('versions', 'list'), port: p('port', 'int'), threads: p('threads', 'int'),
      mountd_port: p('mountd_port', 'int'), statd_port: p('statd_port', 'int'),
    },
    defaults: { listen: listenVips },
    monitors: [LEVEL0, { interval: '120s', timeout: '60s', depth: 10 }],
    timeouts: t(60, 60),
  },
  snmp: {
    agent: 'ocf:ha-oscar:snmpd', id: 'snmpd',
    keys: {
      listen: p('listen', 'addrs'), port: p('port', 'int'), community: p('community', 'string'), config: p('config', 'path'),
      v3_user: p('v3_user', 'string'), v3_auth_file: p('v3_auth_file', 'path'), v3_priv_file: p('v3_priv_file', 'path'),
      pidfile: p('pidfile', 'path'), agentx_socket: p('agentx_socket', 'string'), state_dir: p('state_dir', 'path'),
      user: p('user', 'string'), group: p('group', 'string'), agentx_group: p('agentx_group', 'string'), trap_sink: p('trap_sink', 'string'),
    },
    defaults: { listen: listenVips },
    monitors: SERVICE_MONITORS,
    timeouts: t(20, 20),
  },
  statesync: {
    agent: 'ocf:ha-oscar:statesync', id: 'statesync',
    keys: {
      dirs: p('dirs', 'list'), peer: p('peer', 'hosts'), interval: p('interval', 'int'), sync_on_stop: p('sync_on_stop', 'bool'),
      transport: p('transport', 'string', ['rsyncd', 'ssh']), user: p('user', 'string'), password_file: p('password_file', 'path'),
      ssh_key: p('ssh_key', 'path'), known_hosts: p('known_hosts', 'path'), port: p('port', 'int'),
      bwlimit: p('bwlimit', 'int'), io_timeout: p('io_timeout', 'int'),
    },
    // the same value on both heads: the agent skips its own address
    defaults: { peer: (c) => (c.peerAddrs.length ? c.peerAddrs.join(' ') : undefined) },
    // level 0 only, as the agent advises: it has no deeper check (a level-10 op was a Node start for nothing)
    monitors: [{ interval: '30s', timeout: '20s' }],
    timeouts: t(20, 120),
  },
};

/**
 * Kea HA (services.dhcp.ha): ocf:ha-oscar:dhcpd runs on both heads as one clone, not with the
 * VIPs. notify: the survivor's agent hears of the partner's stop (or fencing) and serves every
 * scope at once. ha_peers: both heads with their address on corosync link 0's network (the HA
 * hooks talk there, never over a VIP). Each head answers from its own address, so no server_id.
 * DHCPv4 and DHCPv6 are two Kea servers, each its own clone and HA pair (agent defaults: ports
 * 8001 and 8002).
 */
export const KEA_HA = {
  mode: 'ha_mode',
  peers: 'ha_peers',
  /** services.dhcp.ha_port is DHCPv4's listener; DHCPv6 (its own Kea) listens on the next port */
  port: 'ha_port',
  v6PortOffset: 1,
  dropped: ['server_id'] as readonly string[],
  cloneMeta: [['interleave', 'true'], ['notify', 'true']] as [string, string][],
  peersValue: (c: DefaultCtx) => (c.heads.length === 2 && c.peerAddrs.length === 2 ? c.heads.map((h, i) => `${h}=${c.peerAddrs[i]}`).join(' ') : undefined),
};

/** Health monitors: cloned, one instance per head. */
export const HEALTH = {
  link: {
    agent: 'ocf:ha-oscar:linkmon', id: 'linkmon',
    keys: {
      interfaces: p('interfaces', 'list'), targets: p('targets', 'addrs'), target_policy: p('target_policy', 'string'),
      dampen: p('dampen', 'int'), ping_count: p('ping_count', 'int'), ping_timeout: p('ping_timeout', 'int'),
    },
    /** Node attribute linkmon publishes: 2 = all links ok, 1 = degraded (bond slave down), 0 = service network down. */
    attribute: 'ha-oscar-link',
    /** level 0: carrier and bonds; level 10 also pings the targets */
    monitors: [{ interval: '10s', timeout: '20s' }, { interval: '30s', timeout: '30s', depth: 10 }],
    timeouts: t(20, 20),
  },
  raid: {
    agent: 'ocf:ha-oscar:raidmon', id: 'raidmon',
    keys: { arrays: p('arrays', 'list'), mdstat: p('mdstat', 'path'), smart_devices: p('smart_devices', 'list'), dampen: p('dampen', 'int') },
    /** Node-health attribute raidmon publishes: green / yellow / red (red = an array failed). */
    attribute: '#health-ha-oscar-raid',
    // the agent advises 30 s: smartctl on each of smart_devices can take seconds per disk
    monitors: [{ interval: '30s', timeout: '30s' }],
    timeouts: t(30, 20),
  },
} as const;

/**
 * IPv6 router advertisements (networks.<name>.ipv6.ra): ocf:ha-oscar:radvd, cloned, one
 * instance per head, each advertising from its own link-local address (docs/pxe.md). Every
 * flag is written out, so the CIB shows the whole policy. Monitors and timeouts as the agent
 * advises: level 0 the process, level 10 this head answers a solicitation with the configured RA.
 */
export const RA = {
  agent: 'ocf:ha-oscar:radvd',
  id: (network: string) => `radvd-${network}`,
  params: { interface: 'interface', prefixes: 'prefixes', managed: 'managed', other: 'other', routerLifetime: 'router_lifetime', autonomous: 'autonomous', interval: 'interval' },
  // level 10 every 120 s, as the agent advises (it was 30 s: 0.62 % of a core on the idle lab's head for one clone, issue 25)
  monitors: [{ interval: '10s', timeout: '20s' }, { interval: '120s', timeout: '20s', depth: 10 }] as readonly Monitor[],
  timeouts: t(20, 20),
} as const;

/** VIPs. */
export const VIP = {
  agent: 'ocf:heartbeat:IPaddr2',
  ip: 'ip',
  netmask: 'cidr_netmask',
  nic: 'nic',
  /**
   * IPv6 only: skip Duplicate Address Detection (IPaddr2 otherwise polls, 1 s a
   * step, until the address is no longer tentative) and send the unsolicited
   * neighbour advertisements in the background (IPv4's ARPs already are).
   * Measured: IPv6 VIP start 5.9 s -> 2.6 s (median of 7, docs/config.md).
   */
  ipv6Fixed: { nodad: 'true', arp_bg: 'true' } as Record<string, string>,
  monitor: { interval: '10s', timeout: '20s' },
};

/**
 * Fencing: one stonith:fence_haoscar device per (head, device). Passwords are
 * never literal: password_script names a program (run without a shell) that
 * prints the password, so only its path is in the CIB.
 */
export const FENCE = {
  agent: 'stonith:fence_haoscar',
  method: 'method',
  methods: {
    snmp: {
      ip: p('ip', 'addr'), ipport: p('ipport', 'int'), plug: p('plug', 'string'), community: p('community', 'string'),
      snmp_version: p('snmp_version', 'string', ['1', '2c', '3']), snmp_mib: p('snmp_mib', 'string', ['apc_rpdu', 'generic']),
      username: p('username', 'string'), password_script: p('password_script', 'path'),
      snmp_sec_level: p('snmp_sec_level', 'string', ['noAuthNoPriv', 'authNoPriv', 'authPriv']),
      snmp_auth_prot: p('snmp_auth_prot', 'string', ['MD5', 'SHA', 'SHA224', 'SHA256', 'SHA384', 'SHA512']),
      snmp_priv_prot: p('snmp_priv_prot', 'string', ['DES', 'AES', 'AES256B', 'AES256R']),
      snmp_priv_passwd_script: p('snmp_priv_passwd_script', 'path'),
      power_timeout: p('power_timeout', 'int'), login_timeout: p('login_timeout', 'int'),
    },
    ipmi: {
      ip: p('ip', 'addr'), ipport: p('ipport', 'int'), username: p('username', 'string'),
      password_script: p('password_script', 'path'),
      privlvl: p('privlvl', 'string', ['callback', 'user', 'operator', 'administrator']), cipher: p('cipher', 'int'),
      power_timeout: p('power_timeout', 'int'), login_timeout: p('login_timeout', 'int'),
    },
  } as Record<string, Record<string, ParamSpec>>,
  /**
   * Secret keys whose value may be Pacemaker's CIB-secret marker instead of the secret: the
   * CIB then holds only "lrm://", and the fencer reads the value from
   * /var/lib/pacemaker/lrm/secrets/<device id>/<param> on the head (cibsecret set).
   */
  cibSecrets: ['community'] as readonly string[],
  /** Description key whose value becomes the pcmk_host_map entry (PDU outlet). */
  hostMapKey: { snmp: 'plug' } as Record<string, string>,
  monitor: { interval: '60s', timeout: '30s' },
  /** Pacemaker's CIB-secret marker (cibsecret(8)). */
  secretMarker: 'lrm://',
};

/**
 * Fencing heuristic: fence-agents' own fence_heuristics_ping, as the first device of every
 * fencing level (before the head's fence device). A head that cannot ping the targets (the
 * compute nodes' side) fails that device, so the level fails and it fences nobody: in a split
 * brain only the head that still reaches the compute nodes can shoot. One primitive, allowed on
 * both heads (the fencer registers a stonith resource on every node where it may run, started
 * there or not), no pcmk_host_list: the agent has no list or status action, so the fencer
 * lets it "fence" any head, and it is used only through the fencing levels.
 * Description key -> the agent's parameter; defaults shorter than the agent's own (10 pings,
 * 8 good, 1 s apart, 2 s timeout: ~9 s on every fencing): 3 pings, 2 good, 1 s apart, 1 s
 * timeout, so a reachable target passes in ~2 s and an unreachable one fails in ~3 s.
 * The agent takes whole seconds only (int()). IPv6 targets go in bare: the agent's "inet6:"
 * prefix is split at the first ':' (fence-agents 4.12), which breaks every IPv6 address,
 * while Debian's ping takes both families.
 */
export const HEURISTIC = {
  agent: 'stonith:fence_heuristics_ping',
  id: 'fence-heuristic',
  params: { ping: 'ping_targets', count: 'ping_count', good: 'ping_good_count', interval: 'ping_interval', timeout: 'ping_timeout', maxfail: 'ping_maxfail' },
  defaults: { count: 3, good: 2, interval: 1, timeout: 1, maxfail: 0 },
  monitor: { interval: '60s', timeout: '30s' },
};

/**
 * The split-brain delay, only when the head to be fenced still answers (src/fence/delay.ts,
 * agents/fence_haoscar_delay.ts): one pseudo device, allowed on both heads, in every head's
 * fencing level after the heuristic and before the PDU or IPMI device. It replaces Pacemaker's
 * priority-fencing-delay and pcmk_delay_max (fencing.delay.when: always keeps those).
 */
export const DELAY = {
  agent: 'stonith:fence_haoscar_delay',
  id: 'fence-delay',
  params: { peers: 'peers', priority: 'priority_delay', tie: 'tie_delay_max' },
  monitor: { interval: '60s', timeout: '30s' },
};

/**
 * The Pacemaker alert for alert_haoscar (agents/alert_haoscar.ts, docs/snmp.md): one alert,
 * instance attributes named as the agent reads them. Secrets never appear here: snmptrap reads
 * the community or SNMPv3 keys from snmp.conf in snmp_conf_dir.
 */
export const SNMP_ALERT = {
  id: 'ha-oscar-snmp',
  /** where the packages install it (scripts/package.mjs, packaging/rpm/ha-oscar.spec) */
  path: '/usr/share/pacemaker/alerts/alert_haoscar',
  transport: 'transport',
  snmpConfDir: 'snmp_conf_dir',
  inform: 'inform',
  spoolDir: 'spool_dir',
  /** snmptrap's default port */
  port: 162,
} as const;

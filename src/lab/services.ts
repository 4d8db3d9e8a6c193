// The lab's cluster configuration, data-driven: ONE list of lab services.
// Each entry: when it is available, its crm snippet (primitives + the names it adds to
// the head group), and the checks the client runs to see it answer on the VIPs.
// Adding a service (dhcpd, tftpd, ntpd, nfsserver...) is one entry here.
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Constraint, Op, Primitive } from '../crm/model';
import { constraint, primitive } from '../crm/render-crm';
import { writeFileAtomic } from '../service/atomic';
import type { LabSpec } from './spec';
import { HEADS, LAB_SHARED, MIBDIR, VIP4, VIP6, nodeDir, sharedDir } from './spec';

export interface ClientCheck {
  /** Short label in the timeline, e.g. "snmp v6". */
  name: string;
  /** argv run inside the client node; exit 0 = the service answered. */
  argv: string[];
  /** Same check, but waiting (retrying fast) until the first answer; exit 0 on answer. */
  waitArgv?: string[];
  /** Faster single try for polling loops (short timeout). */
  pollArgv?: string[];
  /** Kill the check after this long (default 10 s). */
  timeoutMs?: number;
}

export interface LabService {
  id: string;
  /** Why it is absent when it is ('' when available). */
  missing(spec: LabSpec): string;
  /** crm configure snippet: primitives only. */
  crm(spec: LabSpec): string;
  /** Resource ids of its primitives: each runs with the VIPs, and starts after both VIPs
   * (the VIPs themselves start in parallel; services start in parallel with each other). */
  members: string[];
  checks(spec: LabSpec): ClientCheck[];
  /** Files the service's configuration names, written into EACH head's own copy of LAB_DIR
   * (keys: names relative to LAB_DIR; a key ending in '/' is a directory). */
  files?(spec: LabSpec): Record<string, string>;
  /** Directories the service keeps on the cluster's shared storage (LAB_SHARED, both heads),
   * with their modes: relative names. */
  sharedDirs?: Record<string, number>;
}

/** Where the lab's service configuration files live INSIDE the heads: under /var/lib/ha-oscar,
 * which every node has as its own per-node directory (nodes/<node>/var-lib-ha-oscar,
 * src/lab/nodefs.ts). The heads see the host's /etc, and their /run is a fresh tmpfs.
 * Per head, like /etc on real heads: each head gets the same files. What must move with the
 * services (DHCP leases, the NFS export and NFS state) lives on LAB_SHARED instead. */
export const LAB_DIR = '/var/lib/ha-oscar/lab';
/** Start/stop timeouts of the lab's service agents: the agents advise 20-30 s (their meta-data),
 * right for a head of its own; the lab's heads share 2 cores with the tests and other labs, and
 * at load 17 starts of tftpd and dhcpd timed out at 20 s after a failover, which (start failures
 * being fatal) sent every service back to the head that had just been fenced and rebooted. */
export const LAB_START_STOP_OPS: Op[] = [{ name: 'start', interval: '0s', timeout: '60s' }, { name: 'stop', interval: '0s', timeout: '60s' }];
const LAB_START_STOP = LAB_START_STOP_OPS.map((o) => `op ${o.name} timeout=${o.timeout} interval=${o.interval}`).join(' ');
/** snmpd's AgentX master socket in the heads (their /run is per node). */
export const AGENTX_SOCKET = '/run/ha-oscar/agentx';
export const hostLabDir = (spec: LabSpec, head: (typeof HEADS)[number]): string => join(nodeDir(spec, head), 'var-lib-ha-oscar', 'lab');
// (entries: LAB_SERVICES below; more are pushed after the helpers they use)

const agent = (spec: LabSpec, name: string): string => join(spec.repo, 'dist', 'ocf', name);
const needAgent = (spec: LabSpec, name: string): string =>
  existsSync(agent(spec, name)) ? '' : `dist/ocf/${name} not built (agents/${name}.ts missing?)`;

const pingCheck = (name: string, vip: string): ClientCheck => ({
  name,
  argv: ['ping', '-n', '-q', '-c', '1', '-W', '1', vip],
  // Send every 50 ms until the first reply; exits at once on it.
  waitArgv: ['ping', '-n', '-q', '-c', '1', '-i', '0.05', '-w', '60', vip],
});

/** The lab's two VIPs on net A (also the bare resource-agents peer's, src/lab/peer.ts). */
export const LAB_VIPS: Primitive[] = [
  // arp_bg: gratuitous ARP / unsolicited NA in the background, so start returns at once
  { id: 'vip4', agent: 'ocf:heartbeat:IPaddr2', params: [['ip', VIP4], ['cidr_netmask', '24'], ['nic', 'eth0'], ['arp_bg', 'true']], meta: [], ops: [{ name: 'monitor', interval: '10s', timeout: '20s' }] },
  // nodad: the moved IPv6 VIP is usable at once instead of after ~2 s of DAD
  { id: 'vip6', agent: 'ocf:heartbeat:IPaddr2', params: [['ip', VIP6], ['cidr_netmask', '64'], ['nic', 'eth0'], ['nodad', 'true'], ['arp_bg', 'true']], meta: [], ops: [{ name: 'monitor', interval: '10s', timeout: '20s' }] },
];
const one = (id: string) => ({ ids: [id], sequential: true });
/** The VIPs stay together. */
export const VIP_COLOCATION: Constraint = { kind: 'colocation', id: 'vip6-with-vip4', score: 'INFINITY', sets: [one('vip6'), one('vip4')] };
/** A service resource runs with the VIPs and starts after both (services start in parallel). */
export const withVips = (id: string): Constraint[] => [
  { kind: 'colocation', id: `${id}-with-vips`, score: 'INFINITY', sets: [one(id), one('vip4')] },
  { kind: 'order', id: `vip4-then-${id}`, orderKind: 'Mandatory', sets: [one('vip4'), one(id)] },
  { kind: 'order', id: `vip6-then-${id}`, orderKind: 'Mandatory', sets: [one('vip6'), one(id)] },
];

export const LAB_SERVICES: LabService[] = [
  {
    id: 'vips',
    missing: () => '',
    crm: () => [...LAB_VIPS.map((p) => primitive(p)), constraint(VIP_COLOCATION)].join('\n'),
    members: ['vip4', 'vip6'],
    checks: () => [pingCheck('vip v4', VIP4), pingCheck('vip v6', VIP6)],
  },
  {
    id: 'snmpd',
    missing: (spec) => needAgent(spec, 'snmpd'),
    // AgentX master on a socket in the head's own /run, for ha-oscar-snmp-agent (HA-OSCAR-MIB)
    crm: () => `primitive snmpd ocf:ha-oscar:snmpd params listen="${VIP4} ${VIP6}" community=public port=161 agentx_socket=${AGENTX_SOCKET} op monitor interval=10s timeout=20s ${LAB_START_STOP}`,
    members: ['snmpd'],
    checks: (spec) => onVips(spec, 'snmp', snmpCheck),
  },
];

const VIPS = `${VIP4} ${VIP6}`;
const cli = (spec: LabSpec): string[] => [process.execPath, join(spec.repo, 'dist', 'ha-oscar')];
/** Kill guard for checks that are Node processes (tftp, ntp, dhcp): runChecks starts every
 * check at once, and a dozen Node start-ups on a loaded 2-core machine took over 10 s (seen in
 * the lab test). The protocol clients time out on their own in 1-1.5 s; this only bounds a hang. */
const NODE_CHECK_MS = 20_000;

/** A check by our own protocol client (`ha-oscar lab _probe ...`): one try, and a waiting form
 * that retries in ONE Node process (`_probe --wait`) for the failover timeline, where a new Node
 * per try every 50 ms, for six checks at once, kept the 2 cores busy while the agents started. */
const nodeCheck = (spec: LabSpec, probe: string[]): Omit<ClientCheck, 'name'> => ({
  argv: [...cli(spec), 'lab', '_probe', ...probe],
  waitArgv: [...cli(spec), 'lab', '_probe', '--wait', '60', ...probe],
  timeoutMs: NODE_CHECK_MS,
});

/** One service's check from the client against one VIP (the lab's own, or a description's). */
type PerVip = (spec: LabSpec, vip: string, fam: 'v4' | 'v6') => Omit<ClientCheck, 'name'>;
/** A service's checks on a VIP pair, named "<label> v4|v6" (plus " (<vip>)" when tagged). */
const onVips = (spec: LabSpec, label: string, make: PerVip, vip4 = VIP4, vip6 = VIP6, tagged = false): ClientCheck[] =>
  ([[vip4, 'v4'], [vip6, 'v6']] as const).map(([vip, fam]) => ({ name: `${label} ${fam}${tagged ? ` (${vip})` : ''}`, ...make(spec, vip, fam) }));

const snmpCheck: PerVip = (spec, vip, fam) => {
  const target = fam === 'v4' ? `udp:${vip}:161` : `udp6:[${vip}]:161`;
  const base = ['snmpget', '-v2c', '-c', 'public', '-M', MIBDIR(spec), '-m', 'SNMPv2-MIB', '-r', '0'];
  return { argv: [...base, '-t', '1', target, 'SNMPv2-MIB::sysUpTime.0'], pollArgv: [...base, '-t', '0.3', target, 'SNMPv2-MIB::sysUpTime.0'] };
};
// tftp-hpa's client exits 0 even on a TFTP error: our client (src/probe/tftp.ts) instead.
const tftpCheck: PerVip = (spec, vip) => nodeCheck(spec, ['tftp', vip, TFTP_PROBE]);
// One RFC 5905 client exchange (src/probe/ntp.ts) through `ha-oscar lab _probe ntp ADDR`.
const ntpCheck: PerVip = (spec, vip) => nodeCheck(spec, ['ntp', vip]);
// libnfs nfs-cat (exit 0 = the file was read); IPv6 without brackets (libnfs 4.0).
const nfsCheck: PerVip = (_spec, vip) => ({ argv: ['nfs-cat', `nfs://${vip}${NFS_PROBE}`], timeoutMs: 5_000 });
/** DISCOVER / SOLICIT from the client: the answer names the lab's VIP (v4) and the boot file. */
const dhcpChecks = (spec: LabSpec): ClientCheck[] => [
  { name: 'dhcp v4', ...nodeCheck(spec, ['dhcp4', VIP4, BOOT_FILE]) },
  { name: 'dhcp v6', ...nodeCheck(spec, ['dhcp6', BOOT_URL6]) },
];

LAB_SERVICES.push(
  {
    id: 'tftpd',
    missing: (spec) => needAgent(spec, 'tftpd'),
    // root /srv/tftp is a per-node copy in the lab; start writes the probe file there.
    crm: () => `primitive tftpd ocf:ha-oscar:tftpd params root=/srv/tftp listen="${VIPS}" op monitor interval=10s timeout=20s ${LAB_START_STOP}`,
    members: ['tftpd'],
    checks: (spec) => onVips(spec, 'tftp', tftpCheck),
  },
  {
    id: 'ntpd',
    missing: (spec) => needAgent(spec, 'ntpd'),
    // clock_control=false: every namespace shares the host's one clock (docs/ntp.md).
    crm: () => `primitive ntpd ocf:ha-oscar:ntpd params listen="${VIPS}" allow="192.0.2.0/24 2001:db8:a::/64" local_stratum=10 clock_control=false op monitor interval=30s timeout=20s ${LAB_START_STOP}`,
    members: ['ntpd'],
    checks: (spec) => onVips(spec, 'ntp', ntpCheck),
  },
);

export const TFTP_PROBE = '.ha-oscar-tftp-probe';
/** The dhcpd instances' state_dir (leases), on the shared storage. */
export const DHCP_STATE = { 4: `${LAB_SHARED}/dhcp4`, 6: `${LAB_SHARED}/dhcp6` } as const;
const NFS_STATE = `${LAB_SHARED}/nfs-state`;
/** The boot file DHCP names: the file tftpd serves (its probe file, in the lab's /srv/tftp). */
export const BOOT_FILE = TFTP_PROBE;
export const BOOT_URL6 = `tftp://[${VIP6}]/${BOOT_FILE}`;
/** The NFS export, on the shared storage: world-writable (the client's root is squashed). */
export const NFS_EXPORT = `${LAB_SHARED}/export`;
const NFS_PROBE = `${NFS_EXPORT}/.ha-oscar-nfs-probe`;
/** DHCP checks: our client (src/probe/dhcp.ts) through `ha-oscar lab _probe dhcp4|dhcp6`. */
const needBins = (...bins: string[]): string => {
  const gone = bins.filter((b) => !['/usr/sbin', '/usr/bin', '/sbin', '/bin'].some((d) => existsSync(join(d, b))));
  return gone.length ? `missing ${gone.join(', ')}` : '';
};

/** ISC dhcpd, DHCPv4 on net A: answers as the VIP, range clear of the heads (.11/.12), the client (.20), the VIP (.100). */
export function labDhcpdConf(): string {
  return [
    '# ha-oscar lab: DHCPv4 on net A (written by src/lab/services.ts)',
    'authoritative;',
    'ping-check false;',
    'default-lease-time 600;',
    'max-lease-time 7200;',
    `server-identifier ${VIP4};`,
    'subnet 192.0.2.0 netmask 255.255.255.0 {',
    '  range 192.0.2.150 192.0.2.199;',
    `  next-server ${VIP4};`,
    `  filename "${BOOT_FILE}";`,
    '}',
  ].join('\n') + '\n';
}

/** ISC dhcpd -6 on net A: a pool clear of ::11/::12/::20/::100, the boot-file URL on the IPv6 VIP. */
export function labDhcpd6Conf(): string {
  return [
    '# ha-oscar lab: DHCPv6 on net A (written by src/lab/services.ts)',
    'default-lease-time 600;',
    'max-lease-time 7200;',
    'option dhcp6.bootfile-url code 59 = string;',
    `option dhcp6.bootfile-url "${BOOT_URL6}";`,
    'subnet6 2001:db8:a::/64 {',
    '  range6 2001:db8:a::1000 2001:db8:a::ffff;',
    '}',
  ].join('\n') + '\n';
}

/**
 * Kea on net A, for examples/lab-kea-ha.yaml (test/lab/config.test.ts applies it): the same pools, next
 * server and boot file as the ISC files above; the same file on both heads. The agent binds each
 * head's own address (v4) or the interface (v6) and adds the HA hook and control socket; each head
 * answers from its own address, so there is no server identifier here.
 */
export function labKeaConf(family: 4 | 6): string {
  const common = { 'interfaces-config': { interfaces: ['eth0'] }, 'lease-database': { type: 'memfile', 'lfc-interval': 3600 }, 'valid-lifetime': 600 };
  const conf = family === 4
    ? { Dhcp4: { ...common, subnet4: [{ id: 1, subnet: '192.0.2.0/24', pools: [{ pool: '192.0.2.150 - 192.0.2.199' }], 'next-server': VIP4, 'boot-file-name': BOOT_FILE }] } }
    : { Dhcp6: { ...common, 'preferred-lifetime': 300, subnet6: [{ id: 1, subnet: '2001:db8:a::/64', interface: 'eth0', pools: [{ pool: '2001:db8:a::1000 - 2001:db8:a::ffff' }], 'option-data': [{ name: 'bootfile-url', data: BOOT_URL6 }] }] } };
  return `${JSON.stringify(conf, null, 2)}\n`;
}

LAB_SERVICES.push(
  {
    id: 'dhcpd',
    missing: (spec) => needAgent(spec, 'dhcpd') || needBins('dhcpd'),
    // state_dir on the shared storage: the leases move with the service.
    crm: () => [
      `primitive dhcpd4 ocf:ha-oscar:dhcpd params server=isc family=4 config=${LAB_DIR}/dhcpd.conf interface=eth0 server_id=${VIP4} state_dir=${DHCP_STATE[4]} op monitor interval=10s timeout=20s ${LAB_START_STOP}`,
      `primitive dhcpd6 ocf:ha-oscar:dhcpd params server=isc family=6 config=${LAB_DIR}/dhcpd6.conf interface=eth0 state_dir=${DHCP_STATE[6]} op monitor interval=10s timeout=20s ${LAB_START_STOP}`,
    ].join('\n'),
    members: ['dhcpd4', 'dhcpd6'],
    // the Kea files serve only examples/lab-kea-ha.yaml (no resource of the lab's own uses them)
    files: () => ({ 'dhcpd.conf': labDhcpdConf(), 'dhcpd6.conf': labDhcpd6Conf(), 'kea-dhcp4.json': labKeaConf(4), 'kea-dhcp6.json': labKeaConf(6) }),
    sharedDirs: { dhcp4: 0o755, dhcp6: 0o755 },
    checks: dhcpChecks,
  },
  {
    id: 'nfsserver',
    missing: (spec) => needAgent(spec, 'nfsserver') || needBins('ganesha.nfsd', 'rpcbind', 'nfs-cat'),
    // ganesha (no nfsd in the lab's kernel); rpcbind started by the agent in the head's own /run.
    // NFSv3 check: reads work during ganesha's grace (NFSv4 opens wait for its end).
    // export and state_dir on the shared storage: acknowledged writes and NFS client state move.
    crm: () => `primitive nfsserver ocf:ha-oscar:nfsserver params server=ganesha exports="${NFS_EXPORT} 192.0.2.0/24(rw) 2001:db8:a::/64(rw)" state_dir=${NFS_STATE} listen="${VIPS}" grace_time=10 lease_time=10 versions="3 4" probe_file=${NFS_PROBE} op monitor interval=10s timeout=20s op start timeout=60s op stop timeout=60s`,
    members: ['nfsserver'],
    sharedDirs: { export: 0o1777, 'nfs-state': 0o755 },
    checks: (spec) => onVips(spec, 'nfs', nfsCheck),
  },
);

/** The lab's IPv6 prefix on net A, advertised by radvd from both heads. */
export const LAB_RA_PREFIX = '2001:db8:a::/64';

LAB_SERVICES.push({
  id: 'radvd',
  missing: (spec) => needAgent(spec, 'radvd') || needBins('radvd', 'rdisc6'),
  // A clone on both heads, not with the VIPs (members: none): each head advertises net A's prefix
  // with M=1 O=1 from its own link-local address, so an RA never depends on one head (docs/pxe.md).
  // Router lifetime 0 (the agent's default): the heads are not the client's default router.
  crm: () => [
    `primitive radvd ocf:ha-oscar:radvd params interface=eth0 prefixes=${LAB_RA_PREFIX} op monitor interval=10s timeout=20s op monitor interval=120s timeout=20s OCF_CHECK_LEVEL=10 ${LAB_START_STOP}`,
    'clone radvd-clone radvd meta interleave=true',
  ].join('\n'),
  members: [],
  // a router solicitation from the client is answered by an RA with M=1 (rdisc6, src/probe/ra.ts)
  checks: (spec) => [{ name: 'ra v6', ...nodeCheck(spec, ['ra']) }],
});

/** Write every available service's files into both heads' LAB_DIR, and make its directories
 * on the shared storage (host side; the heads see them at once). */
export function writeServiceFiles(spec: LabSpec): void {
  for (const s of availableServices(spec)) {
    for (const [name, mode] of Object.entries(s.sharedDirs ?? {})) {
      mkdirSync(join(sharedDir(spec), name), { recursive: true });
      chmodSync(join(sharedDir(spec), name), mode); // exact mode, whatever the umask
    }
    writeHeadFiles(spec, s.files?.(spec) ?? {});
  }
}

/** Write files into each head's own copy of LAB_DIR (keys as LabService.files: relative names,
 * a key ending in '/' is a directory). */
export function writeHeadFiles(spec: LabSpec, files: Record<string, string>): void {
  for (const head of HEADS) {
    const dir = hostLabDir(spec, head);
    for (const [name, text] of Object.entries(files)) {
      if (name.endsWith('/')) mkdirSync(join(dir, name), { recursive: true, mode: 0o755 });
      else writeFileAtomic(join(dir, name), text, { mode: 0o644, mkdir: true });
    }
  }
}

export function availableServices(spec: LabSpec): LabService[] {
  return LAB_SERVICES.filter((s) => s.missing(spec) === '');
}

/** The whole crm configuration the lab loads: the VIPs, every available service with them.
 * It first writes the files that configuration names (writeServiceFiles): the lab loads it
 * right after (src/lab/lab.ts loadConfig). */
export function labCrmConfig(spec: LabSpec): string {
  writeServiceFiles(spec);
  const svcs = availableServices(spec);
  const out = svcs.map((s) => s.crm(spec));
  for (const s of svcs) {
    if (s.id === 'vips') continue;
    for (const m of s.members) out.push(...withVips(m).map(constraint));
  }
  return out.join('\n') + '\n';
}

export function labChecks(spec: LabSpec): ClientCheck[] {
  return availableServices(spec).flatMap((s) => s.checks(spec));
}

/**
 * Client checks for one service set of a cluster description run in the lab (examples/lab*.yaml):
 * ping of its VIPs, then each of its services (description names: dhcp, tftp, ntp, nfs, snmp)
 * answering on those VIPs, with the same clients as the lab's own checks. DHCP answers with
 * what the lab's dhcpd.conf says (server identifier VIP4, the boot file on VIP6): a set holding
 * dhcp must have the lab's VIPs.
 */
export function descriptionChecks(spec: LabSpec, vip4: string, vip6: string, services: readonly string[]): ClientCheck[] {
  const perVip: Record<string, PerVip> = { snmp: snmpCheck, tftp: tftpCheck, ntp: ntpCheck, nfs: nfsCheck };
  const out: ClientCheck[] = [pingCheck(`vip v4 (${vip4})`, vip4), pingCheck(`vip v6 (${vip6})`, vip6)];
  for (const s of services) {
    if (s === 'dhcp') {
      if (vip4 !== VIP4 || vip6 !== VIP6) throw new Error(`the lab's dhcpd.conf answers as ${VIP4} / ${VIP6}, not ${vip4} / ${vip6}`);
      out.push(...dhcpChecks(spec));
      continue;
    }
    const make = perVip[s];
    if (!make) throw new Error(`no lab check for service '${s}'`);
    out.push(...onVips(spec, s, make, vip4, vip6, true));
  }
  return out;
}

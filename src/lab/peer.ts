// The "bare resource-agents" peer (issues 18, 21, 25): what an admin builds today with bare
// Pacemaker and the ClusterLabs resource-agents for the job ha-oscar does on the lab's two
// heads, to run side by side with ha-oscar in the benches (`npm run bench:idle`,
// `npm run bench:failover -- --peer`) and `ha-oscar lab peer`:
//   - the lab's two IPaddr2 VIPs (the same objects as the lab's own configuration,
//     src/lab/services.ts LAB_VIPS: the addresses of examples/lab.yaml);
//   - ocf:heartbeat:dhcpd for DHCPv4 (the lab's dhcpd.conf; leases on the shared storage);
//   - ocf:heartbeat:anything for in.tftpd, chronyd and snmpd, each in the foreground;
//   - the same fencing: the stonith devices, their location constraints and the fencing
//     topology the lab loaded stay as they are (whatever they are), only the rest is replaced;
//   - no DHCPv6 (ocf:heartbeat:dhcpd runs `dhcpd -4` only), no radvd (no agent), no NFS:
//     ocf:heartbeat:nfsserver drives the kernel's nfsd only (rpc.nfsd through systemctl or
//     /etc/init.d/nfs-kernel-server, then /proc/fs/nfsd/threads), and the lab's kernel has
//     no nfsd (no 'nfsd' in /proc/filesystems, no modules to load); resource-agents has no
//     agent for nfs-ganesha, which the lab's ha-oscar configuration runs. docs/lab.md.
// Monitors: the agents' own advised defaults (10 s, level 0: a pid check); start and stop
// timeouts as the lab gives its own agents (LAB_START_STOP_OPS).
import { chmodSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterConfig, Constraint, Primitive } from '../crm/model';
import { constraint, primitive } from '../crm/render-crm';
import { renderConfiguration, renderFullCib } from '../crm/render-xml';
import { CibChangedError, patchRefused, patchWithRetry } from '../pacemaker/cib';
import { describeFailure } from '../service/run';
import { crmMon, exec, execOk, initOf, waitInactive, waitServices, type Say } from './lab';
import {
  DHCP_STATE, LAB_DIR, LAB_START_STOP_OPS, LAB_VIPS, TFTP_PROBE, VIP_COLOCATION, labChecks, labDhcpdConf, withVips, writeHeadFiles,
  type ClientCheck,
} from './services';
import type { LabSpec } from './spec';
import { HEADS, LAB_SHARED, VIP4, VIP6, nodeId, sharedDir } from './spec';

/** The peer's state on the shared storage (the DHCPv4 leases move with the service). */
export const PEER_DHCP_DIR = 'peer-dhcp';
/** Files the peer's daemons read, in each head's LAB_DIR. */
export const PEER_FILES = { chrony: `${LAB_DIR}/peer-chrony.conf`, snmpd: `${LAB_DIR}/peer-snmpd.conf`, tftpRoot: `${LAB_DIR}/peer-tftp` } as const;

/** The lab's client checks the peer's services answer (the lab's own names). */
export const PEER_CHECK_NAMES = ['vip v4', 'vip v6', 'snmp v4', 'snmp v6', 'tftp v4', 'tftp v6', 'ntp v4', 'ntp v6', 'dhcp v4'] as const;
export const peerChecks = (spec: LabSpec): ClientCheck[] =>
  labChecks(spec).filter((c) => (PEER_CHECK_NAMES as readonly string[]).includes(c.name));

const MONITOR = { name: 'monitor', interval: '10s', timeout: '20s' };
const svc = (id: string, agent: string, params: [string, string][]): Primitive => ({ id, agent, params, meta: [], ops: [...LAB_START_STOP_OPS, MONITOR] });
const anything = (id: string, binfile: string, options: string[]): Primitive =>
  svc(id, 'ocf:heartbeat:anything', [['binfile', binfile], ['cmdline_options', options.join(' ')]]);

/** The peer's service resources (without the VIPs), in start order of nothing: all start after both VIPs. */
export function peerServices(): Primitive[] {
  return [
    // not chrooted: the chroot copies libraries by hand; pid in /run/dhcpd/, leases on the shared storage
    svc('peer-dhcpd', 'ocf:heartbeat:dhcpd', [
      ['config', `${LAB_DIR}/dhcpd.conf`], ['chrooted', 'false'], ['chrooted_path', `${LAB_SHARED}/${PEER_DHCP_DIR}`],
      ['leases', '/dhcpd.leases'], ['interface', 'eth0'], ['user', 'root'], ['group', 'root'],
    ]),
    // -a :69 binds 0.0.0.0:69 and [::]:69; a transfer answers from the address it was asked on
    anything('peer-tftpd', '/usr/sbin/in.tftpd', ['-L', '-a', ':69', '-u', 'tftp', '-s', PEER_FILES.tftpRoot]),
    // -x: never touch the clock (every namespace shares the host's one clock, as ntpd's clock_control=false)
    anything('peer-chronyd', '/usr/sbin/chronyd', ['-d', '-x', '-f', PEER_FILES.chrony]),
    // bound to the VIPs (snmpd on a wildcard udp6 socket answers from the wrong source address)
    anything('peer-snmpd', '/usr/sbin/snmpd', ['-f', '-Le', '-C', '-c', PEER_FILES.snmpd, '-u', 'Debian-snmp', '-g', 'Debian-snmp', `udp:${VIP4}:161,udp6:[${VIP6}]:161`]),
  ];
}

/** The peer's resources and constraints: the VIPs, the services with them. Fencing is not in it (kept from the live CIB). */
export function peerConfig(): { primitives: Primitive[]; constraints: Constraint[] } {
  const services = peerServices();
  return { primitives: [...LAB_VIPS, ...services], constraints: [VIP_COLOCATION, ...services.flatMap((p) => withVips(p.id))] };
}

/** The peer in crm syntax (for reading and the docs; `ha-oscar lab peer --print`). */
export function peerCrm(): string {
  const c = peerConfig();
  return `${[...c.primitives.map((p) => primitive(p)), ...c.constraints.map(constraint)].join('\n')}\n`;
}

const bareConfig = (primitives: Primitive[], constraints: Constraint[]): ClusterConfig => ({
  nodes: HEADS.map((h) => ({ id: String(nodeId(h)), uname: h })),
  properties: [['stonith-enabled', 'false']], rscDefaults: [], primitives, clones: [], constraints, fencingLevels: [], alerts: [],
});

/** A whole CIB holding the peer alone (two online heads, no fencing): what crm_verify judges. */
export function peerCib(): string {
  const c = peerConfig();
  return renderFullCib(bareConfig(c.primitives, c.constraints));
}

function section(xml: string, name: string): { whole: string; inner: string } {
  const m = new RegExp(`<${name}>([^]*?)</${name}>|<${name}/>`).exec(xml);
  if (!m) throw new Error(`no <${name}> in the CIB`);
  return { whole: m[0], inner: m[1] ?? '' };
}

/**
 * The fencing of a CIB: its stonith primitives and the rsc_location constraints on them
 * (e.g. "not on the head it fences"). The fencing topology is elsewhere and stays anyway.
 */
export function fencingObjects(cib: string): { ids: string[]; resources: string[]; constraints: string[] } {
  const resources = section(cib, 'resources').inner.match(/<primitive\b[^>]*\bclass="stonith"[^>]*?(?:\/>|>[^]*?<\/primitive>)/g) ?? [];
  const ids = resources.map((r) => /\bid="([^"]+)"/.exec(r)![1]!);
  const constraints = (section(cib, 'constraints').inner.match(/<rsc_location\b[^>]*?(?:\/>|>[^]*?<\/rsc_location>)/g) ?? [])
    .filter((c) => ids.includes(/\brsc="([^"]+)"/.exec(c)?.[1] ?? ''));
  return { ids, resources, constraints };
}

/**
 * The CIB with its resources and constraints replaced: the fencing it has (fencingObjects)
 * plus the given primitives and constraints. Everything else (properties, rsc_defaults,
 * fencing topology, status) as it was; the epoch one on (a patch made to it is newer).
 */
export function spliceCib(cib: string, primitives: Primitive[], constraints: Constraint[]): string {
  const fence = fencingObjects(cib);
  const ours = renderConfiguration(bareConfig(primitives, constraints));
  const res = `<resources>${fence.resources.join('')}${section(ours, 'resources').inner}</resources>`;
  const cons = `<constraints>${fence.constraints.join('')}${section(ours, 'constraints').inner}</constraints>`;
  // one epoch on, num_updates 0: crm_diff takes the patch's target version from the new text, and
  // the CIB refuses a patch whose target is not newer ("older than existing configuration")
  const bump = (tag: string) => tag.replace(/(\sepoch=")(\d+)"/, (_m, a: string, n: string) => `${a}${Number(n) + 1}"`).replace(/(\snum_updates=")\d+"/, '$10"');
  return cib.replace(/<cib\b[^>]*>/, bump).replace(section(cib, 'resources').whole, () => res).replace(section(cib, 'constraints').whole, () => cons);
}

/** The files the peer's daemons read, in both heads, and its directory on the shared storage. */
export function peerFiles(): Record<string, string> {
  return {
    'dhcpd.conf': labDhcpdConf(),
    'peer-tftp/': '',
    [`peer-tftp/${TFTP_PROBE}`]: 'ha-oscar lab: the bare resource-agents peer\'s TFTP probe file\n',
    'peer-chrony.conf': [
      '# ha-oscar lab: chronyd of the bare resource-agents peer (src/lab/peer.ts)',
      'allow 192.0.2.0/24', 'allow 2001:db8:a::/64', 'local stratum 10',
      'cmdport 0', 'bindcmdaddress /', 'pidfile /run/peer-chronyd.pid',
    ].join('\n') + '\n',
    'peer-snmpd.conf': [
      '# ha-oscar lab: snmpd of the bare resource-agents peer (src/lab/peer.ts)',
      'rocommunity public default', 'rocommunity6 public default', 'dontLogTCPWrappersConnects yes',
    ].join('\n') + '\n',
  };
}

/**
 * One write of the CIB on head: the patch (crm_diff) from what it is to spliceCib's result,
 * both without the status section (as src/crm/apply.ts: the status changes all the time, and a
 * patch that names it is refused). Read again and retried when the CIB changed in between.
 */
async function replaceObjects(spec: LabSpec, head: (typeof HEADS)[number], primitives: Primitive[], constraints: Constraint[]): Promise<void> {
  const read = async () => (await execOk(spec, head, ['cibadmin', '--query'], { timeoutMs: 30_000 })).stdout.replace(/<status>[^]*<\/status>|<status\/>/, '');
  const edit = async (cib: string) => ({ original: cib, merged: spliceCib(cib, primitives, constraints) });
  const cib = await read();
  await patchWithRetry({
    read, edit, first: await edit(cib), firstCib: cib, pauseMs: 500,
    write: async (patch) => {
      const r = await exec(spec, head, ['cibadmin', '--patch', '--xml-pipe'], { input: patch, timeoutMs: 120_000 });
      if (r.code === 0) return;
      const failure = `${head}: ${describeFailure('cibadmin --patch', r)}`;
      throw patchRefused(r.stderr + r.stdout) ? new CibChangedError(failure) : new Error(failure);
    },
  });
}

/**
 * Switch a running lab to the peer: every resource but the fencing and the VIPs out (their
 * daemons hold the ports the peer's need: waits until Pacemaker has stopped them), then the
 * peer's services in, with cibadmin (one patch each, as `config apply --tool cibadmin`), and
 * waits until they run and answer from the client. The VIPs are the same objects: they stay up.
 */
/**
 * Switch the running lab to the peer. carryLeases: once ha-oscar's services are stopped, its
 * DHCPv4 lease file becomes the peer's (the same site under another configuration; otherwise the
 * peer's dhcpd starts with no leases and hands out addresses the clients already hold).
 */
export async function loadPeer(spec: LabSpec, say: Say = () => undefined, timeoutMs = 180_000, opts: { carryLeases?: boolean } = {}): Promise<void> {
  const head = HEADS.find((h) => initOf(spec, h));
  if (!head) throw new Error('no head is powered on');
  const dir = join(sharedDir(spec), PEER_DHCP_DIR);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  writeHeadFiles(spec, peerFiles());
  const { primitives, constraints } = peerConfig();
  const vipIds = LAB_VIPS.map((p) => p.id);
  await replaceObjects(spec, head, LAB_VIPS, [VIP_COLOCATION]);
  const fence = fencingObjects((await execOk(spec, head, ['cibadmin', '--query', '--scope', 'configuration'], { timeoutMs: 30_000 })).stdout);
  await waitInactive(spec, head, (id) => fence.ids.includes(id) || vipIds.includes(id), timeoutMs);
  say('  everything but the fencing and the VIPs stopped');
  if (opts.carryLeases) {
    const from = join(sharedDir(spec), DHCP_STATE[4].slice(LAB_SHARED.length + 1), 'dhcpd.leases'); // the head's path, on the host
    if (existsSync(from)) { copyFileSync(from, join(dir, 'dhcpd.leases')); say(`  ha-oscar's DHCPv4 leases carried over to the peer (${from})`); }
  }
  await replaceObjects(spec, head, primitives, constraints);
  await waitServices(spec, timeoutMs, peerChecks(spec));
  const mon = await crmMon(spec, head, 15_000);
  const bad = primitives.filter((p) => !mon.resources.some((r) => r.id === p.id && r.active && !r.failed)).map((p) => p.id);
  if (bad.length) throw new Error(`the peer's services answer, but crm_mon shows ${bad.join(', ')} not running or failed`);
  say(`  the peer runs: ${primitives.map((p) => `${p.id} (${p.agent})`).join(', ')}`);
}

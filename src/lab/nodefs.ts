// Per-node directories (host side, before boot) and the bind mounts the node init makes.
import { chmodSync, chownSync, cpSync, statSync, existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../service/atomic';
import { lookupId } from '../service/accounts';
import { runOk } from '../service/run';
import { labCorosyncConf } from './corosync';
import type { LabSpec, NodeName } from './spec';
import { HEADS, LAB_SHARED, NODES, addr4, addr6, netsOf, nodeDir, sharedDir } from './spec';

/** Head services' state directories: each gets a per-node copy, bind-mounted over the host's. */
export const SERVICE_STATE_DIRS = ['/var/lib/snmp', '/var/lib/dhcp', '/var/lib/nfs', '/var/lib/chrony', '/var/lib/kea', '/var/lib/tftpboot', '/srv/tftp'];

/** Our own agents' state (/var/lib/ha-oscar/<instance>): made on the host if missing (as the
 * package would), and each node starts with an EMPTY copy of it. */
export const OWN_STATE_DIR = '/var/lib/ha-oscar';

const flat = (p: string): string => p.replace(/^\//, '').replace(/\//g, '-');

export interface Bind { src: string; dst: string; file?: boolean }

export function nodeBinds(spec: LabSpec, node: NodeName): Bind[] {
  const d = nodeDir(spec, node);
  const b: Bind[] = [
    { src: join(d, 'etc-hosts'), dst: '/etc/hosts', file: true },
    { src: join(d, 'var-log'), dst: '/var/log' },
  ];
  if (HEADS.includes(node)) {
    for (const p of ['/etc/corosync', '/var/lib/pacemaker', '/var/lib/corosync']) b.push({ src: join(d, flat(p)), dst: p });
  }
  // the node's copy, made at lab up from the host's directory (prepareNodeDirs): not whether the
  // directory exists here, where a reboot looks through the head's /var overlay, in which an agent
  // may have made it since (a Kea state_dir in /var/lib/kea made every later boot of that head fail)
  for (const p of SERVICE_STATE_DIRS) if (existsSync(join(d, flat(p)))) b.push({ src: join(d, flat(p)), dst: p });
  b.push({ src: join(d, flat(OWN_STATE_DIR)), dst: OWN_STATE_DIR });
  // after OWN_STATE_DIR: LAB_SHARED lies inside it (the mount point is made by prepareNodeDirs)
  if (HEADS.includes(node)) b.push({ src: sharedDir(spec), dst: LAB_SHARED });
  return b;
}

/** The numeric id of a user (file /etc/passwd) or group (/etc/group); throws when there is none. */
export function ids(file: string, name: string): number {
  const id = lookupId(file, name);
  if (id === undefined) throw new Error(`no '${name}' in ${file}: is pacemaker installed?`);
  return id;
}

function hostsFile(node: NodeName): string {
  const lines = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback', `127.0.1.1 ${node}`];
  for (const n of NODES) for (const net of netsOf(n)) {
    const suf = net === 'A' ? '' : `-${net.toLowerCase()}`;
    lines.push(`${addr4(n, net)} ${n}${suf}`, `${addr6(n, net)} ${n}${suf}`);
  }
  return lines.join('\n') + '\n';
}

/** The same initial CIB for both heads: short dc-deadtime, stickiness, no fencing (yet). */
export async function initialCib(spec: LabSpec): Promise<string> {
  const file = join(spec.stateDir, 'cib.xml');
  const empty = await runOk('cibadmin', ['--empty'], { timeoutMs: 10_000 });
  writeFileAtomic(file, empty.stdout, { mkdir: true });
  const env = { CIB_file: file };
  const set = async (args: string[]): Promise<void> => { await runOk('crm_attribute', args, { env, timeoutMs: 10_000 }); };
  await set(['--type', 'crm_config', '--name', 'dc-deadtime', '--update', '2s']);
  // Fencing is another developer's work (issue: fence agent). Until it lands the lab runs
  // WITHOUT stonith: fine for a lab whose "power switch" is ours, never for production.
  await set(['--type', 'crm_config', '--name', 'stonith-enabled', '--update', 'false']);
  await set(['--type', 'crm_config', '--name', 'cluster-recheck-interval', '--update', '60s']);
  // The controller throttles (one action at a time) when /proc/loadavg is high. In the lab that
  // is the HOST's load, shared with every other lab and test on the machine: it says nothing
  // about the node, and made the VIPs start one after the other. Throttle only at 20x per core.
  await set(['--type', 'crm_config', '--name', 'load-threshold', '--update', '2000%']);
  // Default: 2 actions per core at once. The lab's agents mostly wait (sockets, sleeps), and
  // with 2 cores the 5th start (ntpd) queued behind the VIP monitors.
  await set(['--type', 'crm_config', '--name', 'node-action-limit', '--update', '16']);
  // Stickiness: a head that comes back does not take the services back.
  await runOk('cibadmin', ['--create', '-o', 'configuration', '-X',
    '<rsc_defaults><meta_attributes id="rsc-options"><nvpair id="rsc-options-resource-stickiness" name="resource-stickiness" value="100"/></meta_attributes></rsc_defaults>'],
  { env, timeoutMs: 10_000 });
  return readFileSync(file, 'utf8');
}

export async function prepareNodeDirs(spec: LabSpec, node: NodeName, cib: string, authkey: Buffer): Promise<void> {
  const d = nodeDir(spec, node);
  mkdirSync(d, { recursive: true });
  writeFileAtomic(join(d, 'etc-hosts'), hostsFile(node));
  for (const sub of ['corosync', 'pacemaker', 'crmsh']) mkdirSync(join(d, 'var-log', sub), { recursive: true });
  mkdirSync(join(d, 'ocf'), { recursive: true });
  for (const p of SERVICE_STATE_DIRS) {
    if (!existsSync(p) || existsSync(join(d, flat(p)))) continue;
    cpSync(p, join(d, flat(p)), { recursive: true, preserveTimestamps: true });
    const st = statSync(p); // cpSync keeps modes of the contents, not owners: copy the top's
    chownSync(join(d, flat(p)), st.uid, st.gid);
    chmodSync(join(d, flat(p)), st.mode & 0o7777);
  }
  if (existsSync(join(d, 'srv-tftp'))) {
    // Workaround, reported: ocf:ha-oscar:tftpd creates its probe file under pacemaker-execd's
    // umask (0640 root:root), which in.tftpd -u tftp cannot read. Pre-made world-readable here.
    const probe = join(d, 'srv-tftp', '.ha-oscar-tftp-probe');
    if (!existsSync(probe)) writeFileAtomic(probe, Buffer.alloc(2048, 'ha-oscar lab tftp probe\n'), { mode: 0o644 });
  }
  mkdirSync(OWN_STATE_DIR, { recursive: true, mode: 0o755 });
  mkdirSync(join(d, flat(OWN_STATE_DIR)), { recursive: true, mode: 0o755 });
  if (!HEADS.includes(node)) return;
  mkdirSync(sharedDir(spec), { recursive: true, mode: 0o755 });
  mkdirSync(join(d, flat(OWN_STATE_DIR), LAB_SHARED.slice(OWN_STATE_DIR.length + 1)), { recursive: true, mode: 0o755 });
  const uid = ids('/etc/passwd', 'hacluster');
  const gid = ids('/etc/group', 'haclient');
  chownSync(join(d, 'var-log', 'pacemaker'), uid, gid);
  chownSync(join(d, 'var-log', 'crmsh'), uid, gid);
  const ec = join(d, 'etc-corosync');
  mkdirSync(ec, { recursive: true });
  writeFileAtomic(join(ec, 'corosync.conf'), labCorosyncConf(spec));
  writeFileAtomic(join(ec, 'authkey'), authkey, { mode: 0o400 });
  mkdirSync(join(d, 'var-lib-corosync'), { recursive: true });
  const pm = join(d, 'var-lib-pacemaker');
  for (const sub of ['cib', 'pengine', 'blackbox', 'cores']) {
    mkdirSync(join(pm, sub), { recursive: true, mode: 0o750 });
    chownSync(join(pm, sub), uid, gid);
  }
  writeFileAtomic(join(pm, 'cib', 'cib.xml'), cib, { mode: 0o600 });
  chownSync(join(pm, 'cib', 'cib.xml'), uid, gid);
}

/** One authkey for the cluster, made by corosync-keygen. */
export async function makeAuthkey(spec: LabSpec): Promise<Buffer> {
  const f = join(spec.stateDir, 'authkey');
  await runOk('corosync-keygen', ['-k', f], { timeoutMs: 20_000 });
  return readFileSync(f);
}

/** Entries of the host's OCF provider directory, to be re-bound inside a head next to ha-oscar. */
export function hostOcfProviders(): string[] {
  try { return readdirSync('/usr/lib/ocf/resource.d').filter((e) => e !== 'ha-oscar'); } catch { return []; }
}

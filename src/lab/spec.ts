// The lab's fixed shape: names, addresses, paths. Pure data, no side effects.
//
// State dir: /run/ha-oscar-lab/<name>/ (override with HA_OSCAR_LAB_ROOT). It holds
//   state.json          every namespace and PID the lab created (teardown works from it only)
//   lab.json            the spec the node inits read at boot
//   nodes/<node>/...    per-node directories bind-mounted inside that node
//   nodes/<node>/init.log  the node init's own output
//   shared/             the cluster's shared storage stand-in, bind-mounted at LAB_SHARED in both heads
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

export type NodeName = 'head1' | 'head2' | 'client';
/**
 * A: the compute nodes' net (services, VIPs, corosync link 0); B: heartbeat (corosync link 1);
 * M: management / out-of-band (the PDU, as a real PDU or BMC network): heads only, no corosync.
 */
export type NetName = 'A' | 'B' | 'M';
export const HEADS: readonly NodeName[] = ['head1', 'head2'];
/** The other head. */
export const peerOf = (head: NodeName): NodeName => (head === 'head1' ? 'head2' : 'head1');
export const NODES: readonly NodeName[] = ['head1', 'head2', 'client'];
export const NETS: readonly NetName[] = ['A', 'B', 'M'];
/** The nets a node is cabled to: the client has no cable on the management net. */
export const netsOf = (node: NodeName): readonly NetName[] => (node === 'client' ? ['A', 'B'] : NETS);

export interface NetSpec { v4prefix: string; v4len: number; v6prefix: string; v6len: number }
export const NET: Record<NetName, NetSpec> = {
  A: { v4prefix: '192.0.2.', v4len: 24, v6prefix: '2001:db8:a::', v6len: 64 },
  B: { v4prefix: '198.51.100.', v4len: 24, v6prefix: '2001:db8:b::', v6len: 64 },
  M: { v4prefix: '203.0.113.', v4len: 24, v6prefix: '2001:db8:c::', v6len: 64 },
};
const HOST_NUM: Record<NodeName, number> = { head1: 11, head2: 12, client: 20 };
export const VIP4 = '192.0.2.100';
export const VIP6 = '2001:db8:a::100';

export interface LabSpec {
  name: string;
  /** corosync totem token in ms; undefined = corosync's default. */
  token?: number;
  /** Repository root: dist/ha-oscar, dist/ocf and node_modules/net-snmp/lib/mibs live there. */
  repo: string;
  stateDir: string;
  /** Optional crm configuration file loaded after the lab services. */
  extraConfig?: string;
  /**
   * A quorum device (`lab up --quorum-device`, src/lab/qdevice.ts): corosync-qnetd on the
   * management net M, corosync-qdevice on both heads, no two_node, no fencing delay.
   */
  quorumDevice?: boolean;
}

export const LAB_ROOT = process.env.HA_OSCAR_LAB_ROOT ?? '/run/ha-oscar-lab';

/** Lab names prefix every netns and interface: keep them short so names fit in 15 chars. */
export function checkName(name: string): void {
  if (!/^[a-z][a-z0-9]{0,7}$/.test(name)) {
    throw new Error(`bad lab name '${name}': use 1-8 lowercase letters/digits, starting with a letter`);
  }
}

export function makeSpec(name: string, opts: { token?: number; repo?: string; extraConfig?: string; quorumDevice?: boolean } = {}): LabSpec {
  checkName(name);
  if (opts.token !== undefined && (!Number.isInteger(opts.token) || opts.token < 200 || opts.token > 60_000)) {
    throw new Error(`bad token '${opts.token}': give milliseconds between 200 and 60000`);
  }
  return {
    name, token: opts.token, repo: opts.repo ?? findRepo(), stateDir: join(LAB_ROOT, name), extraConfig: opts.extraConfig,
    ...(opts.quorumDevice ? { quorumDevice: true } : {}),
  };
}

/** The repository root: walk up from the running script (bundle or source), then from cwd. */
export function findRepo(): string {
  const starts = [process.argv[1] ? dirname(resolve(process.argv[1])) : '', process.cwd()].filter(Boolean);
  for (const s of starts) {
    let d = s;
    for (;;) {
      if (existsSync(join(d, 'package.json')) && existsSync(join(d, 'src', 'lab'))) return d;
      const up = dirname(d);
      if (up === d) break;
      d = up;
    }
  }
  throw new Error('cannot find the ha-oscar repository (run from inside it)');
}

export const netnsOf = (lab: string, node: NodeName | 'sw'): string => `${lab}-${node}`;
export const bridgeOf = (lab: string, net: NetName): string => `${lab}-br${net.toLowerCase()}`;
/** Switch-side port of a node's cable, in the switch namespace. */
export const portOf = (lab: string, node: NodeName, net: NetName): string =>
  `${lab}-${node === 'client' ? 'c' : node === 'head1' ? 'h1' : 'h2'}${net.toLowerCase()}`;
export const ifOf = (net: NetName): string => (net === 'A' ? 'eth0' : net === 'B' ? 'eth1' : 'eth2');

export function addr4(node: NodeName, net: NetName): string { return `${NET[net].v4prefix}${HOST_NUM[node]}`; }
export function addr6(node: NodeName, net: NetName): string { return `${NET[net].v6prefix}${HOST_NUM[node]}`; }
export function nodeId(node: NodeName): number { return node === 'head1' ? 1 : node === 'head2' ? 2 : 0; }

export function parseNode(s: string | undefined): NodeName {
  if (s === 'head1' || s === 'head2' || s === 'client') return s;
  throw new Error(`unknown node '${s ?? ''}': use head1, head2 or client`);
}
export function parseNet(s: string | undefined): NetName {
  const u = (s ?? '').toUpperCase();
  if (u === 'A' || u === 'B' || u === 'M') return u;
  throw new Error(`unknown net '${s ?? ''}': use A, B or M`);
}

export const nodeDir = (spec: LabSpec, node: NodeName): string => join(spec.stateDir, 'nodes', node);
/**
 * The cluster's shared storage, as both heads see it. A real head pair keeps the DHCP leases,
 * NFS exports and NFS state on a shared disk or replicated volume (DRBD, a SAN LUN) that moves
 * with the services; the lab has no block device to share, so one directory of the lab's state
 * dir is bind-mounted here in both heads. Unlike a Filesystem resource it is mounted on the
 * standby too: the cluster's colocation, not the mount, keeps one head writing at a time.
 */
export const LAB_SHARED = '/var/lib/ha-oscar/shared';
export const sharedDir = (spec: LabSpec): string => join(spec.stateDir, 'shared');
export const MIBDIR = (spec: LabSpec): string => join(spec.repo, 'node_modules', 'net-snmp', 'lib', 'mibs');

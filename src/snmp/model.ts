// Cluster state -> the rows of HA-OSCAR-MIB. Pure functions: the subagent feeds them what
// the readers return, unit tests feed them fixtures.
import type { ClusterStatus, CibConfig, ResourceStatus, NodeState, Health, ResourceRole } from '../pacemaker/crm-mon';
import type { CfgtoolStatus, LinkState, QuorumtoolStatus } from '../pacemaker/corosync';
import { parseLinkAttribute } from '../pacemaker/corosync';
import { raidFromAttributes, type RaidArray } from '../pacemaker/mdstat';

export { SERVICES, SERVICE_PATTERNS, type ServiceName } from '../pacemaker/oscar-services';
import { SERVICES, serviceFor, type ServiceName } from '../pacemaker/oscar-services';

const VIP_TYPES = /^(IPaddr2?|IPv6addr|IPsrcaddr)$/i;

export const NODE_STATE: Record<NodeState, number> = { online: 1, standby: 2, maintenance: 3, offline: 4, unclean: 5, pending: 6 };
export const HEALTH: Record<Health, number> = { green: 1, yellow: 2, red: 3, unknown: 4 };
export const ROLE: Record<ResourceRole, number> = { started: 1, stopped: 2, promoted: 3, unpromoted: 4, starting: 5, stopping: 6, migrating: 7, unknown: 8 };
export const SERVICE_STATE = { running: 1, stopped: 2, failed: 3, notConfigured: 4 } as const;
export const LINK_STATUS = { connected: 1, down: 2, unknown: 3, degraded: 4 } as const;
export const LINK_SOURCE = { cfgtool: 1, attribute: 2 } as const;
export const QUORUM_DEVICE = { none: 1, voting: 2, notVoting: 3, unknown: 4 } as const;
export const TRUTH = (b: boolean) => (b ? 1 : 2);

/** Failovers remembered across restarts (kept in a state file). */
export interface FailoverRecord {
  total: string; // decimal, Counter64
  last: number;
  services: Partial<Record<ServiceName, ServiceRecord>>;
}

/**
 * One service in the record. `node`: where it runs (or last ran, while stopped). On a move,
 * `from` is the node it left and `last` the move's time; `failovers` counts the moves. The
 * alert agent on the new node reads this: it may run before or after this subagent noticed
 * the move, and `node`/`from` give the previous node either way (agents/alert_haoscar.ts).
 */
export interface ServiceRecord { node: string; failovers: number; last: number; from?: string }

export const emptyRecord = (): FailoverRecord => ({ total: '0', last: 0, services: {} });

export interface ServiceRow { index: number; name: ServiceName; state: number; activeNode: string; vips: string; failovers: number; lastFailover: number; resources: string[] }
export interface NodeRow { index: number; name: string; id: string; state: number; isDc: number; running: number; health: number; healthAttributes: string }
export interface ResourceRow { index: number; id: string; agent: string; role: number; node: string; failCount: number; managed: number; failed: number; lastFailure: string }
export interface LinkRow { nodeIndex: number; number: number; node: string; status: number; source: number }
export interface RaidRow { nodeIndex: number; index: number; node: string; array: string; state: string; degraded: number }

export interface Snapshot {
  cluster: {
    name: string; quorum: number; dc: string; nodesConfigured: number; nodesOnline: number;
    resourcesConfigured: number; resourcesFailed: number; lastChange: number; lastFailover: number; failovers: bigint;
    /** haOscarClusterQuorumDevice: none(1) voting(2) notVoting(3) unknown(4); quorumVotes: 0 unknown */
    quorumDevice: number; quorumVotes: number;
  };
  nodes: NodeRow[];
  resources: ResourceRow[];
  services: ServiceRow[];
  links: LinkRow[];
  raid: RaidRow[];
  /** Unix ms when the data was read. */
  readAt: number;
}

/** A service seen on another node than the record's; seq: the record's failover count after it (decimal). */
export interface Move { service: ServiceName; from: string; to: string; resource: string; seq: string }

export interface ModelInput {
  status: ClusterStatus;
  config?: CibConfig;
  cfgtool?: CfgtoolStatus;
  /** corosync-quorumtool -s on this node (undefined: unreadable) */
  quorumtool?: QuorumtoolStatus;
  /** This node's name and its /proc/mdstat arrays. */
  localNode?: string;
  localRaid?: RaidArray[];
  record?: FailoverRecord;
  now?: number; // unix seconds
}

const clip = (s: string, n = 255) => (Buffer.byteLength(s) <= n ? s : Buffer.from(s).subarray(0, n).toString('utf8').replace(/\uFFFD$/, ''));

export function serviceOf(r: ResourceStatus, config?: CibConfig): ServiceName | undefined {
  return serviceFor(r.id, r.parents, config?.types[r.id] ?? r.agent.split(':').pop() ?? '');
}

const isActive = (r: ResourceStatus) => r.nodes.length > 0 && ['started', 'promoted', 'unpromoted', 'migrating'].includes(r.role);

/** Build the snapshot, and the service moves since `record` (with the updated record). */
export function buildSnapshot(input: ModelInput): { snapshot: Snapshot; record: FailoverRecord; moves: Move[] } {
  const { status, config } = input;
  const now = input.now ?? Math.floor(Date.now() / 1000);
  const prev = input.record ?? emptyRecord();
  const record: FailoverRecord = { total: prev.total, last: prev.last, services: { ...prev.services } };
  const moves: Move[] = [];

  const nodes: NodeRow[] = status.nodes.map((n, i) => ({
    index: i + 1,
    name: clip(n.name),
    id: clip(n.id),
    state: NODE_STATE[n.state],
    isDc: TRUTH(n.isDc || (status.dc !== '' && status.dc === n.name)),
    running: n.resourcesRunning,
    health: HEALTH[n.health],
    healthAttributes: clip(Object.entries(n.attributes).filter(([k]) => k.startsWith('#health')).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(',')),
  }));
  const nodeIndex = new Map(nodes.map((n) => [n.name, n.index]));
  const idToName = new Map(status.nodes.map((n) => [n.id, n.name]));

  const resources: ResourceRow[] = status.resources.map((r, i) => ({
    index: i + 1,
    id: clip(r.id),
    agent: clip(r.agent),
    role: ROLE[r.role],
    node: clip(r.nodes.join(',')),
    failCount: r.failCount,
    managed: TRUTH(r.managed),
    failed: TRUTH(r.failed),
    lastFailure: clip(r.lastFailure),
  }));

  const services: ServiceRow[] = SERVICES.map((name, i) => {
    const rs = status.resources.filter((r) => serviceOf(r, config) === name);
    let state: number = SERVICE_STATE.notConfigured;
    if (rs.length) state = rs.some((r) => r.failed) ? SERVICE_STATE.failed : rs.every(isActive) ? SERVICE_STATE.running : SERVICE_STATE.stopped;
    // The node most of its active resources run on.
    const count = new Map<string, number>();
    for (const r of rs) if (isActive(r)) for (const n of r.nodes) count.set(n, (count.get(n) ?? 0) + 1);
    const activeNode = [...count.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))[0]?.[0] ?? '';
    // VIPs: the service's own IPaddr2/IPv6addr resources (same group or name), and those
    // colocated with its resources (the generator's service sets).
    const vips: string[] = [];
    const ids = new Set(rs.map((r) => r.id));
    for (const r of rs) for (const c of config?.colocated[r.id] ?? []) ids.add(c);
    for (const id of [...ids].sort()) {
      const type = config?.types[id] ?? status.resources.find((r) => r.id === id)?.agent.split(':').pop() ?? '';
      if (!VIP_TYPES.test(type)) continue;
      const p = config?.params[id] ?? {};
      const ip = p.ip ?? p.ipaddress ?? p.ipv6addr;
      if (ip && !vips.includes(ip)) vips.push(ip);
    }
    const prevSvc = record.services[name];
    let failovers = prevSvc?.failovers ?? 0;
    let last = prevSvc?.last ?? 0;
    if (activeNode) {
      if (prevSvc?.node && prevSvc.node !== activeNode) {
        failovers++;
        last = now;
        record.total = (BigInt(record.total) + 1n).toString();
        record.last = now;
        const moved = rs.find((r) => isActive(r) && r.nodes.includes(activeNode));
        moves.push({ service: name, from: prevSvc.node, to: activeNode, resource: moved?.id ?? '', seq: record.total });
      }
      const from = prevSvc?.node && prevSvc.node !== activeNode ? prevSvc.node : prevSvc?.from;
      record.services[name] = { node: activeNode, failovers, last, ...(from ? { from } : {}) };
    } else if (prevSvc) {
      // Stopped: remember where it ran, so starting elsewhere counts as a failover.
      record.services[name] = { ...prevSvc };
    }
    return { index: i + 1, name, state, activeNode, vips: clip(vips.join(',')), failovers, lastFailover: last, resources: rs.map((r) => r.id) };
  });

  // Links: cfgtool (this node's view of each Corosync link) first, then the ha-oscar-link
  // attribute (linkmon's service-network value, row 100, or per-link items).
  const linkMap = new Map<string, LinkState & { name: string }>();
  for (const l of input.cfgtool?.links ?? []) {
    const name = idToName.get(l.node) ?? (l.node === input.cfgtool?.localNodeId ? input.localNode ?? '' : '');
    if (!name || !nodeIndex.has(name)) continue;
    linkMap.set(`${name}/${l.link}`, { ...l, name });
  }
  for (const n of status.nodes) {
    const v = n.attributes['ha-oscar-link'];
    if (!v) continue;
    for (const l of parseLinkAttribute(n.name, v)) {
      const k = `${n.name}/${l.link}`;
      if (!linkMap.has(k)) linkMap.set(k, { ...l, name: n.name });
    }
  }
  const links: LinkRow[] = [...linkMap.values()].map((l) => ({
    nodeIndex: nodeIndex.get(l.name)!, number: l.link + 1, node: clip(l.name), status: LINK_STATUS[l.status], source: LINK_SOURCE[l.source],
  })).sort((a, b) => a.nodeIndex - b.nodeIndex || a.number - b.number);

  // RAID: /proc/mdstat for this node, ha-oscar-raid-* attributes for the others.
  const raid: RaidRow[] = [];
  for (const n of status.nodes) {
    const arrays = n.name === input.localNode && input.localRaid ? input.localRaid : raidFromAttributes(n.attributes);
    arrays.forEach((a, i) => raid.push({ nodeIndex: nodeIndex.get(n.name)!, index: i + 1, node: clip(n.name), array: clip(a.name, 64), state: clip(a.state), degraded: TRUTH(a.degraded) }));
  }
  raid.sort((a, b) => a.nodeIndex - b.nodeIndex || a.index - b.index);

  const snapshot: Snapshot = {
    cluster: {
      name: clip(config?.clusterName ?? ''),
      quorum: status.quorum === undefined ? 3 : status.quorum ? 1 : 2,
      dc: clip(status.dc),
      nodesConfigured: status.nodesConfigured,
      nodesOnline: status.nodes.filter((n) => ['online', 'standby', 'maintenance'].includes(n.state)).length,
      resourcesConfigured: status.resourcesConfigured,
      resourcesFailed: status.resources.filter((r) => r.failed).length,
      lastChange: status.lastChange,
      lastFailover: record.last,
      failovers: BigInt(record.total) % (1n << 64n), // Counter64 wraps (RFC 2578)
      quorumDevice: input.quorumtool ? QUORUM_DEVICE[input.quorumtool.device] : QUORUM_DEVICE.unknown,
      quorumVotes: input.quorumtool?.totalVotes ?? 0,
    },
    nodes, resources, services, links, raid,
    readAt: now * 1000,
  };
  return { snapshot, record, moves };
}

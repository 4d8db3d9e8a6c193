// HA-OSCAR-MIB (mib/HA-OSCAR-MIB.txt) as net-snmp providers, and a Snapshot -> Mib builder.
// Each refresh builds a fresh Mib; the subagent swaps it in, so a walk never sees half an update.
import { createMib, ObjectType as T, MibProviderType, MaxAccess } from './netsnmp-fixes';
import type { Snapshot } from './model';

export const ROOT = '1.3.6.1.3.7460';
export const OBJECTS = `${ROOT}.1`;
export const NOTIFICATIONS = `${ROOT}.0`;
export const CLUSTER = `${OBJECTS}.1`;
export const NOTIFY_OBJECTS = `${OBJECTS}.8`;

export const TRAP = {
  failover: `${NOTIFICATIONS}.1`,
  nodeLost: `${NOTIFICATIONS}.2`,
  nodeJoined: `${NOTIFICATIONS}.3`,
  resourceFailed: `${NOTIFICATIONS}.4`,
  linkDown: `${NOTIFICATIONS}.5`,
  linkUp: `${NOTIFICATIONS}.6`,
  raidDegraded: `${NOTIFICATIONS}.7`,
  quorumDeviceLost: `${NOTIFICATIONS}.8`,
  quorumDeviceRegained: `${NOTIFICATIONS}.9`,
} as const;

/** accessible-for-notify objects (instance .0 in notifications). */
export const NOTIFY = {
  node: `${NOTIFY_OBJECTS}.1.0`,
  resource: `${NOTIFY_OBJECTS}.2.0`,
  service: `${NOTIFY_OBJECTS}.3.0`,
  fromNode: `${NOTIFY_OBJECTS}.4.0`,
  toNode: `${NOTIFY_OBJECTS}.5.0`,
  link: `${NOTIFY_OBJECTS}.6.0`,
  raidArray: `${NOTIFY_OBJECTS}.7.0`,
  detail: `${NOTIFY_OBJECTS}.8.0`,
} as const;

const RO = MaxAccess['read-only'];
const NA = MaxAccess['not-accessible'];

type Col = { number: number; name: string; type: number; maxAccess: number };
interface TableDef { name: string; oid: string; columns: Col[]; index: { columnName: string; foreign?: string }[] }

const SCALARS: { name: string; sub: number; type: number }[] = [
  { name: 'haOscarClusterName', sub: 1, type: T.OctetString },
  { name: 'haOscarClusterQuorum', sub: 2, type: T.Integer },
  { name: 'haOscarClusterDC', sub: 3, type: T.OctetString },
  { name: 'haOscarClusterNodesConfigured', sub: 4, type: T.Gauge },
  { name: 'haOscarClusterNodesOnline', sub: 5, type: T.Gauge },
  { name: 'haOscarClusterResourcesConfigured', sub: 6, type: T.Gauge },
  { name: 'haOscarClusterResourcesFailed', sub: 7, type: T.Gauge },
  { name: 'haOscarClusterLastChange', sub: 8, type: T.Gauge },
  { name: 'haOscarClusterLastFailover', sub: 9, type: T.Gauge },
  { name: 'haOscarClusterFailovers', sub: 10, type: T.Counter64 },
  { name: 'haOscarClusterDataAge', sub: 11, type: T.Gauge },
  { name: 'haOscarClusterQuorumDevice', sub: 12, type: T.Integer },
  { name: 'haOscarClusterQuorumVotes', sub: 13, type: T.Gauge },
];

const c = (number: number, name: string, type: number, maxAccess = RO): Col => ({ number, name, type, maxAccess });

export const TABLES: TableDef[] = [
  { name: 'haOscarNodeTable', oid: `${OBJECTS}.2`, index: [{ columnName: 'haOscarNodeIndex' }], columns: [
    c(1, 'haOscarNodeIndex', T.Gauge, NA), c(2, 'haOscarNodeName', T.OctetString), c(3, 'haOscarNodeId', T.OctetString),
    c(4, 'haOscarNodeState', T.Integer), c(5, 'haOscarNodeIsDC', T.Integer), c(6, 'haOscarNodeResourcesRunning', T.Gauge),
    c(7, 'haOscarNodeHealth', T.Integer), c(8, 'haOscarNodeHealthAttributes', T.OctetString)] },
  { name: 'haOscarResourceTable', oid: `${OBJECTS}.3`, index: [{ columnName: 'haOscarResourceIndex' }], columns: [
    c(1, 'haOscarResourceIndex', T.Gauge, NA), c(2, 'haOscarResourceId', T.OctetString), c(3, 'haOscarResourceAgent', T.OctetString),
    c(4, 'haOscarResourceRole', T.Integer), c(5, 'haOscarResourceNode', T.OctetString), c(6, 'haOscarResourceFailCount', T.Gauge),
    c(7, 'haOscarResourceManaged', T.Integer), c(8, 'haOscarResourceFailed', T.Integer), c(9, 'haOscarResourceLastFailure', T.OctetString)] },
  { name: 'haOscarServiceTable', oid: `${OBJECTS}.4`, index: [{ columnName: 'haOscarServiceIndex' }], columns: [
    c(1, 'haOscarServiceIndex', T.Integer, NA), c(2, 'haOscarServiceName', T.OctetString), c(3, 'haOscarServiceState', T.Integer),
    c(4, 'haOscarServiceActiveNode', T.OctetString), c(5, 'haOscarServiceVips', T.OctetString), c(6, 'haOscarServiceFailovers', T.Counter),
    c(7, 'haOscarServiceLastFailover', T.Gauge)] },
  { name: 'haOscarLinkTable', oid: `${OBJECTS}.5`, index: [{ columnName: 'haOscarNodeIndex', foreign: 'haOscarNodeTable' }, { columnName: 'haOscarLinkNumber' }], columns: [
    c(1, 'haOscarLinkNumber', T.Gauge, NA), c(2, 'haOscarLinkNode', T.OctetString), c(3, 'haOscarLinkStatus', T.Integer), c(4, 'haOscarLinkSource', T.Integer)] },
  { name: 'haOscarRaidTable', oid: `${OBJECTS}.6`, index: [{ columnName: 'haOscarNodeIndex', foreign: 'haOscarNodeTable' }, { columnName: 'haOscarRaidIndex' }], columns: [
    c(1, 'haOscarRaidIndex', T.Gauge, NA), c(2, 'haOscarRaidNode', T.OctetString), c(3, 'haOscarRaidArray', T.OctetString),
    c(4, 'haOscarRaidState', T.OctetString), c(5, 'haOscarRaidDegraded', T.Integer)] },
];

/** OIDs of every readable object type (scalars and columns), for noSuchInstance answers. */
export const OBJECT_TYPES: string[] = [
  ...SCALARS.map((s) => `${CLUSTER}.${s.sub}`),
  ...TABLES.flatMap((t) => t.columns.filter((col) => col.maxAccess !== NA).map((col) => `${t.oid}.1.${col.number}`)),
];

/** A fresh Mib holding the snapshot. `now` (ms) feeds haOscarClusterDataAge. */
export function buildMib(s: Snapshot, now = Date.now()): any {
  const mib = createMib();
  for (const sc of SCALARS) mib.registerProvider({ name: sc.name, type: MibProviderType.Scalar, oid: `${CLUSTER}.${sc.sub}`, scalarType: sc.type, maxAccess: RO });
  // net-snmp table providers sit on the entry OID (table.1).
  for (const t of TABLES) mib.registerProvider({ name: t.name, type: MibProviderType.Table, oid: `${t.oid}.1`, tableColumns: t.columns, tableIndex: t.index, maxAccess: NA });
  const cl = s.cluster;
  const set = (n: string, v: unknown) => mib.setScalarValue(n, v);
  set('haOscarClusterName', cl.name);
  set('haOscarClusterQuorum', cl.quorum);
  set('haOscarClusterDC', cl.dc);
  set('haOscarClusterNodesConfigured', cl.nodesConfigured);
  set('haOscarClusterNodesOnline', cl.nodesOnline);
  set('haOscarClusterResourcesConfigured', cl.resourcesConfigured);
  set('haOscarClusterResourcesFailed', cl.resourcesFailed);
  set('haOscarClusterLastChange', cl.lastChange);
  set('haOscarClusterLastFailover', cl.lastFailover);
  set('haOscarClusterFailovers', cl.failovers);
  set('haOscarClusterDataAge', Math.max(0, Math.floor((now - s.readAt) / 1000)));
  set('haOscarClusterQuorumDevice', cl.quorumDevice);
  set('haOscarClusterQuorumVotes', cl.quorumVotes);
  for (const n of s.nodes) mib.addTableRow('haOscarNodeTable', [n.index, n.name, n.id, n.state, n.isDc, n.running, n.health, n.healthAttributes]);
  for (const r of s.resources) mib.addTableRow('haOscarResourceTable', [r.index, r.id, r.agent, r.role, r.node, r.failCount, r.managed, r.failed, r.lastFailure]);
  for (const v of s.services) mib.addTableRow('haOscarServiceTable', [v.index, v.name, v.state, v.activeNode, v.vips, v.failovers, v.lastFailover]);
  for (const l of s.links) mib.addTableRow('haOscarLinkTable', [l.nodeIndex, l.number, l.node, l.status, l.source]);
  for (const r of s.raid) mib.addTableRow('haOscarRaidTable', [r.nodeIndex, r.index, r.node, r.array, r.state, r.degraded]);
  return mib;
}

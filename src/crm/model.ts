// From a validated Description to the Pacemaker configuration, as a small
// intermediate model that both renderers (crm syntax, CIB XML) print.
import { DELAY, FENCE, HEALTH, HEURISTIC, KEA_HA, RA, SERVICES, SNMP_ALERT, VIP, type DefaultCtx, type Monitor, type Timeouts } from './agents';
import { durationS, type Description, type Head, type Heuristics, type ServiceSet } from './describe';

/** An operation; depth becomes the op's OCF_CHECK_LEVEL. */
export interface Op { name: string; interval: string; timeout: string; depth?: number }
export interface Primitive {
  id: string;
  /** "ocf:heartbeat:IPaddr2", "stonith:fence_haoscar" */
  agent: string;
  params: [string, string][];
  meta: [string, string][];
  ops: Op[];
}
export interface Clone { id: string; child: Primitive; meta: [string, string][] }
/** A plain group (members start one after the other). Not generated: kept for comparisons. */
export interface Group { id: string; members: Primitive[] }
export interface ResourceSet { ids: string[]; sequential: boolean }
export interface Colocation { kind: 'colocation'; id: string; score: string; sets: ResourceSet[] }
export interface Order { kind: 'order'; id: string; orderKind: 'Mandatory' | 'Optional'; sets: ResourceSet[] }
export interface RuleExpr { attribute: string; operation: 'lt' | 'lte' | 'eq' | 'gt' | 'gte' | 'ne'; value: string; type: 'number' | 'string' }
export interface Location {
  kind: 'location'; id: string; rsc: string;
  /** Either a node preference ... */
  node?: string; score?: string;
  /** ... or a rule. */
  rule?: { score: string; booleanOp: 'and' | 'or'; exprs: RuleExpr[] };
}
export type Constraint = Colocation | Order | Location;
export interface FencingLevel { target: string; index: number; devices: string[] }
/** A Pacemaker alert: the agent is run for each selected event, once per recipient (once without one when there is none). */
export interface Alert {
  id: string;
  path: string;
  attributes: [string, string][];
  /** Which events; attributes: names of the node attributes whose changes are sent (empty: no attribute alerts). */
  select: { nodes: boolean; resources: boolean; fencing: boolean; attributes: string[] };
  recipients: string[];
}

export interface ClusterConfig {
  nodes: { id: string; uname: string }[];
  properties: [string, string][];
  rscDefaults: [string, string][];
  primitives: Primitive[];
  clones: Clone[];
  groups?: Group[];
  constraints: Constraint[];
  fencingLevels: FencingLevel[];
  alerts: Alert[];
}

/** Priority meta attribute on service-set resources, used by priority-fencing-delay. */
export const SERVICE_PRIORITY = '10';
/** Score with which an active-active set prefers its head (less than one resource's stickiness: no automatic fail-back). */
export const PREFER_SCORE = '50';

function ctxFor(d: Description, set: ServiceSet): DefaultCtx {
  const svcNet = d.networks.find((n) => n.services)!;
  const vips4 = set.vips.filter((v) => v.addr.family === 'ipv4').map((v) => v.addr.text);
  const vips6 = set.vips.filter((v) => v.addr.family === 'ipv6').map((v) => v.addr.text);
  return {
    vips: [...vips4, ...vips6], vips4, vips6,
    serviceCidrs: [svcNet.ipv4?.text, svcNet.ipv6?.text].filter((x): x is string => Boolean(x)),
    serviceInterface: svcNet.interface,
    heads: d.heads.map((h) => h.name),
    peerAddrs: d.heads.map((h) => h.addresses[d.corosync.links[0]]?.[d.corosync.family]?.text).filter((x): x is string => Boolean(x)),
  };
}

const mon = (m: Monitor): Op => ({ name: 'monitor', interval: m.interval, timeout: m.timeout, ...(m.depth ? { depth: m.depth } : {}) });
/** start and stop with the agent's advised timeouts, then the monitors. */
const ops = (t: Timeouts, ms: readonly Monitor[]): Op[] => [
  { name: 'start', interval: '0s', timeout: t.start }, { name: 'stop', interval: '0s', timeout: t.stop }, ...ms.map(mon),
];

function vipIds(set: ServiceSet): string[] {
  const count: Record<string, number> = {};
  return set.vips.map((v) => {
    const f = v.addr.family;
    count[f] = (count[f] ?? 0) + 1;
    return `vip-${set.name}-${f}${count[f] > 1 ? `-${count[f]}` : ''}`;
  });
}

export function buildConfig(d: Description): ClusterConfig {
  const cfg: ClusterConfig = {
    nodes: d.heads.map((h) => ({ id: String(h.nodeid), uname: h.name })),
    properties: [], rscDefaults: [], primitives: [], clones: [], constraints: [], fencingLevels: [], alerts: [],
  };
  const fencingOn = d.fencing.enabled && d.fencing.devices.length > 0;
  // Pacemaker's own split-brain delays only with fencing.delay.when=always; otherwise the
  // fence_haoscar_delay device decides at fencing time (delayDevice below)
  const pcmkDelays = fencingOn && d.fencing.delayWhen === 'always';
  const prioMeta: [string, string][] = pcmkDelays && d.fencing.priorityDelay ? [['priority', SERVICE_PRIORITY]] : [];

  // properties and defaults
  cfg.properties.push(['stonith-enabled', fencingOn ? 'true' : 'false']);
  if (pcmkDelays && d.fencing.priorityDelay) cfg.properties.push(['priority-fencing-delay', d.fencing.priorityDelay]);
  if (fencingOn && d.fencing.action) cfg.properties.push(['stonith-action', d.fencing.action]);
  if (fencingOn && d.fencing.timeout) cfg.properties.push(['stonith-timeout', d.fencing.timeout]);
  // With a quorum device the half of a split that loses the device's vote has no quorum and must
  // give up the VIPs and services at once (stop, Pacemaker's default, written out because it is
  // the point): freeze would keep a VIP answering from both heads, ignore would let it fence.
  if (d.quorum.device) cfg.properties.push(['no-quorum-policy', 'stop']);
  if (d.health.raid) cfg.properties.push(['node-health-strategy', 'migrate-on-red']);
  cfg.rscDefaults.push(
    ['resource-stickiness', String(d.timings.stickiness)],
    ['migration-threshold', String(d.timings.migrationThreshold)],
    ['failure-timeout', d.timings.failureTimeout],
  );

  // service sets
  for (const set of d.sets) {
    const ctx = ctxFor(d, set);
    const vids = vipIds(set);
    set.vips.forEach((v, i) => {
      const params: [string, string][] = [[VIP.ip, v.addr.text], [VIP.netmask, String(v.network[v.addr.family]!.prefix)]];
      if (v.network.interface) params.push([VIP.nic, v.network.interface]);
      if (v.addr.family === 'ipv6') params.push(...Object.entries(VIP.ipv6Fixed));
      cfg.primitives.push({ id: vids[i], agent: VIP.agent, params, meta: [...prioMeta], ops: [mon(VIP.monitor)] });
    });
    const sids: string[] = [];
    for (const name of set.services) {
      const spec = SERVICES[name];
      const conf = d.services[name];
      const base = applyParams(spec.keys, conf.params, spec.defaults, ctx);
      const variants = spec.variants
        ? Object.entries(spec.variants).filter(([vn]) => conf.variants[vn]).map(([vn, v]) => ({
          id: `${spec.id}${v.suffix}`,
          params: [...base, ...Object.entries(v.fixed), ...applyParams(v.keys, conf.variants[vn], v.defaults, ctx)] as [string, string][],
        }))
        : [{ id: spec.id, params: base }];
      for (const inst of variants) {
        // Kea HA: one clone on both heads, outside the set's colocation and order (agents.ts KEA_HA)
        if (inst.params.some(([k]) => k === KEA_HA.mode)) {
          const peers = KEA_HA.peersValue(ctx);
          const v6 = inst.params.some(([k, v]) => k === 'family' && v === '6');
          const params: [string, string][] = [
            ...inst.params.filter(([k]) => !KEA_HA.dropped.includes(k))
              .map(([k, v]): [string, string] => (k === KEA_HA.port && v6 ? [k, String(Number(v) + KEA_HA.v6PortOffset)] : [k, v])),
            ...(peers ? [[KEA_HA.peers, peers] as [string, string]] : []),
          ];
          cfg.clones.push({ id: `${inst.id}-clone`, child: { id: inst.id, agent: spec.agent, params, meta: [], ops: ops(spec.timeouts, spec.monitors) }, meta: KEA_HA.cloneMeta });
          continue;
        }
        cfg.primitives.push({ id: inst.id, agent: spec.agent, params: inst.params, meta: [...prioMeta], ops: ops(spec.timeouts, spec.monitors) });
        sids.push(inst.id);
      }
    }
    // Colocation: the services (in parallel, no relation among themselves) sit
    // with the VIPs; the VIPs sit together (the first VIP is placed first).
    const sets = sids.length ? [{ ids: sids, sequential: false }, { ids: vids, sequential: true }] : [{ ids: vids, sequential: true }];
    if (sets.flatMap((s) => s.ids).length > 1) cfg.constraints.push({ kind: 'colocation', id: `col-${set.name}`, score: 'INFINITY', sets });
    // Order: all VIPs (in parallel), then all services (in parallel).
    if (sids.length) {
      cfg.constraints.push({ kind: 'order', id: `ord-${set.name}`, orderKind: 'Mandatory', sets: [{ ids: vids, sequential: false }, { ids: sids, sequential: false }] });
    }
    if (set.prefer) cfg.constraints.push({ kind: 'location', id: `prefer-${set.name}`, rsc: vids[0], node: set.prefer, score: PREFER_SCORE });
    if (d.health.link) {
      cfg.constraints.push({
        kind: 'location', id: `health-link-${set.name}`, rsc: vids[0],
        rule: { score: '-INFINITY', booleanOp: 'or', exprs: [{ attribute: HEALTH.link.attribute, operation: 'lt', value: '1', type: 'number' }] },
      });
    }
  }

  // health monitors: one instance per head, allowed on an unhealthy head (they are what reports the health)
  for (const k of ['link', 'raid'] as const) {
    const conf = d.health[k];
    if (!conf) continue;
    const spec = HEALTH[k];
    const keys: Record<string, { param: string }> = spec.keys;
    const params = Object.entries(conf).map(([key, v]) => [keys[key].param, v] as [string, string]);
    cfg.clones.push({
      id: `${spec.id}-clone`,
      child: { id: spec.id, agent: spec.agent, params, meta: [], ops: ops(spec.timeouts, spec.monitors) },
      // on the clone: Pacemaker reads it there, not from the cloned primitive
      meta: [['interleave', 'true'], ...(d.health.raid ? [['allow-unhealthy-nodes', 'true'] as [string, string]] : [])],
    });
  }

  // IPv6 router advertisements: radvd on both heads, in both modes (not with a VIP: an RA never
  // depends on one head, and nothing moves at a failover)
  for (const net of d.networks) {
    if (!net.ra || !net.ipv6 || !net.interface) continue;
    const P = RA.params;
    const ra = net.ra;
    const params: [string, string][] = [
      [P.interface, net.interface], [P.prefixes, net.ipv6.text], [P.managed, String(ra.managed)], [P.other, String(ra.other)],
      [P.routerLifetime, String(ra.routerLifetime)], [P.autonomous, String(ra.autonomous)], [P.interval, String(ra.interval)],
    ];
    const id = RA.id(net.name);
    cfg.clones.push({ id: `${id}-clone`, child: { id, agent: RA.agent, params, meta: [], ops: ops(RA.timeouts, RA.monitors) }, meta: [['interleave', 'true']] });
  }

  // fencing
  if (fencingOn) {
    const byHead = new Map<string, string[]>();
    for (const dev of d.fencing.devices) {
      const id = `fence-${dev.head}${dev.index ? `-${dev.index + 1}` : ''}`;
      const keys = FENCE.methods[dev.method];
      const hostMapKey = FENCE.hostMapKey[dev.method];
      const params: [string, string][] = [[FENCE.method, dev.method]];
      for (const [k, v] of Object.entries(dev.params)) if (k !== hostMapKey) params.push([keys[k].param, v]);
      if (hostMapKey) params.push(['pcmk_host_map', `${dev.head}:${dev.params[hostMapKey]}`]);
      else params.push(['pcmk_host_list', dev.head]);
      if (pcmkDelays && d.fencing.delayMax) params.push(['pcmk_delay_max', d.fencing.delayMax]);
      const meta: [string, string][] = d.health.raid ? [['allow-unhealthy-nodes', 'true']] : [];
      cfg.primitives.push({ id, agent: FENCE.agent, params, meta, ops: [mon(FENCE.monitor)] });
      // a device never runs on the head it fences
      cfg.constraints.push({ kind: 'location', id: `ban-${id}`, rsc: id, node: dev.head, score: '-INFINITY' });
      byHead.set(dev.head, [...(byHead.get(dev.head) ?? []), id]);
    }
    const h = d.fencing.heuristics;
    const unhealthyOk: [string, string][] = d.health.raid ? [['allow-unhealthy-nodes', 'true']] : [];
    if (h) cfg.primitives.push(heuristicDevice(h, unhealthyOk));
    const delay = pcmkDelays ? undefined : delayDevice(d.heads, d.fencing, unhealthyOk);
    if (delay) cfg.primitives.push(delay);
    // Several devices for one head (dual power supplies): all of them, as one level; with the
    // heuristic and the delay device, every head's level starts with them.
    for (const [head, ids] of byHead) if (h || delay || ids.length > 1) cfg.fencingLevels.push(...fencingLevels(head, ids, h, !!delay));
  }

  // SNMP notifications: node and resource events, and the health monitors' attributes
  // (fencing events: alert_haoscar sends nothing for them, the node-lost alert covers it)
  const snmp = d.notifications.snmp;
  if (snmp) {
    const attributes: [string, string][] = [[SNMP_ALERT.transport, snmp.transport]];
    if (snmp.snmpConfDir) attributes.push([SNMP_ALERT.snmpConfDir, snmp.snmpConfDir]);
    if (snmp.inform !== undefined) attributes.push([SNMP_ALERT.inform, String(snmp.inform)]);
    if (snmp.spoolDir) attributes.push([SNMP_ALERT.spoolDir, snmp.spoolDir]);
    cfg.alerts.push({
      id: SNMP_ALERT.id, path: SNMP_ALERT.path, attributes,
      select: {
        nodes: true, resources: true, fencing: false,
        attributes: (['link', 'raid'] as const).filter((k) => d.health[k]).map((k) => HEALTH[k].attribute),
      },
      recipients: snmp.recipients,
    });
  } else if (d.sets.some((set) => set.services.includes('snmp'))) {
    // No notifications, but HA-OSCAR-MIB is served: the alert only tells the subagent to re-read
    // the cluster (transport=refresh), so the MIB shows each event at once while the subagent's
    // own CIB poll stays slow (docs/snmp.md).
    cfg.alerts.push({
      id: SNMP_ALERT.id, path: SNMP_ALERT.path, attributes: [[SNMP_ALERT.transport, 'refresh']],
      select: { nodes: true, resources: true, fencing: false, attributes: (['link', 'raid'] as const).filter((k) => d.health[k]).map((k) => HEALTH[k].attribute) },
      recipients: [],
    });
  }
  return cfg;
}

/**
 * The fencing heuristic (agents.ts HEURISTIC): one stonith:fence_heuristics_ping primitive,
 * allowed on both heads. Also what the lab loads (src/lab/fence.ts).
 */
export function heuristicDevice(h: Heuristics, meta: [string, string][] = []): Primitive {
  const P = HEURISTIC.params;
  const params: [string, string][] = [
    [P.ping, h.ping.join(',')], [P.count, String(h.count)], [P.good, String(h.good)],
    [P.interval, String(h.interval)], [P.timeout, String(h.timeout)], [P.maxfail, String(h.maxfail)],
    // no port=<target> on its stdin: the agent has no such option (it logged "Ignoring unknown option 'port=head2'")
    ['pcmk_host_argument', 'none'],
  ];
  return { id: HEURISTIC.id, agent: HEURISTIC.agent, params, meta, ops: [mon(HEURISTIC.monitor)] };
}

/**
 * The split-brain delay device (agents.ts DELAY, src/fence/delay.ts): every head with every
 * address it has on every network of the description, fencing.delay.priority as
 * priority_delay, fencing.delay.max as tie_delay_max. Undefined when both delays are off.
 * Also what the lab loads (src/lab/fence.ts).
 */
export function delayDevice(heads: Head[], f: Pick<Description['fencing'], 'priorityDelay' | 'delayMax'>, meta: [string, string][] = []): Primitive | undefined {
  const prio = durationS(f.priorityDelay);
  const tie = durationS(f.delayMax);
  if (!prio && !tie) return undefined;
  const addrs = (hd: Head): string[] => Object.values(hd.addresses).flatMap((byFam) => Object.values(byFam).map((a) => a.text));
  const P = DELAY.params;
  const params: [string, string][] = [
    [P.peers, heads.map((hd) => `${hd.name}=${addrs(hd).join(',')}`).join(';')], [P.priority, String(prio)], [P.tie, String(tie)],
    ['pcmk_host_list', heads.map((hd) => hd.name).join(' ')],
  ];
  return { id: DELAY.id, agent: DELAY.agent, params, meta, ops: [mon(DELAY.monitor)] };
}

/** A head's fencing level 1: the heuristic first (when there is one), the delay device, then its devices. */
export function fencingLevels(head: string, deviceIds: string[], h?: Heuristics, delay = false): FencingLevel[] {
  return [{ target: head, index: 1, devices: [...(h ? [HEURISTIC.id] : []), ...(delay ? [DELAY.id] : []), ...deviceIds] }];
}

/** Fencing levels grouped by target (first-seen order), each target's levels by index: crmsh's order. */
export function levelsByTarget(levels: FencingLevel[]): FencingLevel[] {
  const targets = [...new Set(levels.map((l) => l.target))];
  return targets.flatMap((t) => levels.filter((l) => l.target === t).sort((a, b) => a.index - b.index));
}

/**
 * The same configuration with each service set as a plain group (VIPs first,
 * then the services, one at a time) instead of resource sets: what the
 * generator deliberately does not do, kept to measure the difference.
 */
export function asGroups(cfg: ClusterConfig): ClusterConfig {
  const out: ClusterConfig = { ...cfg, primitives: [...cfg.primitives], groups: [], constraints: [] };
  const byId = new Map(cfg.primitives.map((p) => [p.id, p]));
  const renamed = new Map<string, string>();
  for (const c of cfg.constraints) {
    if (c.kind !== 'order') continue;
    const ids = c.sets.flatMap((s) => s.ids);
    const gid = c.id.replace(/^ord-/, 'grp-');
    out.groups!.push({ id: gid, members: ids.map((i) => byId.get(i)!) });
    out.primitives = out.primitives.filter((p) => !ids.includes(p.id));
    for (const i of ids) renamed.set(i, gid);
  }
  for (const c of cfg.constraints) {
    if (c.kind === 'colocation' || c.kind === 'order') continue;
    out.constraints.push(c.kind === 'location' && renamed.has(c.rsc) ? { ...c, rsc: renamed.get(c.rsc)! } : c);
  }
  return out;
}

function applyParams(
  keys: Record<string, { param: string }>, given: Record<string, string>,
  defaults: Record<string, (c: DefaultCtx) => string | undefined> | undefined, ctx: DefaultCtx,
): [string, string][] {
  const out: [string, string][] = [];
  for (const [k, spec] of Object.entries(keys)) {
    const v = given[k] ?? defaults?.[spec.param]?.(ctx);
    if (v !== undefined) out.push([spec.param, v]);
  }
  return out;
}

// Reader of Pacemaker state: `crm_mon --output-as=xml` (status) and `cibadmin --query`
// (configuration: cluster name, resource parameters such as VIP addresses; the CIB epoch).
//
// Pure mapping functions take XML text; the readers take an injectable command runner so
// unit tests feed fixtures and no test needs a running cluster.
import { parseStringPromise } from 'xml2js';
import { run as realRun, describeFailure, type RunOptions, type RunResult } from '../service/run';

export type Runner = (cmd: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;

export type NodeState = 'online' | 'standby' | 'maintenance' | 'offline' | 'unclean' | 'pending';
export type Health = 'green' | 'yellow' | 'red' | 'unknown';
export type ResourceRole = 'started' | 'stopped' | 'promoted' | 'unpromoted' | 'starting' | 'stopping' | 'migrating' | 'unknown';

export interface NodeStatus {
  name: string;
  id: string;
  state: NodeState;
  isDc: boolean;
  resourcesRunning: number;
  /** Worst #health-* attribute (or crm_mon's own health summary). */
  health: Health;
  /** Every node attribute crm_mon shows (transient and permanent), by name. */
  attributes: Record<string, string>;
}

export interface ResourceStatus {
  id: string;
  /** class:provider:type, or class:type. */
  agent: string;
  role: ResourceRole;
  nodes: string[];
  managed: boolean;
  failed: boolean;
  blocked: boolean;
  /** crm_mon's active="true": running (or being stopped) on some node. */
  active: boolean;
  /** Enclosing group / clone / bundle ids, outermost first. */
  parents: string[];
  /** Highest fail count over all nodes; INFINITY is 1000000. */
  failCount: number;
  /** 'op on node: reason' of the most recent failure, or ''. */
  lastFailure: string;
}

export interface FailureStatus {
  resource: string;
  node: string;
  task: string;
  exitStatus: string;
  exitReason: string;
  /** Unix seconds, 0 when unknown. */
  when: number;
}

export interface ClusterStatus {
  dc: string;
  /** undefined: no DC, so quorum is unknown. */
  quorum: boolean | undefined;
  nodesConfigured: number;
  resourcesConfigured: number;
  /** Unix seconds of the last CIB change, 0 when unknown. */
  lastChange: number;
  nodes: NodeStatus[];
  resources: ResourceStatus[];
  failures: FailureStatus[];
}

export interface CibConfig {
  clusterName: string;
  epoch: string;
  /** Resource parameters by primitive id (instance_attributes nvpairs). */
  params: Record<string, Record<string, string>>;
  /** Primitive id -> agent type (e.g. IPaddr2). */
  types: Record<string, string>;
  /** Resource id -> the ids it is colocated with by a positive-score colocation (both ways). */
  colocated: Record<string, string[]>;
}

export const INFINITY_SCORE = 1_000_000;

const HEALTH_ORDER: Health[] = ['green', 'yellow', 'unknown', 'red'];

/** Worst of several health values; unknown strings count as unknown. */
export function worstHealth(values: string[]): Health {
  let worst: Health = 'green';
  for (const v of values) {
    const lc = v.trim().toLowerCase();
    const h: Health = lc === 'green' || lc === 'yellow' || lc === 'red' ? lc : 'unknown';
    if (HEALTH_ORDER.indexOf(h) > HEALTH_ORDER.indexOf(worst)) worst = h;
  }
  return worst;
}

function attrs(el: any): Record<string, string> {
  return (el && el.$) || {};
}
function list(el: any, name: string): any[] {
  const v = el?.[name];
  return Array.isArray(v) ? v : [];
}
const truthy = (v: string | undefined) => v === 'true';

/** Parse a failcount as Pacemaker prints it (INFINITY, +INFINITY or a number). */
export function parseScore(v: string | undefined): number {
  if (!v) return 0;
  if (/^\+?INFINITY$/i.test(v.trim())) return INFINITY_SCORE;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? Math.max(0, Math.min(n, INFINITY_SCORE)) : 0;
}

/** Parse Pacemaker times ("2026-11-25 13:59:00 +00:00", "Wed Nov 25 13:59:00 2026", epoch digits). */
export function parseTime(v: string | undefined): number {
  if (!v) return 0;
  if (/^\d+$/.test(v.trim())) return Number(v.trim());
  const iso = /^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\s*([+-]\d\d):?(\d\d))?/.exec(v.trim());
  if (iso) {
    const t = Date.parse(`${iso[1]}T${iso[2]}${iso[3] ? `${iso[3]}:${iso[4]}` : 'Z'}`);
    return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
  }
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.floor(t / 1000) : 0;
}

function nodeState(a: Record<string, string>): NodeState {
  if (truthy(a.unclean)) return 'unclean';
  if (truthy(a.pending)) return 'pending';
  if (!truthy(a.online)) return 'offline';
  if (truthy(a.maintenance)) return 'maintenance';
  if (truthy(a.standby) || truthy(a.standby_onfail)) return 'standby';
  return 'online';
}

function roleOf(role: string | undefined): ResourceRole {
  switch ((role ?? '').toLowerCase()) {
    case 'started': return 'started';
    case 'stopped': return 'stopped';
    case 'promoted': case 'master': return 'promoted';
    case 'unpromoted': case 'slave': return 'unpromoted';
    case 'starting': return 'starting';
    case 'stopping': return 'stopping';
    case 'migrating': return 'migrating';
    default: return 'unknown';
  }
}

/** Map `crm_mon --output-as=xml` to the model. Throws a one-line Error on bad input. */
export async function parseCrmMon(xml: string): Promise<ClusterStatus> {
  let doc: any;
  try {
    doc = await parseStringPromise(xml, { explicitArray: true });
  } catch (e) {
    throw new Error(`crm_mon output is not XML: ${(e as Error).message.split('\n')[0]}`);
  }
  const root = doc?.['pacemaker-result'] ?? doc?.crm_mon;
  if (!root) throw new Error('crm_mon output has no <pacemaker-result> element');
  const status = attrs(list(root, 'status')[0]);
  if (status.code && status.code !== '0') {
    throw new Error(`crm_mon failed: ${status.message ?? `code ${status.code}`}`);
  }
  const summary = list(root, 'summary')[0] ?? {};
  const dcEl = attrs(list(summary, 'current_dc')[0]);
  const dcPresent = truthy(dcEl.present);
  const dc = dcPresent ? dcEl.name ?? '' : '';

  // Node attributes: <node_attributes><node name=><attribute name= value=/>
  const nodeAttrs: Record<string, Record<string, string>> = {};
  for (const n of list(list(root, 'node_attributes')[0], 'node')) {
    const name = attrs(n).name;
    if (!name) continue;
    const m = (nodeAttrs[name] ??= {});
    for (const a of list(n, 'attribute')) {
      const aa = attrs(a);
      if (aa.name) m[aa.name] = aa.value ?? '';
    }
  }

  const nodes: NodeStatus[] = list(list(root, 'nodes')[0], 'node').map((n) => {
    const a = attrs(n);
    const attributes = nodeAttrs[a.name] ?? {};
    const healthValues = Object.entries(attributes).filter(([k]) => k.startsWith('#health')).map(([, v]) => v);
    if (a.health) healthValues.push(a.health);
    return {
      name: a.name ?? '',
      id: a.id ?? '',
      state: nodeState(a),
      isDc: truthy(a.is_dc),
      resourcesRunning: Number.parseInt(a.resources_running ?? '0', 10) || 0,
      health: worstHealth(healthValues),
      attributes,
    };
  }).sort((x, y) => x.name.localeCompare(y.name));

  // Fail counts: <node_history><node name=><resource_history id= fail-count=>
  const failCounts: Record<string, number> = {};
  for (const n of list(list(root, 'node_history')[0], 'node')) {
    for (const rh of list(n, 'resource_history')) {
      const a = attrs(rh);
      const id = (a.id ?? '').replace(/:\d+$/, '');
      failCounts[id] = Math.max(failCounts[id] ?? 0, parseScore(a['fail-count']));
    }
  }

  const failures: FailureStatus[] = list(list(root, 'failures')[0], 'failure').map((f) => {
    const a = attrs(f);
    const opKey = a.op_key ?? a.id ?? '';
    const task = a.task ?? '';
    // op_key is <rsc>_<task>_<interval>; resources may contain underscores.
    const m = /^(.*)_([a-z-]+)_(\d+)$/.exec(opKey);
    return {
      resource: (m ? m[1] : opKey).replace(/:\d+$/, ''),
      node: a.node ?? '',
      task: task || (m ? m[2] : ''),
      exitStatus: a.exitstatus ?? '',
      exitReason: a.exitreason ?? '',
      when: parseTime(a['last-rc-change']),
    };
  });
  const lastFailure: Record<string, FailureStatus> = {};
  for (const f of failures) {
    const cur = lastFailure[f.resource];
    if (!cur || f.when >= cur.when) lastFailure[f.resource] = f;
  }

  const resources: ResourceStatus[] = [];
  const walk = (el: any, parents: string[]) => {
    for (const r of list(el, 'resource')) {
      const a = attrs(r);
      const id = a.id ?? '';
      const f = lastFailure[id];
      resources.push({
        id,
        agent: a.resource_agent ?? '',
        role: roleOf(a.role),
        nodes: list(r, 'node').map((n) => attrs(n).name ?? '').filter(Boolean),
        managed: a.managed !== 'false',
        failed: truthy(a.failed),
        blocked: truthy(a.blocked),
        active: truthy(a.active),
        parents,
        failCount: failCounts[id] ?? 0,
        lastFailure: f ? `${f.task} on ${f.node}: ${[f.exitStatus, f.exitReason].filter(Boolean).join(': ')}` : '',
      });
    }
    for (const kind of ['group', 'clone', 'bundle']) {
      for (const g of list(el, kind)) walk(g, [...parents, attrs(g).id ?? '']);
    }
    // Bundles wrap their primitive in <replica>.
    for (const rep of list(el, 'replica')) walk(rep, parents);
  };
  walk(list(root, 'resources')[0], []);
  resources.sort((x, y) => x.id.localeCompare(y.id) || x.nodes.join(',').localeCompare(y.nodes.join(',')));

  return {
    dc,
    quorum: dcPresent ? truthy(dcEl.with_quorum) : undefined,
    nodesConfigured: Number.parseInt(attrs(list(summary, 'nodes_configured')[0]).number ?? '', 10) || nodes.length,
    resourcesConfigured: Number.parseInt(attrs(list(summary, 'resources_configured')[0]).number ?? '', 10) || resources.length,
    lastChange: parseTime(attrs(list(summary, 'last_change')[0]).time),
    nodes,
    resources,
    failures,
  };
}

/** Map `cibadmin --query` (whole CIB or --scope configuration) to the bits the agent needs. */
export async function parseCibConfig(xml: string): Promise<CibConfig> {
  let doc: any;
  try {
    doc = await parseStringPromise(xml, { explicitArray: true });
  } catch (e) {
    throw new Error(`CIB is not XML: ${(e as Error).message.split('\n')[0]}`);
  }
  const cib = doc?.cib;
  const conf = cib ? list(cib, 'configuration')[0] : doc?.configuration;
  if (!conf) throw new Error('CIB has no <configuration> element');
  let clusterName = '';
  for (const set of list(list(conf, 'crm_config')[0], 'cluster_property_set')) {
    for (const nv of list(set, 'nvpair')) if (attrs(nv).name === 'cluster-name') clusterName = attrs(nv).value ?? '';
  }
  const params: CibConfig['params'] = {};
  const types: CibConfig['types'] = {};
  const walk = (el: any) => {
    for (const p of list(el, 'primitive')) {
      const id = attrs(p).id ?? '';
      types[id] = attrs(p).type ?? '';
      const m: Record<string, string> = {};
      for (const ia of list(p, 'instance_attributes')) for (const nv of list(ia, 'nvpair')) m[attrs(nv).name ?? ''] = attrs(nv).value ?? '';
      params[id] = m;
    }
    for (const kind of ['group', 'clone', 'master', 'bundle']) for (const g of list(el, kind)) walk(g);
  };
  walk(list(conf, 'resources')[0]);
  // Colocations: the generator ties each service set's services to its VIPs with resource sets.
  const colocated: CibConfig['colocated'] = {};
  const link = (ids: string[]) => {
    for (const x of ids) {
      const m = (colocated[x] ??= []);
      for (const y of ids) if (y !== x && !m.includes(y)) m.push(y);
    }
  };
  for (const c of list(list(conf, 'constraints')[0], 'rsc_colocation')) {
    const ca = attrs(c);
    const score = ca.score ?? '';
    if (!/^\+?INFINITY$/i.test(score) && !(Number(score) > 0)) continue;
    const ids = [ca.rsc, ca['with-rsc']].filter(Boolean) as string[];
    for (const set of list(c, 'resource_set')) for (const r of list(set, 'resource_ref')) if (attrs(r).id) ids.push(attrs(r).id);
    link(ids);
  }
  const a = cib ? attrs(cib) : {};
  return { clusterName, epoch: epochOf(a), params, types, colocated };
}

function epochOf(a: Record<string, string>): string {
  return `${a.admin_epoch ?? '0'}:${a.epoch ?? '0'}:${a.num_updates ?? '0'}`;
}

/** Cheap change detector: the CIB's admin_epoch:epoch:num_updates, without children. */
export async function readCibEpoch(run: Runner = realRun): Promise<string> {
  const r = await run('cibadmin', ['--query', '--xpath', '/cib', '--no-children'], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(describeFailure('cibadmin', r));
  const m = /<cib\b[^>]*>/.exec(r.stdout);
  if (!m) throw new Error('cibadmin: no <cib> element in its output');
  const a: Record<string, string> = {};
  for (const x of m[0].matchAll(/([\w-]+)="([^"]*)"/g)) a[x[1]] = x[2];
  return epochOf(a);
}

export async function readCrmMon(run: Runner = realRun): Promise<ClusterStatus> {
  const r = await run('crm_mon', ['--one-shot', '--output-as=xml', '--include=attributes,failcounts,failures'], { timeoutMs: 20_000 });
  // crm_mon exits non-zero when it cannot connect, but still prints a <status> in XML.
  if (r.code !== 0 && !r.stdout.includes('<pacemaker-result')) throw new Error(describeFailure('crm_mon', r));
  if (r.code !== 0) {
    const m = /<status code="(\d+)" message="([^"]*)"/.exec(r.stdout);
    throw new Error(`crm_mon: ${m ? m[2] : `exit ${r.code}`}`);
  }
  return parseCrmMon(r.stdout);
}

export async function readCibConfig(run: Runner = realRun): Promise<CibConfig> {
  const r = await run('cibadmin', ['--query', '--scope', 'configuration'], { timeoutMs: 20_000 });
  if (r.code !== 0) throw new Error(describeFailure('cibadmin', r));
  return parseCibConfig(r.stdout);
}

// `ha-oscar config apply`: bring a cluster's CIB in line with the description.
// Idempotent: the live CIB is compared with what the description generates
// first, and nothing is written when every generated object is already there,
// so applying the same file twice leaves the CIB epoch where it was.
import { parseStringPromise } from 'xml2js';
import { crmLoadUpdate, cibVersion, queryCib, verifyCib, type CibTarget } from '../pacemaker/cib';
import type { ClusterConfig } from './model';
import { renderConfiguration, renderFullCib } from './render-xml';
import { renderCrm } from './render-crm';

interface El { '#name': string; $?: Record<string, string>; $$?: El[] }

async function parse(xml: string): Promise<El> {
  const r = await parseStringPromise(xml, { explicitChildren: true, preserveChildrenOrder: true, explicitRoot: false, charsAsChildren: false, trim: true });
  return r as El;
}

const kids = (e: El | undefined, name?: string): El[] => (e?.$$ ?? []).filter((c) => !name || c['#name'] === name);
const kid = (e: El | undefined, name: string): El | undefined => kids(e, name)[0];

/** A canonical text of an element: attributes sorted, children in order. */
function canon(e: El): string {
  const attrs = Object.entries(e.$ ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return `<${e['#name']} ${attrs.join(' ')}>${kids(e).map(canon).join('')}</${e['#name']}>`;
}

export interface Difference { what: string; why: 'missing' | 'different' }

/** What in `want` (a <configuration>) the live CIB lacks or has otherwise. Extra live objects are left alone. */
export async function compare(want: string, liveCib: string): Promise<Difference[]> {
  const w = await parse(want);
  const liveRoot = await parse(liveCib);
  const l = liveRoot['#name'] === 'cib' ? kid(liveRoot, 'configuration') : liveRoot;
  const out: Difference[] = [];

  // objects with ids: resources, constraints, fencing levels, alerts
  for (const section of ['resources', 'constraints', 'fencing-topology', 'alerts']) {
    const live = new Map(kids(kid(l, section)).map((c) => [`${c['#name']}#${c.$?.id}`, c]));
    for (const o of kids(kid(w, section))) {
      const key = `${o['#name']}#${o.$?.id}`;
      const lo = live.get(key);
      if (!lo) out.push({ what: `${o['#name']} ${o.$?.id}`, why: 'missing' });
      else if (canon(lo) !== canon(o)) out.push({ what: `${o['#name']} ${o.$?.id}`, why: 'different' });
    }
  }
  // name=value sets: our names must have our values; other names are left alone
  const sets: [string, string, string][] = [['crm_config', 'cluster_property_set', 'property'], ['rsc_defaults', 'meta_attributes', 'rsc_defaults']];
  for (const [section, tag, label] of sets) {
    for (const ws of kids(kid(w, section), tag)) {
      const ls = kids(kid(l, section), tag).find((s) => s.$?.id === ws.$?.id);
      const have = new Map(kids(ls, 'nvpair').map((n) => [n.$?.name, n.$?.value]));
      for (const n of kids(ws, 'nvpair')) {
        if (!have.has(n.$?.name)) out.push({ what: `${label} ${n.$?.name}`, why: 'missing' });
        else if (have.get(n.$?.name) !== n.$?.value) out.push({ what: `${label} ${n.$?.name}`, why: 'different' });
      }
    }
  }
  const liveNodes = new Set(kids(kid(l, 'nodes'), 'node').map((n) => n.$?.uname));
  for (const n of kids(kid(w, 'nodes'), 'node')) if (!liveNodes.has(n.$?.uname)) out.push({ what: `node ${n.$?.uname}`, why: 'missing' });
  return out;
}

export interface ApplyResult {
  changed: boolean;
  epochBefore: number;
  epochAfter: number;
  differences: Difference[];
}

export interface ApplyOptions extends CibTarget {
  /** Pass -F to crmsh (agents not installed where this runs). */
  force?: boolean;
  /** Compare only; write nothing. */
  dryRun?: boolean;
  /** Skip the crm_verify check of the generated configuration. */
  noVerify?: boolean;
}

export async function applyConfig(cfg: ClusterConfig, opts: ApplyOptions = {}): Promise<ApplyResult> {
  if (!opts.noVerify) {
    const v = await verifyCib(renderFullCib(cfg));
    if (!v.ok) throw new Error(`crm_verify rejects the generated configuration: ${v.problems[v.problems.length - 1] ?? 'no reason given'}`);
  }
  const before = await queryCib(opts);
  const epochBefore = cibVersion(before).epoch;
  const differences = await compare(renderConfiguration(cfg), before);
  if (differences.length === 0 || opts.dryRun) {
    return { changed: false, epochBefore, epochAfter: epochBefore, differences };
  }
  try {
    await crmLoadUpdate(renderCrm(cfg), opts);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/no such resource agent|got no meta-data/.test(msg) && !opts.force) {
      throw new Error(`${msg} (install the ha-oscar agents on this head first, or pass --force to load anyway)`);
    }
    throw e;
  }
  const after = await queryCib(opts);
  const left = await compare(renderConfiguration(cfg), after);
  if (left.length) throw new Error(`after crm configure load update the CIB still differs: ${left.map((d) => `${d.what} ${d.why}`).join(', ')}`);
  return { changed: true, epochBefore, epochAfter: cibVersion(after).epoch, differences };
}

// `ha-oscar config apply`: bring a cluster's CIB in line with the description.
// Idempotent: the live CIB is compared with what the description generates
// first, and nothing is written when every generated object is already there,
// so applying the same file twice leaves the CIB epoch where it was.
//
// Two ways to write (docs/config.md, "apply"): crmsh (`crm configure load update`,
// where crmsh is installed) and cibadmin (pacemaker-cli-utils, on every head: EL
// heads have pcs and no crmsh). The cibadmin path merges the generated
// <configuration> into the live one object by object, as `load update` does, marks
// what ha-oscar created with the tag ha-oscar-managed, removes what it created
// earlier and the description no longer has, and writes all that as one patch.
import { parseStringPromise } from 'xml2js';
import {
  crmLoadUpdate, cibVersion, diffCib, onPath, patchCib, queryCib, verifyCib, type CibTarget,
} from '../pacemaker/cib';
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

export interface Difference { what: string; why: 'missing' | 'different' | 'removed' }

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
  /** How to write: crmsh, cibadmin, or auto (default: crmsh when `crm` is on PATH, else cibadmin). */
  tool?: Tool | 'auto';
}

export type Tool = 'crmsh' | 'cibadmin';

/** The tool `auto` stands for here: crmsh when `crm` is installed (on PATH), else cibadmin. */
export function pickTool(tool: Tool | 'auto' = 'auto'): Tool {
  if (tool !== 'auto') return tool;
  return onPath('crm') ? 'crmsh' : 'cibadmin';
}

export async function applyConfig(cfg: ClusterConfig, opts: ApplyOptions = {}): Promise<ApplyResult> {
  if (!opts.noVerify) {
    const v = await verifyCib(renderFullCib(cfg));
    if (!v.ok) throw new Error(`crm_verify rejects the generated configuration: ${v.problems[v.problems.length - 1] ?? 'no reason given'}`);
  }
  if (pickTool(opts.tool) === 'cibadmin') return applyWithCibadmin(cfg, opts);
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

// ---- the cibadmin path ----

/** The tag that lists (obj_ref) the objects ha-oscar wrote: what a later apply may remove. */
export const MARKER_TAG = 'ha-oscar-managed';

/** The sections whose children are whole objects with ids (what the marker lists). */
const OBJECT_SECTIONS = ['resources', 'constraints', 'fencing-topology', 'alerts'];

function escXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** An element as XML text (attributes in their order, children in theirs). */
function serialize(e: El, depth = 0): string {
  const pad = '  '.repeat(depth);
  const attrs = Object.entries(e.$ ?? {}).map(([k, v]) => ` ${k}="${escXml(v)}"`).join('');
  const text = (e as { _?: string })._;
  const cs = kids(e);
  if (!cs.length && text === undefined) return `${pad}<${e['#name']}${attrs}/>`;
  if (!cs.length) return `${pad}<${e['#name']}${attrs}>${escXml(text!)}</${e['#name']}>`;
  return [`${pad}<${e['#name']}${attrs}>`, ...cs.map((c) => serialize(c, depth + 1)), `${pad}</${e['#name']}>`].join('\n');
}

/** The child section `name` of a <configuration>, made (empty, at the end) when missing. */
function sectionOf(conf: El, name: string): El {
  let s = kid(conf, name);
  if (!s) { s = { '#name': name, $$: [] }; (conf.$$ ??= []).push(s); }
  s.$$ ??= [];
  return s;
}

/** Every id a resource defines: itself and, for groups and clones, its members. */
function resourceIds(e: El): string[] {
  const own = e.$?.id ? [e.$.id] : [];
  return ['primitive', 'group', 'clone', 'master', 'bundle'].includes(e['#name'])
    ? [...own, ...kids(e).flatMap((c) => (['primitive', 'group', 'clone', 'master'].includes(c['#name']) ? resourceIds(c) : []))]
    : own;
}

/** The resource ids a constraint names (rsc, with-rsc, first, then, resource_ref). */
function referencedIds(e: El): string[] {
  const here = ['rsc', 'with-rsc', 'first', 'then'].map((a) => e.$?.[a]).filter((v): v is string => !!v);
  if (e['#name'] === 'resource_ref' && e.$?.id) here.push(e.$.id);
  return [...here, ...kids(e).flatMap(referencedIds)];
}

export interface MergePlan {
  /** The live CIB (without status), as compared. */
  original: string;
  /** The same with the description merged in, the marker set and dropped objects removed. */
  merged: string;
  /** What the marker lets apply remove: objects an earlier apply wrote that the description no longer has. */
  removed: Difference[];
  /** The marker tag itself, when it has to be written or changed. */
  marker?: Difference;
}

/**
 * Merge the wanted <configuration> into the live CIB the way `crm configure load
 * update` does: objects with ids (resources, constraints, alerts) are added or
 * replaced by id, the fencing topology as a whole (crmsh replaces it on load),
 * ha-oscar's nvpairs set by name within their set (other names kept), missing
 * nodes added. Everything else in the live configuration stays as it is.
 */
export async function mergeConfiguration(want: string, liveCib: string): Promise<MergePlan> {
  const w = await parse(want);
  const root = await parse(liveCib);
  if (root['#name'] !== 'cib') throw new Error('not a CIB: no <cib> element');
  root.$$ = kids(root).filter((c) => c['#name'] !== 'status');
  const original = `${serialize(root)}\n`;
  const conf = sectionOf(root, 'configuration');

  for (const name of ['resources', 'constraints', 'alerts']) {
    const wanted = kids(kid(w, name));
    if (!wanted.length) continue;
    const sec = sectionOf(conf, name);
    for (const o of wanted) {
      const i = sec.$$!.findIndex((c) => c.$?.id === o.$?.id);
      if (i >= 0) sec.$$![i] = o; else sec.$$!.push(o);
    }
  }
  const ft = kid(w, 'fencing-topology');
  if (ft) { const i = conf.$$!.findIndex((c) => c['#name'] === 'fencing-topology'); if (i >= 0) conf.$$![i] = ft; else conf.$$!.push(ft); }

  for (const [name, tag] of [['crm_config', 'cluster_property_set'], ['rsc_defaults', 'meta_attributes']]) {
    for (const ws of kids(kid(w, name), tag)) {
      const sec = sectionOf(conf, name);
      const ls = kids(sec, tag).find((s) => s.$?.id === ws.$?.id);
      if (!ls) { sec.$$!.push(ws); continue; }
      ls.$$ ??= [];
      for (const n of kids(ws, 'nvpair')) {
        const have = kids(ls, 'nvpair').find((x) => x.$?.name === n.$?.name);
        if (have) have.$ = { ...have.$, value: n.$?.value ?? '' }; else ls.$$.push(n);
      }
    }
  }
  const nodes = kids(kid(w, 'nodes'), 'node');
  if (nodes.length) {
    const sec = sectionOf(conf, 'nodes');
    for (const n of nodes) {
      if (!kids(sec, 'node').some((x) => x.$?.uname === n.$?.uname || x.$?.id === n.$?.id)) sec.$$!.push(n);
    }
  }

  // what ha-oscar wrote earlier (the marker) and the description no longer has: out
  const wantedIds = OBJECT_SECTIONS.flatMap((s) => kids(kid(w, s)).map((o) => o.$?.id)).filter((v): v is string => !!v);
  const tags = kid(conf, 'tags');
  const oldTag = kids(tags, 'tag').find((t) => t.$?.id === MARKER_TAG);
  const drop = new Set(kids(oldTag, 'obj_ref').map((r) => r.$?.id).filter((v): v is string => !!v && !wantedIds.includes(v)));
  const removed: Difference[] = [];
  const goneResources = new Set<string>();
  for (const name of OBJECT_SECTIONS) {
    const sec = kid(conf, name);
    if (!sec) continue;
    sec.$$ = kids(sec).filter((c) => {
      if (!c.$?.id || !drop.has(c.$.id)) return true;
      removed.push({ what: `${c['#name']} ${c.$.id}`, why: 'removed' });
      if (name === 'resources') for (const id of resourceIds(c)) goneResources.add(id);
      return false;
    });
  }
  // an admin's constraint that names a resource being removed: stop (the CIB would reject it, and it is not ours to delete)
  for (const c of kids(kid(conf, 'constraints'))) {
    const bad = referencedIds(c).find((id) => goneResources.has(id));
    if (bad) throw new Error(`cannot remove ${bad}: the description no longer has it, but ${c['#name']} ${c.$?.id} (not ha-oscar's) refers to it; delete or change that constraint first`);
  }

  // the marker: exactly the objects the description has now
  const newTag: El = { '#name': 'tag', $: { id: MARKER_TAG }, $$: wantedIds.map((id) => ({ '#name': 'obj_ref', $: { id } })) };
  let marker: Difference | undefined;
  if (!oldTag || canon(oldTag) !== canon(newTag)) {
    marker = { what: `tag ${MARKER_TAG}`, why: oldTag ? 'different' : 'missing' };
    const sec = sectionOf(conf, 'tags');
    const i = sec.$$!.findIndex((t) => t['#name'] === 'tag' && t.$?.id === MARKER_TAG);
    if (!wantedIds.length) sec.$$!.splice(i, i >= 0 ? 1 : 0);
    else if (i >= 0) sec.$$![i] = newTag; else sec.$$!.push(newTag);
    if (!sec.$$!.length) conf.$$ = kids(conf).filter((c) => c !== sec);
  }
  // crm_diff takes the patch's target version from the new text: one epoch on (a patch whose
  // target is not newer than the CIB is refused as "older than existing configuration")
  root.$ = { ...root.$, epoch: String(Number(root.$?.epoch ?? 0) + 1), num_updates: '0' };
  return { original, merged: `${serialize(root)}\n`, removed, marker };
}

/** The cibadmin path of applyConfig (which has already checked the generated configuration). */
async function applyWithCibadmin(cfg: ClusterConfig, opts: ApplyOptions): Promise<ApplyResult> {
  const want = renderConfiguration(cfg);
  const before = await queryCib(opts);
  const epochBefore = cibVersion(before).epoch;
  const plan = await mergeConfiguration(want, before);
  const differences = [...await compare(want, before), ...plan.removed, ...(plan.marker ? [plan.marker] : [])];
  if (differences.length === 0 || opts.dryRun) {
    return { changed: false, epochBefore, epochAfter: epochBefore, differences };
  }
  // the merged configuration, judged by crm_verify on two online heads (the generated
  // status of renderFullCib): errors stop the apply, warnings do not
  if (!opts.noVerify) {
    const conf = /<configuration>[^]*<\/configuration>/.exec(plan.merged)?.[0] ?? '';
    const full = renderFullCib(cfg).replace(/<configuration>[^]*<\/configuration>/, () => conf);
    const v = await verifyCib(full);
    const errors = v.problems.filter((p) => /\berror\b|errors found/i.test(p));
    if (errors.length) throw new Error(`crm_verify rejects the merged configuration: ${errors[0]}`);
  }
  // One write, as a patch (crm_diff, then cibadmin --patch) rather than cibadmin
  // --replace --scope configuration: the patch holds only what changes, and it
  // carries the CIB version it was made from, so the CIB refuses it when someone
  // changed the configuration after we read it, instead of our copy silently
  // overwriting their change.
  const patch = await diffCib(plan.original, plan.merged);
  if (patch) await patchCib(patch, opts);
  const after = await queryCib(opts);
  const left = await compare(want, after);
  if (left.length) throw new Error(`after cibadmin --patch the CIB still differs: ${left.map((d) => `${d.what} ${d.why}`).join(', ')}`);
  return { changed: true, epochBefore, epochAfter: cibVersion(after).epoch, differences };
}

/** One line on what an apply changed: "3 added, 1 changed, 2 removed: primitive x, ...". */
export function summarize(differences: Difference[], max = 8): string {
  const n = (why: Difference['why']) => differences.filter((d) => d.why === why).length;
  const names = differences.slice(0, max).map((d) => d.what).join(', ');
  const more = differences.length > max ? `, and ${differences.length - max} more` : '';
  return `${n('missing')} added, ${n('different')} changed, ${n('removed')} removed${differences.length ? `: ${names}${more}` : ''}`;
}

// `ha-oscar config apply`: bring a cluster's CIB in line with the description.
// Idempotent: the live CIB is compared with what the description generates
// first, and nothing is written when every generated object is already there,
// so applying the same file twice leaves the CIB epoch where it was.
//
// Two ways to write (docs/config.md, "apply"): crmsh (`crm configure load update`,
// where crmsh is installed) and cibadmin (pacemaker-cli-utils, on every head: EL
// heads have pcs and no crmsh). Both mark what ha-oscar created with the tag
// ha-oscar-managed and remove what it created earlier and the description no longer
// has; one function (markerPlan) decides both, for either tool. The cibadmin path
// merges the generated <configuration> into the live one object by object, as
// `load update` does, and writes all that as one patch; the crmsh path deletes and
// loads (with the tag as a crm `tag` line) in one crmsh session, one commit.
import { parseStringPromise } from 'xml2js';
import {
  crmLoadUpdate, cibVersion, onPath, patchCib, patchWithRetry, queryCib, verifyCib, type CibTarget,
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
  /** Tests only: runs after the CIB was read and before each cibadmin write. */
  beforeWrite?: (attempt: number) => Promise<void>;
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
  const want = renderConfiguration(cfg);
  const before = await queryCib(opts);
  const epochBefore = cibVersion(before).epoch;
  const { differences, plan } = await pending(want, before);
  if (differences.length === 0 || opts.dryRun) {
    return { changed: false, epochBefore, epochAfter: epochBefore, differences };
  }
  try {
    await crmLoadUpdate(`${renderCrm(cfg).trimEnd()}\n${markerCrm(plan)}`, { ...opts, remove: crmRemovals(plan, await parse(want), await parse(before)) });
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    if (/no such resource agent|got no meta-data/.test(msg) && !opts.force) {
      throw new Error(`${msg} (install the ha-oscar agents on this head first, or pass --force to load anyway)`);
    }
    throw e;
  }
  return { changed: true, epochBefore, epochAfter: await checkApplied(want, plan, 'crm configure load update', opts), differences };
}

// ---- the marker: what ha-oscar wrote, and what an apply removes (both tools) ----

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

/** The configuration element of a parsed CIB (or the element itself when it is one). */
const configurationOf = (e: El): El | undefined => (e['#name'] === 'cib' ? kid(e, 'configuration') : e);

export interface MarkerPlan {
  /** The top-level ids the description generates: what the marker must list, in this order. */
  wantedIds: string[];
  /** Ids in the live configuration that the marker lists and the description no longer has. */
  drop: Set<string>;
  /** The same, as differences (what apply says it removed), in section order. */
  removed: Difference[];
  /** The marker tag as it must be. */
  tag: El;
  /** Set when the live marker is missing or not `tag`. */
  marker?: Difference;
}

/**
 * The one place that decides, for either tool, what the marker must list and what an
 * apply removes: an object goes only when the live marker lists it (an earlier apply
 * wrote it) and the description no longer generates it; an admin's own object, never
 * listed, is never removed. An admin's constraint that still names a resource to be
 * removed stops the apply (the CIB would reject it, and it is not ours to delete).
 * `want` is the generated <configuration>, `live` the live CIB or its <configuration>.
 */
export function markerPlan(want: El, live: El): MarkerPlan {
  const conf = configurationOf(live);
  const wantedIds = OBJECT_SECTIONS.flatMap((s) => kids(kid(want, s)).map((o) => o.$?.id)).filter((v): v is string => !!v);
  const wanted = new Set(wantedIds);
  const oldTag = kids(kid(conf, 'tags'), 'tag').find((t) => t.$?.id === MARKER_TAG);
  const listed = new Set(kids(oldTag, 'obj_ref').map((r) => r.$?.id).filter((v): v is string => !!v && !wanted.has(v)));
  const drop = new Set<string>();
  const removed: Difference[] = [];
  const goneResources = new Set<string>();
  for (const name of OBJECT_SECTIONS) {
    for (const c of kids(kid(conf, name))) {
      if (!c.$?.id || !listed.has(c.$.id)) continue;
      drop.add(c.$.id);
      removed.push({ what: `${c['#name']} ${c.$.id}`, why: 'removed' });
      if (name === 'resources') for (const id of resourceIds(c)) goneResources.add(id);
    }
  }
  // the constraints after the apply: the live ones that stay (not ours now, not dropped), and ours
  const staying = kids(kid(conf, 'constraints')).filter((c) => !wanted.has(c.$?.id ?? '') && !drop.has(c.$?.id ?? ''));
  for (const c of [...staying, ...kids(kid(want, 'constraints'))]) {
    const bad = referencedIds(c).find((id) => goneResources.has(id));
    if (bad) throw new Error(`cannot remove ${bad}: the description no longer has it, but ${c['#name']} ${c.$?.id} (not ha-oscar's) refers to it; delete or change that constraint first`);
  }
  const tag: El = { '#name': 'tag', $: { id: MARKER_TAG }, $$: wantedIds.map((id) => ({ '#name': 'obj_ref', $: { id } })) };
  const marker: Difference | undefined = !oldTag || canon(oldTag) !== canon(tag)
    ? { what: `tag ${MARKER_TAG}`, why: oldTag ? 'different' : 'missing' }
    : undefined;
  return { wantedIds, drop, removed, tag, marker };
}

/** Everything an apply of `want` would change in the CIB text `cib`, whatever the tool: objects, removals, the marker. */
async function pending(want: string, cib: string): Promise<{ differences: Difference[]; plan: MarkerPlan }> {
  const plan = markerPlan(await parse(want), await parse(cib));
  return { differences: [...await compare(want, cib), ...plan.removed, ...(plan.marker ? [plan.marker] : [])], plan };
}

/** After a write: the CIB must now match (nothing pending, the dropped objects gone); its epoch. */
async function checkApplied(want: string, plan: MarkerPlan, how: string, t: CibTarget): Promise<number> {
  const after = await queryCib(t);
  const left = (await pending(want, after)).differences;
  const conf = configurationOf(await parse(after));
  const still = OBJECT_SECTIONS.flatMap((s) => kids(kid(conf, s))).filter((c) => plan.drop.has(c.$?.id ?? ''));
  left.push(...still.map((c): Difference => ({ what: `${c['#name']} ${c.$?.id}`, why: 'removed' })));
  if (left.length) throw new Error(`after ${how} the CIB still differs: ${left.map((d) => `${d.what} ${d.why === 'removed' ? 'not removed' : d.why}`).join(', ')}`);
  return cibVersion(after).epoch;
}

/** The marker as a crm line (crmsh writes it as the same <tag> as the cibadmin path). */
function markerCrm(plan: MarkerPlan): string {
  return plan.wantedIds.length ? `tag ${MARKER_TAG}: ${plan.wantedIds.join(' ')}\n` : '';
}

/**
 * What the crmsh path deletes for plan.drop: crmsh's object ids. Fencing levels are no
 * crmsh objects (crmsh has one fencing_topology): a generated topology replaces the live
 * one on load; without one, the whole topology goes when all its levels are ours.
 */
function crmRemovals(plan: MarkerPlan, want: El, live: El): string[] {
  const levels = new Set(plan.removed.filter((d) => d.what.startsWith('fencing-level ')).map((d) => d.what.slice('fencing-level '.length)));
  const ids = [...plan.drop].filter((id) => !levels.has(id));
  if (levels.size && !kid(want, 'fencing-topology')) {
    const others = kids(kid(configurationOf(live), 'fencing-topology')).filter((l) => !levels.has(l.$?.id ?? ''));
    if (others.length) {
      throw new Error(`cannot remove ha-oscar's fencing levels through crmsh: the fencing topology also holds ${others.map((l) => `fencing-level ${l.$?.id}`).join(', ')} (not ha-oscar's); remove those first, or use --tool cibadmin`);
    }
    ids.push('fencing_topology');
  }
  return ids;
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
  const plan = markerPlan(w, conf);

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
  for (const name of OBJECT_SECTIONS) {
    const sec = kid(conf, name);
    if (sec) sec.$$ = kids(sec).filter((c) => !c.$?.id || !plan.drop.has(c.$.id));
  }
  // the marker: exactly the objects the description has now
  if (plan.marker) {
    const sec = sectionOf(conf, 'tags');
    const i = sec.$$!.findIndex((t) => t['#name'] === 'tag' && t.$?.id === MARKER_TAG);
    if (!plan.wantedIds.length) sec.$$!.splice(i, i >= 0 ? 1 : 0);
    else if (i >= 0) sec.$$![i] = plan.tag; else sec.$$!.push(plan.tag);
    if (!sec.$$!.length) conf.$$ = kids(conf).filter((c) => c !== sec);
  }
  // crm_diff takes the patch's target version from the new text: one epoch on (a patch whose
  // target is not newer than the CIB is refused as "older than existing configuration")
  root.$ = { ...root.$, epoch: String(Number(root.$?.epoch ?? 0) + 1), num_updates: '0' };
  return { original, merged: `${serialize(root)}\n`, removed: plan.removed, marker: plan.marker };
}

/** The cibadmin path of applyConfig (which has already checked the generated configuration). */
async function applyWithCibadmin(cfg: ClusterConfig, opts: ApplyOptions): Promise<ApplyResult> {
  const want = renderConfiguration(cfg);
  const before = await queryCib(opts);
  const epochBefore = cibVersion(before).epoch;
  const { differences, plan: marker } = await pending(want, before);
  if (differences.length === 0 || opts.dryRun) {
    return { changed: false, epochBefore, epochAfter: epochBefore, differences };
  }
  const plan = await mergeConfiguration(want, before);
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
  // A status update between the read and the write is retried, a configuration change by
  // someone else refused (patchWithRetry, src/pacemaker/cib.ts).
  await patchWithRetry({
    read: () => queryCib(opts), write: (patch) => patchCib(patch, opts), edit: (cib) => mergeConfiguration(want, cib),
    first: plan, firstCib: before, keepEpoch: true, beforeWrite: opts.beforeWrite,
  });
  return { changed: true, epochBefore, epochAfter: await checkApplied(want, marker, 'cibadmin --patch', opts), differences };
}

/** One line on what an apply changed: "3 added, 1 changed, 2 removed: primitive x, ...". */
export function summarize(differences: Difference[], max = 8): string {
  const n = (why: Difference['why']) => differences.filter((d) => d.why === why).length;
  const names = differences.slice(0, max).map((d) => d.what).join(', ');
  const more = differences.length > max ? `, and ${differences.length - max} more` : '';
  return `${n('missing')} added, ${n('different')} changed, ${n('removed')} removed${differences.length ? `: ${names}${more}` : ''}`;
}

// The configuration in crmsh syntax, for `crm configure load update FILE`.
import { levelsByTarget, type Alert, type ClusterConfig, type Constraint, type FencingLevel, type Primitive, type ResourceSet } from './model';

function q(v: string): string {
  return /^[A-Za-z0-9_.:/@%+,=-]+$/.test(v) && !v.includes('=') ? v : `"${v}"`;
}

function pairs(kw: string, ps: [string, string][]): string[] {
  return ps.length ? [`${kw} ${ps.map(([k, v]) => `${k}=${q(v)}`).join(' ')}`] : [];
}

export function primitive(p: Primitive, head = 'primitive'): string {
  const lines = [
    `${head} ${p.id} ${p.agent}`,
    ...pairs('params', p.params),
    ...pairs('meta', p.meta),
    ...p.ops.map((o) => `op ${o.name} interval=${o.interval} timeout=${o.timeout}${o.depth ? ` OCF_CHECK_LEVEL=${o.depth}` : ''}`),
  ];
  return lines.join(' \\\n\t');
}

function score(s: string): string {
  return s === 'INFINITY' ? 'inf' : s === '-INFINITY' ? '-inf' : s;
}

function rset(s: ResourceSet): string {
  return s.sequential ? s.ids.join(' ') : `( ${s.ids.join(' ')} )`;
}

export function constraint(c: Constraint): string {
  switch (c.kind) {
    case 'colocation': return `colocation ${c.id} ${score(c.score)}: ${c.sets.map(rset).join(' ')}`;
    case 'order': return `order ${c.id} ${c.orderKind}: ${c.sets.map(rset).join(' ')}`;
    case 'location':
      if (c.rule) {
        const exprs = c.rule.exprs.map((e) => `${e.attribute} ${e.type === 'number' ? 'number:' : 'string:'}${e.operation} ${q(e.value)}`);
        return `location ${c.id} ${c.rsc} rule ${score(c.rule.score)}: ${exprs.join(` ${c.rule.booleanOp} `)}`;
      }
      return `location ${c.id} ${c.rsc} ${score(c.score!)}: ${c.node}`;
  }
}

function alert(a: Alert): string {
  const sel = a.select;
  const what = [
    ...(sel.nodes ? ['nodes'] : []), ...(sel.fencing ? ['fencing'] : []), ...(sel.resources ? ['resources'] : []),
    // attribute names unquoted: crmsh reads them as words inside the braces ('#' included)
    ...(sel.attributes.length ? [`attributes { ${sel.attributes.join(' ')} }`] : []),
  ];
  return [
    `alert ${a.id} "${a.path}"`,
    ...pairs('attributes', a.attributes),
    ...(what.length ? [`select ${what.join(' ')}`] : []),
    ...a.recipients.map((r) => `to ${q(r)}`),
  ].join(' \\\n\t');
}

/** crmsh's fencing_topology line: per target, its levels in order, each level's devices joined by ','. */
export function fencingTopology(levels: FencingLevel[]): string {
  const byTarget = new Map<string, string[]>();
  for (const l of levelsByTarget(levels)) byTarget.set(l.target, [...(byTarget.get(l.target) ?? []), l.devices.join(',')]);
  return `fencing_topology ${[...byTarget].map(([t, lv]) => `${t}: ${lv.join(' ')}`).join(' ')}`;
}

export function renderCrm(cfg: ClusterConfig, header?: string): string {
  const out: string[] = [];
  if (header) out.push(...header.split('\n').map((l) => `# ${l}`.trimEnd()));
  for (const n of cfg.nodes) out.push(`node ${n.id}: ${n.uname}`);
  for (const p of cfg.primitives) out.push(primitive(p));
  for (const g of cfg.groups ?? []) {
    for (const m of g.members) out.push(primitive(m));
    out.push(`group ${g.id} ${g.members.map((m) => m.id).join(' ')}`);
  }
  for (const c of cfg.clones) {
    out.push(primitive(c.child));
    out.push([`clone ${c.id} ${c.child.id}`, ...pairs('meta', c.meta)].join(' \\\n\t'));
  }
  for (const c of cfg.constraints) out.push(constraint(c));
  if (cfg.fencingLevels.length) out.push(fencingTopology(cfg.fencingLevels));
  out.push([`property cib-bootstrap-options:`, ...cfg.properties.map(([k, v]) => `${k}=${q(v)}`)].join(' \\\n\t'));
  out.push([`rsc_defaults rsc-options:`, ...cfg.rscDefaults.map(([k, v]) => `${k}=${q(v)}`)].join(' \\\n\t'));
  for (const a of cfg.alerts ?? []) out.push(alert(a));
  return `${out.join('\n')}\n`;
}

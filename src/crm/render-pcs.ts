// The configuration as the pcs commands an EL 9 admin would type (pcs 0.11), one
// command per line, words quoted for a POSIX shell where needed. Text only: ha-oscar
// never runs it. Run against a copy of the CIB (`pcs -f FILE`) and pushed once, or
// one by one on a fresh cluster; test/unit/crm-pcs.test.ts runs them with `pcs -f`
// and compares the CIB they give with render-xml's.
//
// What pcs cannot say, and what is printed instead (docs/config.md, "pcs"):
// - <nodes>: pcs has no command for them; Pacemaker adds them when the heads join
//   (corosync.conf's nodelist, written by `pcs cluster setup` or `ha-oscar config corosync`).
//   Printed as a comment.
// - an alert's <select> (which events it gets): pcs 0.11 has no option for it, so it
//   is one `cibadmin --modify` line (with `pcs -f FILE`, run it as `CIB_file=FILE cibadmin ...`).
// - element ids pcs makes itself (op, nvpair, resource_set, rule expression and
//   fencing-level ids) differ from render-xml's (crmsh's); every id pcs lets one
//   choose (resources, constraints, rules, the defaults set, alerts, recipients) is the same.
import type { Alert, ClusterConfig, Constraint, Primitive, RuleExpr } from './model';
import { levelsByTarget } from './model';
import { alertSelect, esc, recipientId, RSC_DEFAULTS_ID } from './render-xml';

/** A word for a POSIX shell: as it is when that is safe, else in single quotes. */
export function shq(w: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(w)) return w;
  return `'${w.replace(/'/g, `'\\''`)}'`;
}

const line = (words: string[]): string => words.map(shq).join(' ');
const kv = (ps: [string, string][]): string[] => ps.map(([k, v]) => `${k}=${v}`);
/** pcs reads a word that starts with '-' as an option unless it comes after '--'. */
const positional = (w: string): string[] => (w.startsWith('-') ? ['--', w] : [w]);

/** `pcs resource create` / `pcs stonith create` with the primitive's params, ops and meta. */
function create(p: Primitive, tail: string[] = []): string {
  const stonith = p.agent.startsWith('stonith:');
  const words = stonith ? ['pcs', 'stonith', 'create', p.id, p.agent.slice('stonith:'.length)] : ['pcs', 'resource', 'create', p.id, p.agent];
  words.push(...kv(p.params));
  if (p.ops.length) {
    words.push('op', ...p.ops.flatMap((o) => [o.name, `interval=${o.interval}`, `timeout=${o.timeout}`, ...(o.depth ? [`OCF_CHECK_LEVEL=${o.depth}`] : [])]));
  }
  if (p.meta.length) words.push('meta', ...kv(p.meta));
  // without it pcs adds the agent's advised start/stop/... ops that the model does not have
  if (!stonith) words.push('--no-default-ops');
  return line([...words, ...tail]);
}

function expr(e: RuleExpr): string[] {
  return [e.attribute, e.operation, e.type, e.value];
}

function constraint(c: Constraint): string {
  switch (c.kind) {
    case 'colocation':
    case 'order': {
      const sets = c.sets.flatMap((s) => ['set', ...s.ids, ...(s.sequential ? [] : ['sequential=false'])]);
      const opts = c.kind === 'colocation' ? [`score=${c.score}`] : [`kind=${c.orderKind}`];
      return line(['pcs', 'constraint', c.kind, ...sets, 'setoptions', ...opts, `id=${c.id}`]);
    }
    case 'location':
      if (c.rule) {
        const exprs = c.rule.exprs.flatMap((e, i) => [...(i ? [c.rule!.booleanOp] : []), ...expr(e)]);
        // the rule's id as render-xml gives it
        return line(['pcs', 'constraint', 'location', c.rsc, 'rule', `id=${c.id}-rule`, `constraint-id=${c.id}`, `score=${c.rule.score}`, ...exprs]);
      }
      return line(['pcs', 'constraint', 'location', 'add', c.id, c.rsc, c.node!, ...positional(c.score!)]);
  }
}

function alert(a: Alert): string[] {
  const out = [line(['pcs', 'alert', 'create', `path=${a.path}`, `id=${a.id}`, ...(a.attributes.length ? ['options', ...kv(a.attributes)] : [])])];
  const sel = alertSelect(a).map((l) => l.trim()).join('');
  if (sel) {
    out.push(
      `# pcs has no option for the events an alert gets (<select>): cibadmin (with pcs -f FILE: CIB_file=FILE cibadmin ...)`,
      line(['cibadmin', '--modify', '--scope', 'alerts', '--xml-text', `<alert id="${esc(a.id)}">${sel}</alert>`]),
    );
  }
  out.push(...a.recipients.map((r, i) => line(['pcs', 'alert', 'recipient', 'add', a.id, `value=${r}`, `id=${recipientId(a, i)}`])));
  return out;
}

export function renderPcs(cfg: ClusterConfig, header?: string): string {
  const out: string[] = [];
  if (header) out.push(...header.split('\n').map((l) => `# ${l}`.trimEnd()));
  out.push(
    '# pcs 0.11 (EL 9). All at once: pcs cluster cib new.xml; each line with pcs -f new.xml; pcs cluster cib-push new.xml --config',
    `# nodes (from corosync.conf when the heads join; no pcs command): ${cfg.nodes.map((n) => `${n.uname} (id ${n.id})`).join(', ')}`,
  );
  if (cfg.properties.length) out.push(line(['pcs', 'property', 'set', ...kv(cfg.properties)]));
  if (cfg.rscDefaults.length) out.push(line(['pcs', 'resource', 'defaults', 'set', 'create', `id=${RSC_DEFAULTS_ID}`, 'meta', ...kv(cfg.rscDefaults)]));
  for (const p of cfg.primitives) out.push(create(p));
  for (const g of cfg.groups ?? []) for (const m of g.members) out.push(create(m, ['--group', g.id]));
  for (const c of cfg.clones) out.push(create(c.child, ['clone', c.id, ...kv(c.meta)]));
  for (const c of cfg.constraints) out.push(constraint(c));
  for (const l of levelsByTarget(cfg.fencingLevels)) out.push(line(['pcs', 'stonith', 'level', 'add', String(l.index), l.target, ...l.devices]));
  for (const a of cfg.alerts ?? []) out.push(...alert(a));
  return `${out.join('\n')}\n`;
}

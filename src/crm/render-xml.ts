// The configuration as CIB XML: the <configuration> element (what
// `crm configure load update` makes of the crm text, with the same ids), and a
// full CIB around it (nodes online, quorum) for `crm_verify -x`.
import { levelsByTarget, type Alert, type ClusterConfig, type Constraint, type Primitive, type ResourceSet } from './model';

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const ind = (n: number) => '  '.repeat(n);

/** The id of the resource defaults' meta_attributes set (crmsh's name for it). */
export const RSC_DEFAULTS_ID = 'rsc-options';

function nvset(tag: string, id: string, ps: [string, string][], depth: number): string[] {
  if (!ps.length) return [];
  return [
    `${ind(depth)}<${tag} id="${esc(id)}">`,
    ...ps.map(([k, v]) => `${ind(depth + 1)}<nvpair name="${esc(k)}" value="${esc(v)}" id="${esc(`${id}-${k}`)}"/>`),
    `${ind(depth)}</${tag}>`,
  ];
}

function agentAttrs(agent: string): string {
  const parts = agent.split(':');
  if (parts[0] === 'ocf') return `class="ocf" provider="${esc(parts[1])}" type="${esc(parts[2])}"`;
  return `class="${esc(parts[0])}" type="${esc(parts.slice(1).join(':'))}"`;
}

function primitive(p: Primitive, depth: number): string[] {
  return [
    `${ind(depth)}<primitive id="${esc(p.id)}" ${agentAttrs(p.agent)}>`,
    ...nvset('instance_attributes', `${p.id}-instance_attributes`, p.params, depth + 1),
    ...nvset('meta_attributes', `${p.id}-meta_attributes`, p.meta, depth + 1),
    ...(p.ops.length ? [
      `${ind(depth + 1)}<operations>`,
      ...p.ops.flatMap((o) => {
        const id = `${p.id}-${o.name}-${o.interval}`;
        const open = `${ind(depth + 2)}<op name="${esc(o.name)}" interval="${esc(o.interval)}" timeout="${esc(o.timeout)}" id="${esc(id)}"`;
        if (!o.depth) return [`${open}/>`];
        return [`${open}>`, ...nvset('instance_attributes', `${id}-instance_attributes`, [['OCF_CHECK_LEVEL', String(o.depth)]], depth + 3), `${ind(depth + 2)}</op>`];
      }),
      `${ind(depth + 1)}</operations>`,
    ] : []),
    `${ind(depth)}</primitive>`,
  ];
}

function rset(id: string, s: ResourceSet, depth: number): string[] {
  return [
    `${ind(depth)}<resource_set ${s.sequential ? '' : 'sequential="false" '}id="${esc(id)}">`,
    ...s.ids.map((r) => `${ind(depth + 1)}<resource_ref id="${esc(r)}"/>`),
    `${ind(depth)}</resource_set>`,
  ];
}

function constraint(c: Constraint, d: number): string[] {
  switch (c.kind) {
    case 'colocation':
      return [`${ind(d)}<rsc_colocation id="${esc(c.id)}" score="${esc(c.score)}">`, ...c.sets.flatMap((s, i) => rset(`${c.id}-${i}`, s, d + 1)), `${ind(d)}</rsc_colocation>`];
    case 'order':
      return [`${ind(d)}<rsc_order id="${esc(c.id)}" kind="${c.orderKind}">`, ...c.sets.flatMap((s, i) => rset(`${c.id}-${i}`, s, d + 1)), `${ind(d)}</rsc_order>`];
    case 'location':
      if (c.rule) {
        const rid = `${c.id}-rule`;
        return [
          `${ind(d)}<rsc_location id="${esc(c.id)}" rsc="${esc(c.rsc)}">`,
          `${ind(d + 1)}<rule score="${esc(c.rule.score)}" ${c.rule.exprs.length > 1 ? `boolean-op="${c.rule.booleanOp}" ` : ''}id="${esc(rid)}">`,
          ...c.rule.exprs.map((e, i) => `${ind(d + 2)}<expression operation="${e.operation}" attribute="${esc(e.attribute)}" type="${e.type}" value="${esc(e.value)}" id="${esc(`${rid}-expression${i ? `-${i}` : ''}`)}"/>`),
          `${ind(d + 1)}</rule>`,
          `${ind(d)}</rsc_location>`,
        ];
      }
      return [`${ind(d)}<rsc_location id="${esc(c.id)}" rsc="${esc(c.rsc)}" score="${esc(c.score!)}" node="${esc(c.node!)}"/>`];
  }
}

/** The id of an alert's i-th recipient (0-based i), as crmsh gives it. */
export const recipientId = (a: Alert, i: number): string => `${a.id}-recipient-${i + 1}`;

/** An alert's <select> element (no lines when it selects nothing: then every event is sent). */
export function alertSelect(a: Alert, d = 0): string[] {
  const sel = a.select;
  const any = sel.nodes || sel.fencing || sel.resources || sel.attributes.length > 0;
  if (!any) return [];
  return [
    `${ind(d)}<select>`,
    ...(sel.nodes ? [`${ind(d + 1)}<select_nodes/>`] : []),
    ...(sel.fencing ? [`${ind(d + 1)}<select_fencing/>`] : []),
    ...(sel.resources ? [`${ind(d + 1)}<select_resources/>`] : []),
    ...(sel.attributes.length ? [
      `${ind(d + 1)}<select_attributes>`,
      ...sel.attributes.map((n, i) => `${ind(d + 2)}<attribute name="${esc(n)}" id="${esc(`${a.id}-${i}`)}"/>`),
      `${ind(d + 1)}</select_attributes>`,
    ] : []),
    `${ind(d)}</select>`,
  ];
}

/** An <alert>, with the ids crmsh gives (ID-instance_attributes, ID-0..., ID-recipient-1...). */
function alert(a: Alert, d: number): string[] {
  return [
    `${ind(d)}<alert id="${esc(a.id)}" path="${esc(a.path)}">`,
    ...nvset('instance_attributes', `${a.id}-instance_attributes`, a.attributes, d + 1),
    ...alertSelect(a, d + 1),
    ...a.recipients.map((r, i) => `${ind(d + 1)}<recipient id="${esc(recipientId(a, i))}" value="${esc(r)}"/>`),
    `${ind(d)}</alert>`,
  ];
}

/** The <configuration> element. */
export function renderConfiguration(cfg: ClusterConfig, depth = 0): string {
  const d = depth;
  const lines = [
    `${ind(d)}<configuration>`,
    `${ind(d + 1)}<crm_config>`,
    ...nvset('cluster_property_set', 'cib-bootstrap-options', cfg.properties, d + 2),
    `${ind(d + 1)}</crm_config>`,
    `${ind(d + 1)}<nodes>`,
    ...cfg.nodes.map((n) => `${ind(d + 2)}<node id="${esc(n.id)}" uname="${esc(n.uname)}"/>`),
    `${ind(d + 1)}</nodes>`,
    `${ind(d + 1)}<resources>`,
    ...cfg.primitives.flatMap((p) => primitive(p, d + 2)),
    ...(cfg.groups ?? []).flatMap((g) => [
      `${ind(d + 2)}<group id="${esc(g.id)}">`,
      ...g.members.flatMap((m) => primitive(m, d + 3)),
      `${ind(d + 2)}</group>`,
    ]),
    ...cfg.clones.flatMap((c) => [
      `${ind(d + 2)}<clone id="${esc(c.id)}">`,
      ...nvset('meta_attributes', `${c.id}-meta_attributes`, c.meta, d + 3),
      ...primitive(c.child, d + 3),
      `${ind(d + 2)}</clone>`,
    ]),
    `${ind(d + 1)}</resources>`,
    `${ind(d + 1)}<constraints>`,
    ...cfg.constraints.flatMap((c) => constraint(c, d + 2)),
    `${ind(d + 1)}</constraints>`,
    ...(cfg.fencingLevels.length ? [
      `${ind(d + 1)}<fencing-topology>`,
      // ids as crmsh gives them (fencing, fencing-0, fencing-1...): it replaces the whole topology on load
      ...levelsByTarget(cfg.fencingLevels).map((l, i) => `${ind(d + 2)}<fencing-level target="${esc(l.target)}" index="${l.index}" devices="${esc(l.devices.join(','))}" id="${i ? `fencing-${i - 1}` : 'fencing'}"/>`),
      `${ind(d + 1)}</fencing-topology>`,
    ] : []),
    `${ind(d + 1)}<rsc_defaults>`,
    ...nvset('meta_attributes', RSC_DEFAULTS_ID, cfg.rscDefaults, d + 2),
    `${ind(d + 1)}</rsc_defaults>`,
    ...(cfg.alerts?.length ? [
      `${ind(d + 1)}<alerts>`,
      ...cfg.alerts.flatMap((a) => alert(a, d + 2)),
      `${ind(d + 1)}</alerts>`,
    ] : []),
    `${ind(d)}</configuration>`,
  ];
  return `${lines.join('\n')}\n`;
}

/**
 * A whole CIB around the configuration. With `online` (the default) its status
 * section has both heads as online members of a quorate cluster, so that
 * `crm_verify -x` judges the configuration itself and not a cluster that has
 * never started; without it the status is empty (for pushing the file).
 */
export function renderFullCib(cfg: ClusterConfig, opts: { online?: boolean; validateWith?: string } = {}): string {
  const online = opts.online ?? true;
  return [
    `<cib crm_feature_set="3.16.1" validate-with="${esc(opts.validateWith ?? 'pacemaker-3.9')}" epoch="1" num_updates="0" admin_epoch="0"${online ? ` have-quorum="1" dc-uuid="${esc(cfg.nodes[0]?.id ?? '1')}"` : ''}>`,
    renderConfiguration(cfg, 1).trimEnd(),
    ...(online ? [
      '  <status>',
      ...cfg.nodes.map((n) => `    <node_state id="${esc(n.id)}" uname="${esc(n.uname)}" in_ccm="true" crmd="online" crm-debug-origin="ha-oscar" join="member" expected="member"/>`),
      '  </status>',
    ] : ['  <status/>']),
    '</cib>',
    '',
  ].join('\n');
}

// Metadata and usage text in fence-agents' format (the XML that fencing.py prints
// for `-o metadata`, which Pacemaker's stonith_admin and pcs read).
import { longOf, type OptSpec } from './options.js';

export interface AgentDocs {
  name: string;
  shortdesc: string;
  longdesc: string;
  vendorUrl: string;
}

export const ACTIONS = ['on', 'off', 'reboot', 'status', 'list', 'list-status', 'monitor', 'metadata', 'validate-all'] as const;
export type Action = (typeof ACTIONS)[number];

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

function mixed(o: OptSpec): string {
  const long = `--${longOf(o)}`;
  const arg = o.type === 'boolean' ? '' : `=[${o.arg ?? o.name}]`;
  return o.short ? `-${o.short}, ${long}${arg}` : `${long}${arg}`;
}

function contentType(o: OptSpec): string {
  if (o.type === 'select') return 'select';
  if (o.type === 'second') return 'second';
  return o.type;
}

function param(o: OptSpec, name: string, extra: string): string[] {
  const lines: string[] = [];
  lines.push(`\t<parameter name="${xmlEscape(name)}" unique="0" required="${o.required ? 1 : 0}"${extra}>`);
  lines.push(`\t\t<getopt mixed="${xmlEscape(mixed(o))}" />`);
  const dflt = o.default !== undefined ? ` default="${xmlEscape(o.default)}"` : '';
  if (o.type === 'select' && o.choices) {
    lines.push(`\t\t<content type="select"${dflt} >`);
    for (const c of o.choices) lines.push(`\t\t\t<option value="${xmlEscape(c)}" />`);
    lines.push('\t\t</content>');
  } else {
    lines.push(`\t\t<content type="${contentType(o)}"${dflt} />`);
  }
  lines.push(`\t\t<shortdesc lang="en">${xmlEscape(o.shortdesc)}</shortdesc>`);
  lines.push('\t</parameter>');
  return lines;
}

/** The metadata document. Old names are listed as deprecated, new ones say what they obsolete (as fencing.py does). */
export function metadataXml(docs: AgentDocs, specs: readonly OptSpec[]): string {
  const out: string[] = [];
  out.push('<?xml version="1.0" ?>');
  out.push(`<resource-agent name="${xmlEscape(docs.name)}" shortdesc="${xmlEscape(docs.shortdesc)}" >`);
  out.push(`<longdesc>${xmlEscape(docs.longdesc)}</longdesc>`);
  out.push(`<vendor-url>${xmlEscape(docs.vendorUrl)}</vendor-url>`);
  out.push('<parameters>');
  const rows: Array<{ key: string; lines: string[] }> = [];
  for (const o of specs) {
    if (o.hidden) continue;
    const alias = o.aliases?.[0];
    rows.push({ key: o.name, lines: param(o, o.name, alias ? ` obsoletes="${xmlEscape(alias)}"` : '') });
    for (const a of o.aliases ?? []) rows.push({ key: a, lines: param(o, a, ' deprecated="1"') });
  }
  for (const r of rows) out.push(...r.lines);
  out.push('</parameters>');
  out.push('<actions>');
  out.push('\t<action name="on" automatic="0"/>');
  for (const a of ACTIONS) if (a !== 'on') out.push(`\t<action name="${a}" />`);
  out.push('</actions>');
  out.push('</resource-agent>');
  return out.join('\n') + '\n';
}

export function usageText(docs: AgentDocs, specs: readonly OptSpec[]): string {
  const lines = ['Usage:', `\t${docs.name} [options]`, 'Options:'];
  for (const o of specs) {
    if (o.hidden) continue;
    const dflt = o.default !== undefined ? ` (Default Value: ${o.default})` : '';
    lines.push(`   ${mixed(o).padEnd(40)} ${o.shortdesc}${dflt}`);
  }
  lines.push('', `Actions: ${ACTIONS.join(', ')}`, '', 'With no command-line options, name=value pairs are read from standard input.');
  return lines.join('\n') + '\n';
}

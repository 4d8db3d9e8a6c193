// Meta-data XML, generated from the agent's declaration.
//
// It claims OCF 1.1 and validates with `xmllint --valid` against the ra-api-1.dtd that
// resource-agents installs (what ocf-tester checks). That DTD predates OCF 1.1, so the
// document carries an internal DTD subset declaring the 1.1 attributes it uses
// (unique-group, reloadable, and action names such as reload-agent). OCF 1.1 *child
// elements* cannot be added that way (the DTD declares <content> EMPTY and fixes
// <parameter>'s children), so:
//   - a select parameter is advertised as type="string" with its allowed values in the
//     descriptions (the runtime still enforces them);
//   - a deprecated parameter says so in its shortdesc, naming its replacement.
import type { ParamSpec, ParamSpecs } from './params';

export interface ActionSpec {
  name: string;
  /** seconds */
  timeout: number;
  interval?: number;
  depth?: number;
  role?: string;
}

export interface MetaInfo {
  name: string;
  version: string;
  shortdesc: string;
  longdesc: string;
  params: ParamSpecs;
  actions: ActionSpec[];
}

export function xmlEscape(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function contentType(spec: ParamSpec): string {
  return spec.type === 'select' ? 'string' : spec.type;
}

function describe(name: string, spec: ParamSpec): { short: string; long: string } {
  let short = spec.shortdesc;
  let long = spec.longdesc ?? spec.shortdesc;
  if (spec.type === 'select') {
    const opts = `Allowed values: ${spec.options.join(', ')}.`;
    long = `${long}\n${opts}`;
    short = `${short} (${spec.options.join('|')})`;
  }
  if (spec.type === 'integer' && (spec.min !== undefined || spec.max !== undefined)) {
    long = `${long}\nRange: ${spec.min ?? '-inf'} to ${spec.max ?? '+inf'}.`;
  }
  if (spec.deprecated) {
    const to = spec.deprecated.replacedWith;
    short = `(deprecated${to ? `, use ${to}` : ''}) ${short}`;
    long = `Deprecated${to ? `: use '${to}' instead` : ''}. ${long}`;
  }
  void name;
  return { short, long };
}

export function renderMetadata(info: MetaInfo): string {
  const out: string[] = [];
  out.push('<?xml version="1.0"?>');
  out.push('<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd" [');
  out.push('<!ATTLIST parameter unique-group CDATA #IMPLIED reloadable (0|1) "0">');
  out.push('<!ATTLIST action name CDATA #REQUIRED>');
  out.push(']>');
  out.push(`<resource-agent name="${xmlEscape(info.name)}" version="${xmlEscape(info.version)}">`);
  out.push('<version>1.1</version>');
  out.push(`<longdesc lang="en">\n${xmlEscape(info.longdesc.trim())}\n</longdesc>`);
  out.push(`<shortdesc lang="en">${xmlEscape(info.shortdesc)}</shortdesc>`);
  out.push('<parameters>');
  for (const [name, spec] of Object.entries(info.params)) {
    const attrs = [`name="${xmlEscape(name)}"`, `required="${spec.required ? 1 : 0}"`];
    if (spec.uniqueGroup) attrs.push(`unique-group="${xmlEscape(spec.uniqueGroup)}"`);
    if (spec.reloadable) attrs.push('reloadable="1"');
    const d = describe(name, spec);
    const def = spec.default === undefined ? '' : ` default="${xmlEscape(String(spec.default))}"`;
    out.push(`<parameter ${attrs.join(' ')}>`);
    out.push(`<longdesc lang="en">\n${xmlEscape(d.long.trim())}\n</longdesc>`);
    out.push(`<shortdesc lang="en">${xmlEscape(d.short)}</shortdesc>`);
    out.push(`<content type="${contentType(spec)}"${def}/>`);
    out.push('</parameter>');
  }
  out.push('</parameters>');
  out.push('<actions>');
  for (const a of info.actions) {
    const attrs = [`name="${xmlEscape(a.name)}"`, `timeout="${a.timeout}s"`];
    if (a.interval !== undefined) attrs.push(`interval="${a.interval}s"`);
    if (a.depth !== undefined) attrs.push(`depth="${a.depth}"`);
    if (a.role) attrs.push(`role="${xmlEscape(a.role)}"`);
    out.push(`<action ${attrs.join(' ')}/>`);
  }
  out.push('</actions>');
  out.push('</resource-agent>');
  return `${out.join('\n')}\n`;
}

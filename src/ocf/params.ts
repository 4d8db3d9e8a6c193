// Typed agent parameters: declared once, parsed from OCF_RESKEY_*, validated,
// and described in meta-data from the same declaration.
import { oneLine } from './log';

export type ParamType = 'string' | 'integer' | 'boolean' | 'select';

interface Common<T> {
  shortdesc: string;
  longdesc?: string;
  required?: boolean;
  default?: T;
  /** OCF 1.1 unique-group: instances must differ in the combination of this group's values. */
  uniqueGroup?: string;
  /** OCF 1.1: a change takes effect through reload-agent, without a restart. */
  reloadable?: boolean;
  /** Supported for compatibility only; the value moves to `replacedWith` when that is unset. */
  deprecated?: { replacedWith?: string };
  /** Never echoed in reasons or logs (passwords, communities). */
  secret?: boolean;
}

export interface StringParam extends Common<string> {
  type: 'string';
  /** Must match the whole value. */
  pattern?: RegExp;
  /** Says what `pattern` expects, for the reason line. */
  patternHint?: string;
  maxLength?: number;
  /** Extra check: return a reason when the value is bad. */
  check?: (value: string) => string | undefined;
}
export interface IntegerParam extends Common<number> { type: 'integer'; min?: number; max?: number }
export interface BooleanParam extends Common<boolean> { type: 'boolean' }
export interface SelectParam<V extends string = string> extends Common<V> { type: 'select'; options: readonly V[] }

export type ParamSpec = StringParam | IntegerParam | BooleanParam | SelectParam;
export type ParamSpecs = Record<string, ParamSpec>;

type ValueOf<S extends ParamSpec> =
  S extends SelectParam<infer V> ? V :
  S extends IntegerParam ? number :
  S extends BooleanParam ? boolean : string;

/** The typed values an agent's callbacks receive. Unset optional params without default are undefined. */
export type Params<S extends ParamSpecs> = {
  [K in keyof S]: S[K] extends { required: true } | { default: unknown } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined;
};

/** Declaration helpers: `p.string({...})`, `p.integer({...})`, ... */
export const p = {
  string: <const O extends Omit<StringParam, 'type'>>(o: O): O & { type: 'string' } => ({ type: 'string', ...o }),
  integer: <const O extends Omit<IntegerParam, 'type'>>(o: O): O & { type: 'integer' } => ({ type: 'integer', ...o }),
  boolean: <const O extends Omit<BooleanParam, 'type'>>(o: O): O & { type: 'boolean' } => ({ type: 'boolean', ...o }),
  select: <V extends string, const O extends Omit<SelectParam<V>, 'type'> = Omit<SelectParam<V>, 'type'>>(o: O & { options: readonly V[] }): O & { type: 'select'; options: readonly V[] } => ({ type: 'select', ...o }),
};

/** Longest value accepted unless a parameter says otherwise. */
export const DEFAULT_MAX_LENGTH = 4096;

export class ParamError extends Error {}

/** How a bad value is quoted in a reason: bounded, printable, never a secret. */
export function quote(spec: ParamSpec, raw: string): string {
  if (spec.secret) return '(hidden)';
  const shown = JSON.stringify(raw.length > 40 ? `${raw.slice(0, 40)}` : raw);
  return raw.length > 40 ? `${shown.slice(0, -1)}..." (${raw.length} characters)` : shown;
}

const TRUE = /^(1|true|yes|on|y)$/i;
const FALSE = /^(0|false|no|off|n)$/i;

function parseOne(name: string, spec: ParamSpec, raw: string): unknown {
  const max = spec.type === 'string' ? spec.maxLength ?? DEFAULT_MAX_LENGTH : 256;
  if (raw.length > max) throw new ParamError(`parameter '${name}' is too long (${raw.length} characters, at most ${max})`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(raw)) throw new ParamError(`parameter '${name}' contains a control character (newline, tab, NUL...): ${quote(spec, raw)}`);
  switch (spec.type) {
    case 'integer': {
      if (!/^[+-]?\d{1,15}$/.test(raw.trim())) throw new ParamError(`parameter '${name}' must be an integer, not ${quote(spec, raw)}`);
      const n = Number(raw.trim());
      if (spec.min !== undefined && n < spec.min) throw new ParamError(`parameter '${name}' must be at least ${spec.min}, not ${n}`);
      if (spec.max !== undefined && n > spec.max) throw new ParamError(`parameter '${name}' must be at most ${spec.max}, not ${n}`);
      return n;
    }
    case 'boolean':
      if (TRUE.test(raw.trim())) return true;
      if (FALSE.test(raw.trim())) return false;
      throw new ParamError(`parameter '${name}' must be a boolean (true/false, yes/no, 1/0), not ${quote(spec, raw)}`);
    case 'select':
      if (!spec.options.includes(raw)) throw new ParamError(`parameter '${name}' must be one of ${spec.options.join(', ')}, not ${quote(spec, raw)}`);
      return raw;
    case 'string': {
      if (spec.pattern && !spec.pattern.test(raw)) {
        throw new ParamError(`parameter '${name}' ${spec.patternHint ? `must be ${spec.patternHint}` : 'has an invalid format'}, not ${quote(spec, raw)}`);
      }
      const why = spec.check?.(raw);
      if (why) throw new ParamError(`parameter '${name}' ${oneLine(why, 200)}${spec.secret ? '' : `: ${quote(spec, raw)}`}`);
      return raw;
    }
  }
}

export interface ParseResult<S extends ParamSpecs> {
  values: Params<S>;
  warnings: string[];
}

/**
 * Parse OCF_RESKEY_<name> for every declared parameter. An empty value counts as unset.
 * Throws ParamError with a one-line reason on the first bad value.
 */
export function parseParams<S extends ParamSpecs>(specs: S, env: NodeJS.ProcessEnv): ParseResult<S> {
  const values: Record<string, unknown> = {};
  const warnings: string[] = [];
  const raw: Record<string, string | undefined> = {};
  for (const name of Object.keys(specs)) {
    const v = env[`OCF_RESKEY_${name}`];
    raw[name] = v === undefined || v === '' ? undefined : v;
  }
  // deprecated names feed their replacement when that is unset
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.deprecated && raw[name] !== undefined) {
      const to = spec.deprecated.replacedWith;
      warnings.push(`parameter '${name}' is deprecated${to ? `; use '${to}'` : ''}`);
      if (to && raw[to] === undefined) raw[to] = raw[name];
    }
  }
  for (const [name, spec] of Object.entries(specs)) {
    const r = raw[name];
    if (r === undefined) {
      if (spec.required) throw new ParamError(`required parameter '${name}' is not set`);
      values[name] = spec.default;
      continue;
    }
    values[name] = parseOne(name, spec, r);
  }
  return { values: values as Params<S>, warnings };
}

// ---- small reusable checks for string parameters ---------------------------------------

const ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
export function isIPv4(s: string): boolean { return ipv4.test(s); }
export function isIPv6(s: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(s) || s.length > 45 || !s.includes(':') || s.includes(':::')) return false;
  const dbl = s.split('::');
  if (dbl.length > 2) return false;
  let groups = s.split(':').filter((g) => g !== '');
  let need = 8;
  const last = groups[groups.length - 1];
  if (last && last.includes('.')) { if (!isIPv4(last)) return false; groups = groups.slice(0, -1); need = 6; }
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return false;
  return dbl.length === 2 ? groups.length < need : groups.length === need;
}
export function isIP(s: string): boolean { return isIPv4(s) || isIPv6(s); }

/** A list separated by spaces or commas. */
export function splitList(s: string | undefined): string[] {
  return (s ?? '').split(/[\s,]+/).filter(Boolean);
}

/** check(): a list of IPv4/IPv6 addresses. */
export function checkAddressList(s: string): string | undefined {
  const items = splitList(s);
  if (items.length === 0) return 'must list at least one IPv4 or IPv6 address';
  const bad = items.find((a) => !isIP(a));
  return bad === undefined ? undefined : `must list IPv4/IPv6 addresses, and ${JSON.stringify(bad.slice(0, 45))} is not one`;
}

/** check(): an absolute path without .. components. */
export function checkAbsolutePath(s: string): string | undefined {
  if (!s.startsWith('/')) return 'must be an absolute path';
  if (s.split('/').includes('..')) return 'must not contain ".."';
  return undefined;
}

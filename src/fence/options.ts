// Fence-agent options in the fence-agents API (see /usr/share/fence/fencing.py):
//  - stdin mode: `name=value` lines, `#` comments, blank lines; unknown keys are
//    ignored with a warning (Pacemaker passes keys the agent may not know);
//  - command-line mode: getopt-style `-o off`, `-ooff`, `-vv`, `--action=off`, `--action off`.
// Both end in one map keyed by the canonical parameter name (`action`, `ip`, `plug`...).

export type OptType = 'string' | 'integer' | 'second' | 'boolean' | 'select';

export interface OptSpec {
  /** Canonical name, as in metadata and on stdin (`ip`, `plug`, `snmp_version`). */
  name: string;
  /** One-letter getopt switch, without the dash. */
  short?: string;
  /** Long option, without the dashes (`snmp-version`). Defaults to name with `_` -> `-`. */
  long?: string;
  type: OptType;
  /** Shown in `getopt mixed`, e.g. `[seconds]`. */
  arg?: string;
  choices?: string[];
  default?: string;
  /** 1 in metadata (required by the agent as a whole). */
  required?: boolean;
  shortdesc: string;
  /** Old names still accepted (stdin and metadata, marked deprecated). */
  aliases?: string[];
  /** A secret: masked in every log line. */
  secret?: boolean;
  /** Accepted but not listed in metadata (e.g. Pacemaker's own pcmk_* keys). */
  hidden?: boolean;
  /** Counted flag (-vvv). */
  counter?: boolean;
}

export type Options = Record<string, string>;

export class UsageError extends Error {}

export function longOf(o: OptSpec): string {
  return o.long ?? o.name.replace(/_/g, '-');
}

function takesValue(o: OptSpec): boolean {
  return o.type !== 'boolean';
}

/** Find a spec by a name as it may appear on stdin: canonical, alias, dashes or underscores. */
export function lookup(specs: readonly OptSpec[], raw: string): { spec: OptSpec; alias: boolean } | undefined {
  const key = raw.trim().replace(/-/g, '_');
  for (const s of specs) {
    if (s.name === key || longOf(s).replace(/-/g, '_') === key) return { spec: s, alias: false };
  }
  for (const s of specs) if (s.aliases?.includes(key)) return { spec: s, alias: true };
  return undefined;
}

const TRUE = ['1', 'yes', 'on', 'true'];
const FALSE = ['0', 'no', 'off', 'false'];

function setValue(out: Options, s: OptSpec, value: string, warn: (m: string) => void): void {
  if (!takesValue(s)) {
    const v = value.toLowerCase();
    if (TRUE.includes(v)) out[s.name] = '1';
    else if (FALSE.includes(v)) out[s.name] = '0';
    else warn(`Parse error: Ignoring option '${s.name}' because it does not have a boolean value`);
    return;
  }
  out[s.name] = value;
}

/** Parse the stdin form. Unknown keys and malformed lines are ignored with a warning. */
export function parseStdin(text: string, specs: readonly OptSpec[], warn: (m: string) => void = () => {}): Options {
  const out: Options = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    const name = (eq < 0 ? line : line.slice(0, eq)).trim();
    let value = eq < 0 ? '' : line.slice(eq + 1);
    const m = /^"(.*)"$/.exec(value);
    if (m) value = m[1];
    const hit = lookup(specs, name);
    if (!hit) {
      // `nodename` is always passed by Pacemaker; fencing.py ignores it silently too.
      if (name !== 'nodename') warn(`Parse error: Ignoring unknown option '${name}'`);
      continue;
    }
    if (eq < 0 && takesValue(hit.spec)) { warn(`Parse error: Ignoring option '${name}' because it does not have a value`); continue; }
    setValue(out, hit.spec, eq < 0 ? '1' : value, warn);
  }
  return out;
}

/** Parse the command-line form (GNU getopt: options may follow non-options; `--` ends options). */
export function parseArgv(argv: readonly string[], specs: readonly OptSpec[], warn: (m: string) => void = () => {}): Options {
  const out: Options = {};
  const extra: string[] = [];
  const set = (s: OptSpec, v: string | undefined) => {
    if (s.counter) { out[s.name] = String(Number(out[s.name] ?? '0') + 1); return; }
    out[s.name] = takesValue(s) ? (v as string) : '1';
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { extra.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const s = specs.find((x) => longOf(x) === name || (x.aliases ?? []).some((al) => al.replace(/_/g, '-') === name));
      if (!s) throw new UsageError(`Parse error: option --${name} not recognized`);
      if (takesValue(s)) {
        let v: string | undefined = eq < 0 ? undefined : a.slice(eq + 1);
        if (v === undefined) {
          if (i + 1 >= argv.length) throw new UsageError(`Parse error: option --${name} requires argument`);
          v = argv[++i];
        }
        set(s, v);
      } else {
        if (eq >= 0) throw new UsageError(`Parse error: option --${name} must not have an argument`);
        set(s, undefined);
      }
      continue;
    }
    if (a.startsWith('-') && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j];
        const s = specs.find((x) => x.short === c);
        if (!s) throw new UsageError(`Parse error: option -${c} not recognized`);
        if (takesValue(s)) {
          let v = a.slice(j + 1);
          if (!v) {
            if (i + 1 >= argv.length) throw new UsageError(`Parse error: option -${c} requires argument`);
            v = argv[++i];
          }
          set(s, v);
          break;
        }
        set(s, undefined);
      }
      continue;
    }
    extra.push(a);
  }
  if (extra.length) warn(`Unused arguments on command line: ${extra.join(' ')}`);
  return out;
}

/** Fill defaults for options not given. */
export function withDefaults(opts: Options, specs: readonly OptSpec[]): Options {
  const out: Options = { ...opts };
  for (const s of specs) if (out[s.name] === undefined && s.default !== undefined) out[s.name] = s.default;
  return out;
}

/** Check types and choices. Returns one-line reasons. */
export function typeErrors(opts: Options, specs: readonly OptSpec[]): string[] {
  const errs: string[] = [];
  for (const s of specs) {
    const v = opts[s.name];
    if (v === undefined) continue;
    if ((s.type === 'integer' || s.type === 'second') && !/^\d+(\.\d+)?$/.test(v.trim())) {
      errs.push(`Failed: ${s.name} must be a non-negative number, got '${v}'`);
    }
    if (s.type === 'select' && s.choices && !s.choices.some((c) => c.toLowerCase() === v.toLowerCase())) {
      errs.push(`Failed: ${s.name} must be one of ${s.choices.join(', ')}, got '${v}'`);
    }
  }
  return errs;
}

/** Number of seconds from an option (validated beforehand). */
export function seconds(opts: Options, name: string, dflt = 0): number {
  const v = Number(opts[name]);
  return Number.isFinite(v) ? v : dflt;
}

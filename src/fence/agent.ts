// The fence-agents API runtime: the part of fencing.py that every agent shares.
//
//   - options from the command line (getopt) or, with no arguments, from stdin;
//   - actions on/off/reboot/status/list/list-status/monitor/metadata/validate-all;
//   - exit codes as fencing.py gives them: 0 success, 1 failure (the reason is
//     one line on stderr, worded like fencing.py's EC_* messages), and for
//     `status` 0 = on, 2 = off, 1 = unknown;
//   - after on/off it polls the status until the new state shows (power_wait,
//     power_timeout); not seeing it in time is a failure;
//   - every device operation has a timeout and the whole run has a watchdog, so
//     nothing hangs: a timeout is a failure.
//
// Backends only say how to read and set the power of one plug.
import { run } from '../service/run.js';
import { writeFileAtomic } from '../service/atomic.js';
import {
  type OptSpec, type Options, UsageError, parseArgv, parseStdin, withDefaults, typeErrors, seconds,
} from './options.js';
import { ACTIONS, type Action, type AgentDocs, metadataXml, usageText } from './metadata.js';

export const EC = {
  OK: 0,
  GENERIC_ERROR: 1,
  BAD_ARGS: 2,
  LOGIN_DENIED: 3,
  CONNECTION_LOST: 4,
  TIMED_OUT: 5,
  WAITING_ON: 6,
  WAITING_OFF: 7,
  STATUS: 8,
  PASSWORD_MISSING: 10,
  INVALID_PRIVILEGES: 11,
} as const;

const MESSAGES: Record<number, string> = {
  [EC.LOGIN_DENIED]: 'Unable to connect/login to fencing device',
  [EC.CONNECTION_LOST]: 'Connection lost',
  [EC.TIMED_OUT]: 'Connection timed out',
  [EC.WAITING_ON]: 'Failed: Timed out waiting to power ON',
  [EC.WAITING_OFF]: 'Failed: Timed out waiting to power OFF',
  [EC.STATUS]: 'Failed: Unable to obtain correct plug status or plug is not available',
  [EC.PASSWORD_MISSING]: 'Failed: You have to set login password',
  [EC.INVALID_PRIVILEGES]: 'Failed: The user does not have the correct privileges to do the requested action.',
};

/** A failure with its fencing.py category. The process exit code is 1 for all of them, as in fencing.py. */
export class FenceError extends Error {
  constructor(readonly ec: number, detail?: string) {
    const base = MESSAGES[ec];
    super(base && detail ? `${base}: ${detail}` : (detail ?? base ?? 'Failed'));
  }
}

export type Power = 'on' | 'off';

export interface Outlet { id: string; alias: string; status?: Power }

export interface Backend {
  status(plug: string): Promise<Power>;
  set(plug: string, to: Power): Promise<void>;
  list?(): Promise<Outlet[]>;
  /** Cheap check that the device answers (monitor action). */
  monitor(): Promise<void>;
  close(): void | Promise<void>;
}

export interface AgentDef {
  docs: AgentDocs;
  specs: OptSpec[];
  version: string;
  /** Does this configuration need a plug for power actions? */
  needsPlug(opts: Options): boolean;
  /** Extra checks; throw FenceError or return one-line reasons. */
  validate(opts: Options): string[];
  /** Connect (lazily loads heavy modules). */
  backend(opts: Options, log: Logger): Promise<Backend>;
  /**
   * A pseudo device (like fence-agents' fence_heuristics_ping) that switches no power: it does
   * every action itself, after the common option handling, instead of a backend.
   */
  pseudo?(action: Action, opts: Options, log: Logger, io: Io): Promise<number>;
  /** Seconds added to the run's watchdog (a pseudo device's own waits). */
  extraBudgetS?(opts: Options): number;
}

export interface Io {
  out(s: string): void;
  err(s: string): void;
  readStdin(): Promise<string>;
}

export class Logger {
  private secrets: string[] = [];
  private lines: string[] = [];
  constructor(private io: Io, public level = 0, public quiet = false) {}
  addSecret(s: string | undefined): void {
    if (s) { this.secrets.push(s); this.secrets.sort((a, b) => b.length - a.length); }
  }
  mask(s: string): string {
    let t = s;
    for (const x of this.secrets) t = t.split(x).join('XXXX');
    return t;
  }
  private emit(tag: string, msg: string, always: boolean): void {
    const line = `${tag}: ${this.mask(msg)}`;
    this.lines.push(`${new Date().toISOString()} ${line}`);
    if (always ? !this.quiet : this.level > 0) this.io.err(line + '\n');
  }
  error(m: string): void { this.emit('ERROR', m, true); }
  warn(m: string): void { this.emit('WARNING', m, true); }
  info(m: string): void { this.emit('INFO', m, false); }
  debug(m: string): void { this.emit('DEBUG', m, false); }
  /** Everything logged so far (masked), for --debug-file. */
  transcript(): string { return this.lines.join('\n') + '\n'; }
}

/** Options every agent has (fencing.py's "default" and "fencing" groups). */
export const COMMON_SPECS: OptSpec[] = [
  { name: 'action', short: 'o', type: 'string', arg: 'action', default: 'reboot', required: true, shortdesc: 'Fencing action', aliases: ['option'] },
  { name: 'verbose', short: 'v', type: 'boolean', counter: true, shortdesc: 'Verbose mode. Multiple -v flags can be stacked on the command line (e.g., -vvv) to increase verbosity.' },
  { name: 'verbose_level', type: 'integer', arg: 'level', shortdesc: 'Level of debugging detail in output. Defaults to the number of --verbose flags specified on the command line, or to 1 if verbose=1 in a stonith device configuration (i.e., on stdin).' },
  { name: 'quiet', short: 'q', type: 'boolean', shortdesc: 'Disable logging to stderr. Does not affect --verbose or --debug-file.' },
  { name: 'debug_file', short: 'D', type: 'string', arg: 'debugfile', shortdesc: 'Write debug information to given file', aliases: ['debug'] },
  { name: 'version', short: 'V', type: 'boolean', shortdesc: 'Display version information and exit' },
  { name: 'help', short: 'h', type: 'boolean', shortdesc: 'Display help and exit' },
  { name: 'separator', short: 'C', type: 'string', arg: 'char', default: ',', shortdesc: 'Separator for CSV created by \'list\' operation' },
  { name: 'plug_separator', type: 'string', arg: 'char', default: ',', shortdesc: 'Separator for plug parameter when specifying more than 1 plug' },
  { name: 'delay', type: 'second', arg: 'seconds', default: '0', shortdesc: 'Wait X seconds before fencing is started' },
  { name: 'login_timeout', type: 'second', arg: 'seconds', default: '5', shortdesc: 'Wait X seconds for the device to answer one request (SNMP request, ipmitool command)' },
  { name: 'power_timeout', type: 'second', arg: 'seconds', default: '20', shortdesc: 'Test X seconds for status change after ON/OFF' },
  { name: 'power_wait', type: 'second', arg: 'seconds', default: '0', shortdesc: 'Wait X seconds after issuing ON/OFF' },
  { name: 'retry_on', type: 'integer', arg: 'attempts', default: '1', shortdesc: 'Count of attempts to retry power on' },
];

const sleep = (ms: number) => new Promise<void>((r) => { setTimeout(r, ms); });

/** Resolve the plug through pcmk_host_map ("node1:1;node2:2", also "," or space separated). */
export function mapPlug(plug: string | undefined, hostMap: string | undefined, nodename?: string): string | undefined {
  const key = plug ?? nodename;
  if (!hostMap || key === undefined) return plug;
  for (const pair of hostMap.split(/[;\s,]+/)) {
    const i = pair.indexOf(':');
    if (i <= 0) continue;
    if (pair.slice(0, i) === key) return pair.slice(i + 1);
  }
  return plug;
}

export interface RunResultCode { code: number }

/** Run the agent once; returns the exit code. Never throws. */
export async function runAgent(def: AgentDef, argv: readonly string[], io: Io): Promise<number> {
  const log = new Logger(io);
  let opts: Options = {};
  try {
    const warn = (m: string) => log.warn(m);
    let raw: Options;
    if (argv.length > 0) {
      raw = parseArgv(argv, def.specs, warn);
      raw.verbose_level ??= raw.verbose ?? '0';
      const onArgv = def.specs.filter((s) => s.secret && raw[s.name] !== undefined).map((s) => s.name);
      for (const s of def.specs) if (s.secret) log.addSecret(raw[s.name]);
      if (onArgv.length) warn(`${onArgv.join(', ')} given on the command line, where other users can read it (ps); prefer stdin or password_script`);
    } else {
      const text = await io.readStdin();
      // Secrets are masked before any warning about a malformed line can show them.
      raw = parseStdin(text, def.specs, () => {});
      for (const s of def.specs) if (s.secret) log.addSecret(raw[s.name]);
      parseStdin(text, def.specs, warn);
      raw.verbose_level ??= raw.verbose === '1' ? '1' : '0';
    }
    for (const s of def.specs) if (s.secret) log.addSecret(raw[s.name]);
    opts = withDefaults(raw, def.specs);
    log.level = Number(opts.verbose_level) || 0;
    log.quiet = opts.quiet === "1";

    if (opts.help === '1') { io.out(usageText(def.docs, def.specs)); return EC.OK; }
    if (opts.version === '1') { io.out(`${def.version}\n`); return EC.OK; }

    let action = (opts.action ?? 'reboot').toLowerCase();
    if (action === 'enable') action = 'on';
    if (action === 'disable') action = 'off';
    if (!(ACTIONS as readonly string[]).includes(action)) {
      throw new UsageError(`Failed: Unrecognised action '${opts.action}'`);
    }
    if (action === 'metadata') { io.out(metadataXml(def.docs, def.specs)); return EC.OK; }

    const errs = typeErrors(opts, def.specs);
    if (errs.length) throw new UsageError(errs[0]);
    await resolveScripts(def, opts, log);
    const more = def.validate(opts);
    if (more.length) throw new UsageError(more[0]);

    // No plug given: the host map, else the node name itself (outlets named after their nodes).
    opts.plug = (mapPlug(opts.plug, opts.pcmk_host_map, opts.nodename) ?? opts.nodename) as string;
    if (opts.plug === undefined) delete opts.plug;
    const powerAction = ['on', 'off', 'reboot', 'status'].includes(action);
    if (powerAction && def.needsPlug(opts) && !opts.plug) {
      throw new UsageError('Failed: You have to enter plug number or machine identification');
    }
    if (action === 'validate-all') return EC.OK;

    return await withWatchdog(opts, log, def.extraBudgetS?.(opts) ?? 0, () => doAction(def, action as Action, opts, log, io));
  } catch (e) {
    if (e instanceof UsageError) {
      log.error(e.message);
      log.error("Please use '-h' for usage");
      return EC.GENERIC_ERROR;
    }
    log.error(e instanceof Error ? e.message : String(e));
    return EC.GENERIC_ERROR;
  } finally {
    if (opts.debug_file) {
      try { writeFileAtomic(opts.debug_file, log.transcript(), { mode: 0o600 }); } catch (e) {
        io.err(`WARNING: cannot write debug file: ${(e as Error).message}\n`);
      }
    }
  }
}

/** password_script & co.: run the named program (no shell, no arguments) and take its first line. */
async function resolveScripts(def: AgentDef, opts: Options, log: Logger): Promise<void> {
  for (const s of def.specs) {
    if (!s.name.endsWith('_script')) continue;
    const target = s.name.slice(0, -'_script'.length);
    const prog = opts[s.name];
    if (!prog || opts[target] !== undefined) continue;
    const r = await run(prog, [], { timeoutMs: seconds(opts, 'login_timeout', 5) * 1000 + 5000 });
    if (r.code !== 0) throw new FenceError(EC.PASSWORD_MISSING, `${s.name} failed (${r.timedOut ? 'timed out' : `exit ${r.code}`})`);
    opts[target] = r.stdout.split('\n')[0].replace(/\r$/, '');
    log.addSecret(opts[target]);
  }
}

async function withWatchdog(opts: Options, log: Logger, extraS: number, work: () => Promise<number>): Promise<number> {
  const budget = seconds(opts, 'delay') + 2 * (seconds(opts, 'power_wait') + seconds(opts, 'power_timeout', 20))
    + 6 * seconds(opts, 'login_timeout', 5) + 10 + extraS;
  let timer: NodeJS.Timeout | undefined;
  const dog = new Promise<number>((resolve) => {
    timer = setTimeout(() => {
      log.error(`${MESSAGES[EC.TIMED_OUT]}: no result within ${budget} s`);
      resolve(EC.GENERIC_ERROR);
    }, budget * 1000);
  });
  try {
    return await Promise.race([work(), dog]);
  } finally {
    clearTimeout(timer);
  }
}

async function doAction(def: AgentDef, action: Action, opts: Options, log: Logger, io: Io): Promise<number> {
  if ((action === 'off' || action === 'reboot') && seconds(opts, 'delay') > 0) {
    log.info(`Delay ${opts.delay} second(s) before logging in to the fence device`);
    await sleep(seconds(opts, 'delay') * 1000);
  }
  if (def.pseudo) return def.pseudo(action, opts, log, io);
  const backend = await def.backend(opts, log);
  try {
    return await act(backend, action, opts, log, io);
  } catch (e) {
    if (e instanceof FenceError) { log.error(e.message); return EC.GENERIC_ERROR; }
    throw e;
  } finally {
    try { await backend.close(); } catch { /* closing is best effort */ }
  }
}

async function act(b: Backend, action: Action, opts: Options, log: Logger, io: Io): Promise<number> {
  const sep = opts.separator ?? ',';
  if (action === 'list' || action === 'list-status') {
    if (!b.list) { io.out('N/A\n'); return EC.OK; }
    for (const o of await b.list()) {
      const st = (o.status ?? 'unknown').toUpperCase();
      io.out(action === 'list' ? `${o.id}${sep}${o.alias}\n` : `${o.id}${sep}${o.alias}${sep}${st}\n`);
    }
    return EC.OK;
  }
  if (action === 'monitor') { await b.monitor(); return EC.OK; }

  const plugs = (opts.plug ?? '').split(opts.plug_separator || ',').map((p) => p.trim()).filter(Boolean);
  if (plugs.length === 0) plugs.push('');
  const statusAll = async (): Promise<Power> => {
    const st = await Promise.all(plugs.map((p) => b.status(p)));
    return st.includes('on') ? 'on' : 'off';
  };

  const status = await statusAll();
  log.debug(`status of '${plugs.join(',')}': ${status}`);
  if (action === 'status') {
    io.out(`Status: ${status.toUpperCase()}\n`);
    return status === 'off' ? 2 : EC.OK;
  }
  if (action === status) { io.out(`Success: Already ${status.toUpperCase()}\n`); return EC.OK; }

  if (action === 'off') {
    await setAndWait(b, plugs, 'off', opts, log);
    io.out('Success: Powered OFF\n');
    return EC.OK;
  }
  if (action === 'on') {
    await setAndWait(b, plugs, 'on', opts, log, 1 + Number(opts.retry_on ?? 1));
    io.out('Success: Powered ON\n');
    return EC.OK;
  }
  // reboot = off, verified; then on. A failed power-on does not fail the fencing (the node was fenced).
  if (status !== 'off') await setAndWait(b, plugs, 'off', opts, log);
  try {
    await setAndWait(b, plugs, 'on', opts, log, Math.max(1, Number(opts.retry_on ?? 1)));
  } catch (e) {
    log.warn(`${(e as Error).message}`);
    log.error('Timed out waiting to power ON');
  }
  io.out('Success: Rebooted\n');
  return EC.OK;
}

async function setAndWait(b: Backend, plugs: string[], to: Power, opts: Options, log: Logger, attempts = 1): Promise<void> {
  const timeoutMs = seconds(opts, 'power_timeout', 20) * 1000;
  let lastErr: unknown;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    for (const p of plugs) {
      log.info(`Setting plug '${p}' ${to.toUpperCase()}`);
      await b.set(p, to);
    }
    if (seconds(opts, 'power_wait') > 0) await sleep(seconds(opts, 'power_wait') * 1000);
    const until = Date.now() + timeoutMs;
    for (;;) {
      try {
        const st = await Promise.all(plugs.map((p) => b.status(p)));
        if (st.every((s) => s === to)) { log.info(`Plug(s) '${plugs.join(',')}' now ${to.toUpperCase()}`); return; }
        lastErr = undefined;
      } catch (e) {
        lastErr = e;
        log.debug(`status poll failed: ${(e as Error).message}`);
      }
      if (Date.now() >= until) break;
      await sleep(Math.min(500, Math.max(0, until - Date.now())));
    }
  }
  if (lastErr instanceof FenceError && lastErr.ec !== EC.TIMED_OUT) throw lastErr;
  throw new FenceError(to === 'on' ? EC.WAITING_ON : EC.WAITING_OFF);
}

/** Entry for an agent file: run, then exit with the code (closes sockets a backend may have left). */
export function main(def: AgentDef): void {
  const io: Io = {
    out: (s) => { process.stdout.write(s); },
    err: (s) => { process.stderr.write(s); },
    readStdin: () => new Promise((resolve) => {
      if (process.stdin.isTTY) { resolve(''); return; }
      let data = '';
      process.stdin.setEncoding('utf8');
      process.stdin.on('data', (c) => { data += c; });
      process.stdin.on('end', () => resolve(data));
      process.stdin.on('error', () => resolve(data));
    }),
  };
  process.stdout.on('error', () => { /* EPIPE: the reader went away */ });
  // The fencer kills an agent that overruns its timeout: exit through process.exit so that
  // backends' exit hooks (e.g. removing a password file) still run.
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(sig, () => { process.stderr.write(`ERROR: stopped by ${sig}\n`); process.exit(EC.GENERIC_ERROR); });
  }
  runAgent(def, process.argv.slice(2), io).then((code) => {
    process.stdout.write('', () => process.exit(code));
  }, (e) => {
    process.stderr.write(`ERROR: ${(e as Error).message}\n`);
    process.exit(EC.GENERIC_ERROR);
  });
}

// The OCF runtime: an agent is a declaration plus callbacks; this file does the rest
// once for all agents (env parsing, validation, meta-data, dispatch, probes, check
// levels, timeouts, exit reasons, logging, exit codes).
//
//   export default defineAgent({ name, version, shortdesc, longdesc, params, actions,
//                                binaries, start, stop, monitor, validate, ... })
//
// Callbacks get a Context and return an OCF code (or nothing, meaning success), or throw
// OcfError(code, reason). Any other exception becomes OCF_ERR_GENERIC with its message as
// the exit reason: never a stack trace (unless HA_debug=1).
import { OCF, OcfError, codeName, type OcfCode } from './codes';
import { createLogger, oneLine, type Logger } from './log';
import { parseParams, ParamError, type ParamSpecs, type Params } from './params';
import { renderMetadata, type ActionSpec } from './metadata';
import { which } from '../service/which';
import { readFileSync } from 'node:fs';
import { DESCRIBE_ENV, forget, prologue, record, withPrologue, type WatchedProcess } from './fastpath';

export type Result = OcfCode | void;

export interface Context<S extends ParamSpecs> {
  params: Params<S>;
  action: string;
  /** OCF_RESOURCE_INSTANCE, e.g. "snmp" or "ntp:1" */
  instance: string;
  /** The instance name made safe for a file name ("ntp:1" -> "ntp-1"). */
  instanceId: string;
  /** OCF_CHECK_LEVEL (0 when unset). Agents treat it as "at least": >= 10, >= 20. */
  checkLevel: number;
  /** A monitor with interval 0: Pacemaker asking "is it running here?" */
  isProbe: boolean;
  /** OCF_RESKEY_CRM_meta_interval in ms (0 for probes and non-recurring actions). */
  intervalMs: number;
  /** The action's time budget in ms (OCF_RESKEY_CRM_meta_timeout, or the declared default). */
  timeoutMs: number;
  /** ms left before the runtime gives up on this action (a safety margin before Pacemaker's kill). */
  remaining(): number;
  /** Absolute path of a declared binary. */
  bin(name: string): string;
  log: Logger;
  env: NodeJS.ProcessEnv;
}

export interface AgentSpec<S extends ParamSpecs> {
  name: string;
  version: string;
  shortdesc: string;
  longdesc: string;
  params: S;
  /** Default timeouts (s) and monitor intervals/depths advertised in meta-data. */
  timeouts?: { start?: number; stop?: number; monitor?: number; validate?: number; reload?: number; promote?: number; demote?: number; notify?: number };
  /** Recommended monitor operations: depth (OCF_CHECK_LEVEL) and interval in seconds. */
  monitors?: { depth: number; interval: number; timeout?: number; role?: string }[];
  /** Executables needed; checked before start/monitor/validate-all. */
  binaries?: (params: Params<S>) => string[];
  /**
   * What the level-0 monitor looks at: at level 0 the monitor says "running" exactly when every
   * pidfile names a live process that runs its exe (src/service/daemon.ts runningPid), and the
   * parameters validate and the binaries are there. Declared, the agent gets a sh fast path
   * for recurring level-0 monitors (src/ocf/fastpath.ts). undefined: no fast path (for these
   * parameters).
   */
  processes?: (ctx: Context<S>) => WatchedProcess[] | undefined;
  /** Must run as root (start/stop/monitor/validate-all). */
  needsRoot?: boolean;
  /** Extra checks beyond parameter types: run for validate-all and before start. */
  validate?: (ctx: Context<S>) => Promise<Result> | Result;
  start: (ctx: Context<S>) => Promise<Result>;
  stop: (ctx: Context<S>) => Promise<Result>;
  monitor: (ctx: Context<S>) => Promise<Result>;
  /** OCF 1.1 reload-agent: apply reloadable parameters without a restart. */
  reload?: (ctx: Context<S>) => Promise<Result>;
  promote?: (ctx: Context<S>) => Promise<Result>;
  demote?: (ctx: Context<S>) => Promise<Result>;
  notify?: (ctx: Context<S>) => Promise<Result>;
}

export interface Agent<S extends ParamSpecs> {
  spec: AgentSpec<S>;
  metadata(): string;
  /** Run one action; resolves to the exit code. Never throws. */
  run(argv: string[], env?: NodeJS.ProcessEnv): Promise<number>;
  /** Entry point of the single-file build: runs process.argv and exits. */
  main(): void;
}

const SAFETY_MARGIN_MS = 1500;

function actionsOf<S extends ParamSpecs>(spec: AgentSpec<S>): ActionSpec[] {
  const t = spec.timeouts ?? {};
  const mons = spec.monitors ?? [{ depth: 0, interval: 10 }];
  const a: ActionSpec[] = [
    { name: 'start', timeout: t.start ?? 20 },
    { name: 'stop', timeout: t.stop ?? 20 },
    ...mons.map((m) => ({ name: 'monitor', timeout: m.timeout ?? t.monitor ?? 20, interval: m.interval, depth: m.depth, role: m.role })),
  ];
  if (spec.reload) a.push({ name: 'reload-agent', timeout: t.reload ?? 20 });
  if (spec.promote) a.push({ name: 'promote', timeout: t.promote ?? 20 });
  if (spec.demote) a.push({ name: 'demote', timeout: t.demote ?? 20 });
  if (spec.notify) a.push({ name: 'notify', timeout: t.notify ?? 20 });
  a.push({ name: 'meta-data', timeout: 5 }, { name: 'validate-all', timeout: t.validate ?? 20 });
  return a;
}

export function defineAgent<S extends ParamSpecs>(spec: AgentSpec<S>): Agent<S> {
  const actions = actionsOf(spec);
  const metadata = () => renderMetadata({ ...spec, actions });
  const usage = () => `usage: ${spec.name} {${[...new Set(actions.map((a) => a.name)), 'usage'].join('|')}}\n`;

  async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
    const action = argv[0];
    const out = (s: string) => { process.stdout.write(s); };
    if (action === 'meta-data') { out(metadata()); return OCF.SUCCESS; }
    if (action === 'usage' || action === 'help' || action === '--help') { out(usage()); return OCF.SUCCESS; }
    const log = createLogger({ OCF_RESOURCE_TYPE: spec.name, ...env });
    if (action === undefined || argv.length > 1) { process.stderr.write(usage()); return OCF.ERR_ARGS; }

    const callbacks: Record<string, ((ctx: Context<S>) => Promise<Result> | Result) | undefined> = {
      start: spec.start, stop: spec.stop, monitor: spec.monitor, status: spec.monitor,
      'validate-all': async () => OCF.SUCCESS,
      'reload-agent': spec.reload, promote: spec.promote, demote: spec.demote, notify: spec.notify,
    };
    const cb = callbacks[action];
    if (!cb) { process.stderr.write(usage()); return OCF.ERR_UNIMPLEMENTED; }
    const act = action === 'status' ? 'monitor' : action;
    // the fast path's record holds only while nothing but monitors ran since it was written
    if (spec.processes && act !== 'monitor' && act !== 'validate-all') forget(spec.name, env);

    const intervalMs = Number(env.OCF_RESKEY_CRM_meta_interval ?? 0) || 0;
    const isProbe = act === 'monitor' && intervalMs === 0;
    const declared = actions.find((a) => a.name === act)?.timeout ?? 20;
    const metaTimeout = Number(env.OCF_RESKEY_CRM_meta_timeout);
    const timeoutMs = Number.isFinite(metaTimeout) && metaTimeout > 0 ? metaTimeout : declared * 1000;
    const margin = Math.min(SAFETY_MARGIN_MS, timeoutMs * 0.1);
    const deadline = Date.now() + timeoutMs - margin;
    const lvl = Number.parseInt(env.OCF_CHECK_LEVEL ?? '0', 10);
    const instance = env.OCF_RESOURCE_INSTANCE || 'default';

    // 1. parameters
    let params: Params<S>;
    let warned = false;
    try {
      const parsed = parseParams(spec.params, env);
      params = parsed.values;
      for (const w of parsed.warnings) { log.warn(w); warned = true; }
    } catch (e) {
      if (!(e instanceof ParamError)) throw e;
      if (act === 'stop') {
        // Nothing can have been started with parameters that do not validate (start
        // validates them first), so the service is stopped as far as these say.
        log.warn(`stop: ${e.message}; nothing can be running with these parameters`);
        return OCF.SUCCESS;
      }
      log.exitReason(e.message);
      return OCF.ERR_CONFIGURED;
    }

    // 2. privileges and binaries
    if (spec.needsRoot && typeof process.getuid === 'function' && process.getuid() !== 0) {
      log.exitReason(`${spec.name} must run as root`);
      return OCF.ERR_PERM;
    }
    const bins = new Map<string, string>();
    for (const b of spec.binaries?.(params) ?? []) {
      const path = which(b, env);
      if (path) { bins.set(b, path); continue; }
      if (act === 'stop') { log.info(`stop: ${b} is not installed, so nothing can be running`); return OCF.SUCCESS; }
      if (isProbe) { log.info(`probe: ${b} is not installed here: not running`); return OCF.NOT_RUNNING; }
      log.exitReason(`${b} is not installed (not found in PATH or sbin)`);
      return OCF.ERR_INSTALLED;
    }

    const ctx: Context<S> = {
      params, action: act, instance,
      instanceId: instance.replace(/[^A-Za-z0-9_.-]/g, '-'),
      checkLevel: Number.isFinite(lvl) && lvl > 0 ? lvl : 0,
      isProbe, intervalMs, timeoutMs,
      remaining: () => Math.max(0, deadline - Date.now()),
      bin: (name) => {
        const p = bins.get(name);
        if (!p) throw new OcfError(OCF.ERR_INSTALLED, `${name} is not installed`);
        return p;
      },
      log, env,
    };

    // 3. the action, inside the deadline
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<number>((resolve) => {
      timer = setTimeout(() => {
        log.exitReason(`${act} did not finish within ${Math.round(timeoutMs / 1000)}s`);
        resolve(OCF.ERR_GENERIC);
      }, Math.max(0, deadline - Date.now()));
    });
    const body = (async (): Promise<number> => {
      try {
        if (spec.validate && (act === 'validate-all' || act === 'start')) {
          const v = await spec.validate(ctx);
          if (v !== undefined && v !== OCF.SUCCESS) return v;
        }
        const r = await cb(ctx);
        return r === undefined ? OCF.SUCCESS : r;
      } catch (e) {
        if (e instanceof OcfError) { log.exitReason(e.message); return e.code; }
        log.exitReason(`${act} failed: ${oneLine(e instanceof Error ? e.message : String(e))}`);
        if (log.debugEnabled && e instanceof Error && e.stack) log.debug(e.stack);
        return OCF.ERR_GENERIC;
      }
    })();
    const code = await Promise.race([body, timedOut]);
    clearTimeout(timer);
    if (spec.processes && act === 'monitor') {
      try {
        // a monitor that warns must keep warning: only a silent success is recorded for sh
        if (code === OCF.SUCCESS && !warned) record(spec.name, Object.keys(spec.params), env, [...bins.values()], spec.processes(ctx));
        else forget(spec.name, env);
      } catch (e) {
        log.debug(`fast-path record: ${oneLine(e instanceof Error ? e.message : String(e))}`);
        forget(spec.name, env);
      }
    }
    if (act !== 'monitor' || code !== OCF.SUCCESS && code !== OCF.NOT_RUNNING) {
      log.debug(`${act}: ${codeName(code)}`);
    }
    return code;
  }

  return {
    spec,
    metadata,
    run,
    main() {
      if (process.env[DESCRIBE_ENV] === '1') {
        // scripts/build.mjs asks for this agent's file with its sh prologue (src/ocf/fastpath.ts), if it has one
        if (spec.processes) process.stdout.write(withPrologue(prologue(spec.name, Object.keys(spec.params)), readFileSync(process.argv[1]!, 'utf8')));
        return;
      }
      run(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (e: unknown) => {
          process.stderr.write(`ocf-exit-reason:internal error: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
          process.exit(OCF.ERR_GENERIC);
        },
      );
    },
  };
}

export { OCF, OcfError, fail } from './codes';
export { p, splitList, checkAddressList, checkAbsolutePath, isIP, isIPv4, isIPv6 } from './params';

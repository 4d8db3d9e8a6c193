// A thin writer/reader of Pacemaker node attributes through attrd_updater (transient,
// status-section attributes: they vanish when the node leaves the cluster).
//
//   attrd_updater -n NAME -U VALUE [-d DAMPEN]   publish (attrd writes it after DAMPEN)
//   attrd_updater -n NAME -D [-d DAMPEN]         delete
//   attrd_updater -n NAME -Q                     read this node's value
//
// The runner is injectable so that the decisions can be tested without a cluster.
import { readFileSync, unlinkSync } from 'node:fs';
import { writeFileAtomic } from '../service/atomic';
import { run, describeFailure, type RunOptions, type RunResult } from '../service/run';

export type Runner = (cmd: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;

/** attrd_updater's exit code when no pacemaker-attrd is running (CRM_EX_NOT_CONNECTED). */
export const ATTRD_NOT_CONNECTED = 102;

/** Node attribute names attrd accepts: letters, digits, "#" (health), "-", "_", ".". */
export const ATTR_NAME = /^#?[A-Za-z][A-Za-z0-9_.-]{0,99}$/;

export class AttrdError extends Error {
  constructor(message: string, readonly code: number) {
    super(message);
    this.name = 'AttrdError';
  }
  /** No attrd here (Pacemaker not running): there is nothing to clear either. */
  get notConnected(): boolean { return this.code === ATTRD_NOT_CONNECTED; }
}

export interface AttrdOptions {
  /** Absolute path of attrd_updater (the agent's ctx.bin('attrd_updater')). */
  bin?: string;
  runner?: Runner;
  timeoutMs?: number;
}

/** Pacemaker dampening ("5s", "500ms", "0") from seconds. */
export const dampenArg = (seconds: number) => `${Math.max(0, Math.round(seconds))}s`;

export class Attrd {
  private readonly bin: string;
  private readonly runner: Runner;
  private readonly timeoutMs: number;

  constructor(opts: AttrdOptions = {}) {
    this.bin = opts.bin ?? 'attrd_updater';
    this.runner = opts.runner ?? run;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  private async call(args: string[], what: string): Promise<RunResult> {
    const r = await this.runner(this.bin, args, { timeoutMs: this.timeoutMs });
    if (r.code !== 0) throw new AttrdError(`${what}: ${describeFailure('attrd_updater', r)}`, r.code);
    return r;
  }

  async update(name: string, value: string, dampenSeconds?: number): Promise<void> {
    checkName(name);
    const args = ['-n', name, '-U', value];
    if (dampenSeconds !== undefined) args.push('-d', dampenArg(dampenSeconds));
    await this.call(args, `cannot set node attribute ${name}=${value}`);
  }

  async remove(name: string, dampenSeconds?: number): Promise<void> {
    checkName(name);
    const args = ['-n', name, '-D'];
    if (dampenSeconds !== undefined) args.push('-d', dampenArg(dampenSeconds));
    await this.call(args, `cannot delete node attribute ${name}`);
  }

  /** This node's value, or undefined when the attribute is not set. */
  async query(name: string): Promise<string | undefined> {
    checkName(name);
    const r = await this.runner(this.bin, ['-n', name, '-Q'], { timeoutMs: this.timeoutMs });
    if (r.code === 105 /* CRM_EX_NOSUCH */ || r.code === 6 /* older: ENXIO */) return undefined;
    if (r.code !== 0) throw new AttrdError(`cannot read node attribute ${name}: ${describeFailure('attrd_updater', r)}`, r.code);
    return parseQuery(r.stdout);
  }
}

/** `name="x" host="h" value="v"` -> v (undefined when attrd knows the name without a value). */
export function parseQuery(stdout: string): string | undefined {
  const m = /\bvalue="([^"]*)"/.exec(stdout);
  if (!m || m[1] === '(null)') return undefined;
  return m[1];
}

function checkName(name: string): void {
  if (!ATTR_NAME.test(name)) throw new AttrdError(`invalid node attribute name ${JSON.stringify(name.slice(0, 40))}`, 2);
}

// ---- what a health monitor has published ------------------------------------------------
// A clone that reports through node attributes keeps, in a small state file under /run,
// the values it last published. The file's existence is the resource's "started" state
// (as ocf-shellfuncs' ha_pseudo_resource), and monitors publish only what changed.

export interface Published { attrs: Record<string, string>; since: Record<string, number> }

export function readPublished(path: string): Published | undefined {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch { return undefined; }
  try {
    const j = JSON.parse(text) as Partial<Published>;
    return { attrs: { ...(j.attrs ?? {}) }, since: { ...(j.since ?? {}) } };
  } catch {
    return { attrs: {}, since: {} }; // started, but nothing known to be published: republish all
  }
}

function writePublished(path: string, p: Published): void {
  writeFileAtomic(path, `${JSON.stringify(p)}\n`, { mode: 0o644, mkdir: true });
}

export interface PublishResult {
  /** Names whose value was (re)written. */
  changed: string[];
  /** Names deleted because they are no longer wanted. */
  removed: string[];
}

/**
 * Make attrd hold `want` for this node: write the names whose value differs from the last
 * published one (all of them with `force`), delete names no longer wanted, and record the
 * result in `statePath` (which also marks the monitor as started). A failed write is not
 * recorded, so the next monitor retries it; the first failure is thrown after the others ran.
 */
export async function publish(attrd: Attrd, statePath: string, want: Record<string, string>, opts: { dampenSeconds?: number; force?: boolean } = {}): Promise<PublishResult> {
  const prev = readPublished(statePath) ?? { attrs: {}, since: {} };
  const next: Published = { attrs: { ...prev.attrs }, since: { ...prev.since } };
  const res: PublishResult = { changed: [], removed: [] };
  let firstError: unknown;
  for (const [name, value] of Object.entries(want)) {
    if (!opts.force && prev.attrs[name] === value) continue;
    try {
      await attrd.update(name, value, opts.dampenSeconds);
      next.attrs[name] = value;
      next.since[name] = Date.now();
      res.changed.push(name);
    } catch (e) {
      delete next.attrs[name];
      firstError ??= e;
    }
  }
  for (const name of Object.keys(prev.attrs)) {
    if (name in want) continue;
    try {
      await attrd.remove(name, opts.dampenSeconds);
      delete next.attrs[name];
      delete next.since[name];
      res.removed.push(name);
    } catch (e) {
      if (!(e instanceof AttrdError && e.notConnected)) firstError ??= e;
    }
  }
  writePublished(statePath, next);
  if (firstError) throw firstError;
  return res;
}

/**
 * Delete everything this monitor published (plus `also`) and forget the state file.
 * No attrd (Pacemaker not running) means nothing is held: that counts as done.
 */
export async function unpublish(attrd: Attrd, statePath: string, also: string[] = []): Promise<string[]> {
  const prev = readPublished(statePath);
  const names = [...new Set([...also, ...Object.keys(prev?.attrs ?? {})])];
  const removed: string[] = [];
  for (const name of names) {
    try {
      await attrd.remove(name);
      removed.push(name);
    } catch (e) {
      if (e instanceof AttrdError && e.notConnected) continue;
      throw e;
    }
  }
  try { unlinkSync(statePath); } catch { /* already gone */ }
  return removed;
}

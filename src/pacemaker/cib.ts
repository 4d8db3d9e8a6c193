// Thin reader/writer of the CIB through Pacemaker's own tools.
// `cibFile` points the tools at a CIB file instead of the live cluster
// (Pacemaker's and crmsh's CIB_file): offline tests and dry runs use it.
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { run, runOk, describeFailure } from '../service/run';

export interface CibTarget { cibFile?: string }

function env(t: CibTarget): Record<string, string> | undefined {
  return t.cibFile ? { CIB_file: t.cibFile } : undefined;
}

/** The whole CIB as XML text (`cibadmin --query`). */
export async function queryCib(t: CibTarget = {}): Promise<string> {
  const r = await runOk('cibadmin', ['--query'], { env: env(t), timeoutMs: 30_000 });
  return r.stdout;
}

export interface CibVersion { adminEpoch: number; epoch: number; numUpdates: number }

/** The version counters from the <cib> element of a CIB text. */
export function cibVersion(xml: string): CibVersion {
  const m = /<cib\b[^>]*>/.exec(xml);
  if (!m) throw new Error('not a CIB: no <cib> element');
  const attr = (n: string) => {
    const a = new RegExp(`\\s${n}="(\\d+)"`).exec(m[0]);
    return a ? Number(a[1]) : 0;
  };
  return { adminEpoch: attr('admin_epoch'), epoch: attr('epoch'), numUpdates: attr('num_updates') };
}

/**
 * `crm configure load update -` with the text on stdin. `force` adds crmsh's -F
 * (commit although crmsh cannot find an agent's meta-data, e.g. agents not
 * installed on the machine that runs it).
 *
 * With `remove`, one crmsh session instead (the script on stdin, the text in a
 * private temporary file): `delete --force` of those ids, then `load update`, then
 * one `commit`, so the deletions and the update reach the CIB as one change. crmsh
 * will not delete a running resource: --force has it set target-role=Stopped and
 * wait for the cluster first (a commit of its own), as an admin's `crm configure
 * delete --force` would.
 */
export async function crmLoadUpdate(text: string, t: CibTarget & { force?: boolean; remove?: string[] } = {}): Promise<void> {
  const opts = [...(t.force ? ['-F'] : [])];
  const remove = t.remove ?? [];
  const bad = remove.find((id) => !/^[A-Za-z_][\w.:-]*$/.test(id));
  if (bad !== undefined) throw new Error(`crm configure delete: refusing the id ${JSON.stringify(bad)} (not an XML id)`);
  const dir = remove.length ? mkdtempSync(join(tmpdir(), 'ha-oscar-crm-')) : undefined;
  try {
    let r;
    if (dir) {
      const file = join(dir, 'update.crm');
      writeFileSync(file, text, { mode: 0o600 });
      r = await run('crm', opts, { input: `configure\ndelete --force ${remove.join(' ')}\nload update ${file}\ncommit\n`, env: env(t), timeoutMs: 180_000 });
    } else {
      r = await run('crm', [...opts, 'configure', 'load', 'update', '-'], { input: text, env: env(t), timeoutMs: 120_000 });
    }
    // crmsh exits 0 on success; on failure its reason is an ERROR: line.
    if (r.code !== 0) {
      const err = (r.stderr + r.stdout).split('\n').map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim()).filter((l) => /^ERROR:/.test(l));
      throw new Error(err.length ? `crm configure load update: ${err[err.length - 1]}` : describeFailure('crm', r));
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}

/** `crm_verify` on a CIB given as text (stdin). Returns the one-line problems, empty when clean. */
export async function verifyCib(xml: string): Promise<{ ok: boolean; problems: string[] }> {
  const r = await run('crm_verify', ['--xml-pipe', '-V'], { input: xml, timeoutMs: 60_000 });
  if (r.spawnError) throw new Error(describeFailure('crm_verify', r));
  const problems = (r.stderr + r.stdout).split('\n').map((l) => l.trim()).filter(Boolean);
  return { ok: r.code === 0, problems };
}

/** Whether an executable `bin` is in a directory of $PATH (what run() would find). */
export function onPath(bin: string): boolean {
  for (const d of (process.env.PATH ?? '').split(delimiter)) {
    if (!d) continue;
    try { accessSync(join(d, bin), constants.X_OK); return true; } catch { /* next */ }
  }
  return false;
}

/**
 * `crm_diff` of two CIB texts: the patch (format 2, with the source and target
 * versions) that turns `original` into `wanted`, or undefined when they are the
 * same. The texts go through a private temporary directory, not argv (a CIB can
 * be larger than one argument may be).
 */
export async function diffCib(original: string, wanted: string): Promise<string | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'ha-oscar-diff-'));
  try {
    writeFileSync(join(dir, 'original.xml'), original, { mode: 0o600 });
    writeFileSync(join(dir, 'new.xml'), wanted, { mode: 0o600 });
    const r = await run('crm_diff', ['--original', join(dir, 'original.xml'), '--new', join(dir, 'new.xml')], { timeoutMs: 60_000 });
    // crm_diff exits 0 when the two are the same, 1 when it printed a patch
    if (r.code === 0) return undefined;
    if (r.code === 1 && r.stdout.includes('<diff')) return r.stdout;
    throw new Error(describeFailure('crm_diff', r));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** cibadmin refused a patch: the CIB's version moved after the patch's source was read. */
export class CibChangedError extends Error {}

/**
 * Whether cibadmin's output says it refused a patch because the CIB is no longer the patch's
 * source (its version moved, or its content no longer matches): read again and make the patch
 * anew, rather than give up.
 */
export function patchRefused(output: string): boolean {
  return /older than existing|does not match|Application of an update diff failed/i.test(output);
}

/**
 * `cibadmin --patch` with a crm_diff patch on stdin: one write. The CIB refuses
 * the patch when its version is no longer the patch's source version (someone
 * changed the CIB after it was read): CibChangedError.
 */
export async function patchCib(patch: string, t: CibTarget = {}): Promise<void> {
  const r = await run('cibadmin', ['--patch', '--xml-pipe'], { input: patch, env: env(t), timeoutMs: 120_000 });
  if (r.code !== 0) {
    const why = (r.stderr + r.stdout).split('\n').map((l) => l.trim()).filter(Boolean).pop();
    if (why && patchRefused(r.stderr + r.stdout)) throw new CibChangedError(`cibadmin --patch: the CIB changed while apply ran (${why}); run apply again`);
    throw new Error(why ? `cibadmin --patch: ${why}` : describeFailure('cibadmin', r));
  }
}

/** A CIB text and what it should become: the two ends of one crm_diff patch. */
export interface CibEdit { original: string; merged: string }

export interface PatchLoop {
  /** The CIB as it is now (what `edit` is made from on a retry). */
  read(): Promise<string>;
  /** Writes one patch; throws CibChangedError when the CIB refused it as stale. */
  write(patch: string): Promise<void>;
  /** The edit for a CIB text. */
  edit(cib: string): Promise<CibEdit>;
  /** The edit of the first try, already made (and checked) by the caller. */
  first: CibEdit;
  /** The CIB text `first` was made from: with keepEpoch, its version is the reference. */
  firstCib: string;
  /** Refuse (never overwrite) when the configuration's epoch moved: someone else changed it. */
  keepEpoch?: boolean;
  /** Tries in all (default 5), and the pause before each retry (default 0). */
  tries?: number;
  pauseMs?: number;
  /** Tests only: runs before each write (to change the CIB in between). */
  beforeWrite?: (attempt: number) => Promise<void>;
}

/**
 * One write of the CIB as a crm_diff patch, retried from a fresh read when cibadmin refuses it as
 * stale. A patch carries the version it was made from, so a status update (a monitor result, a
 * node attribute: num_updates moves all the time on a live cluster) between the read and the
 * write makes it stale: then the same edit is made again against the CIB as it is now. With
 * keepEpoch, a moved epoch (a configuration change by someone else) is refused in one line
 * instead. Returns false when there was nothing to write.
 */
export async function patchWithRetry(l: PatchLoop): Promise<boolean> {
  const tries = l.tries ?? 5;
  let current = l.first;
  for (let attempt = 1; ; attempt++) {
    const patch = await diffCib(current.original, current.merged);
    if (!patch) return false;
    await l.beforeWrite?.(attempt);
    try {
      await l.write(patch);
      return true;
    } catch (e) {
      if (!(e instanceof CibChangedError) || attempt >= tries) throw e;
    }
    if (l.pauseMs) await new Promise((r) => setTimeout(r, l.pauseMs));
    const now = await l.read();
    if (l.keepEpoch) {
      const [v0, v1] = [cibVersion(l.firstCib), cibVersion(now)];
      if (v1.adminEpoch !== v0.adminEpoch || v1.epoch !== v0.epoch) {
        throw new Error(`cibadmin --patch: the configuration changed while apply ran (epoch ${v0.adminEpoch}.${v0.epoch} -> ${v1.adminEpoch}.${v1.epoch}); run apply again`);
      }
    }
    current = await l.edit(now);
  }
}

// Thin reader/writer of the CIB through Pacemaker's own tools.
// `cibFile` points the tools at a CIB file instead of the live cluster
// (Pacemaker's and crmsh's CIB_file): offline tests and dry runs use it.
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
 */
export async function crmLoadUpdate(text: string, t: CibTarget & { force?: boolean } = {}): Promise<void> {
  const args = [...(t.force ? ['-F'] : []), 'configure', 'load', 'update', '-'];
  const r = await run('crm', args, { input: text, env: env(t), timeoutMs: 120_000 });
  // crmsh exits 0 on success; on failure its reason is an ERROR: line.
  if (r.code !== 0) {
    const err = (r.stderr + r.stdout).split('\n').map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').trim()).filter((l) => /^ERROR:/.test(l));
    throw new Error(err.length ? `crm configure load update: ${err[err.length - 1]}` : describeFailure('crm', r));
  }
}

/** `crm_verify` on a CIB given as text (stdin). Returns the one-line problems, empty when clean. */
export async function verifyCib(xml: string): Promise<{ ok: boolean; problems: string[] }> {
  const r = await run('crm_verify', ['--xml-pipe', '-V'], { input: xml, timeoutMs: 60_000 });
  if (r.spawnError) throw new Error(describeFailure('crm_verify', r));
  const problems = (r.stderr + r.stdout).split('\n').map((l) => l.trim()).filter(Boolean);
  return { ok: r.code === 0, problems };
}

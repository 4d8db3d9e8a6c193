// md RAID health: what each array's state means for the node (green / yellow / red).
// Parsing of /proc/mdstat is shared with the SNMP side (src/pacemaker/mdstat.ts); this adds
// the failed-vs-degraded judgement per RAID level, rebuild progress, `mdadm --detail`
// and `smartctl -H`. No OCF knowledge.
import { parseMdstat, type RaidArray } from '../pacemaker/mdstat';
import { run, type RunOptions, type RunResult } from '../service/run';

export { parseMdstat };
export type Health = 'green' | 'yellow' | 'red';
export type ArrayStatus = 'clean' | 'degraded' | 'recovering' | 'resyncing' | 'checking' | 'reshaping' | 'failed' | 'inactive' | 'missing';

export interface ArrayHealth {
  name: string;
  status: ArrayStatus;
  health: Health;
  /** The per-array attribute value, e.g. "recovering raid1 [2/1] [U_] 12.6%". */
  value: string;
}

/** Progress of a running recovery/resync/reshape/check per array, e.g. { md0: "12.6%" }. */
export function mdstatProgress(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let cur: string | undefined;
  for (const line of text.split('\n')) {
    const h = /^(md\w+)\s*:/.exec(line);
    if (h) { cur = h[1]; continue; }
    const p = /\b(?:recovery|resync|reshape|check|repair)\s*=\s*([\d.]+%|DELAYED|PENDING)/.exec(line);
    if (cur && p) out[cur] = p[1]!;
  }
  return out;
}

/** Fewest working members a level needs to serve data. */
function minWorking(level: string, total: number): number {
  switch (level) {
    case 'raid1': case 'multipath': return 1;
    case 'raid4': case 'raid5': return total - 1;
    case 'raid6': return total - 2;
    case 'raid10': return Math.ceil(total / 2); // near-2 layout; mdadm --detail is the authority
    default: return total; // raid0, linear: every member
  }
}

export interface MdadmDetail { state: string; failedDevices?: number }

/** `mdadm --detail /dev/mdX`: the "State :" line and "Failed Devices :". */
export function parseMdadmDetail(text: string): MdadmDetail | undefined {
  const st = /^\s*State\s*:\s*(.+?)\s*$/m.exec(text);
  if (!st) return undefined;
  const f = /^\s*Failed Devices\s*:\s*(\d+)/m.exec(text);
  return { state: st[1]!, failedDevices: f ? Number(f[1]) : undefined };
}

export function classify(a: RaidArray | undefined, name: string, progress?: string, detail?: MdadmDetail): ArrayHealth {
  if (!a) return { name, status: 'missing', health: 'red', value: 'failed: not in mdstat' };
  const t = a.state.split(' ');
  if (t[0] === 'inactive') return { name, status: 'inactive', health: 'red', value: `inactive${t[1] ? ` ${t[1]}` : ''}` };
  const level = t.find((x) => /^(raid\d+|linear|multipath)$/.test(x)) ?? 'unknown';
  const cnt = /\[(\d+)\/(\d+)\]/.exec(a.state);
  const map = /\[([U_]+)\]/.exec(a.state)?.[1];
  const action = t.find((x) => /^(recovery|resync|reshape|check)$/.test(x));
  const total = cnt ? Number(cnt[1]) : undefined;
  const working = cnt ? Number(cnt[2]) : undefined;
  let status: ArrayStatus = 'clean';
  if (total !== undefined && working !== undefined && working < minWorking(level, total)) status = 'failed';
  else if (a.degraded || (map?.includes('_') ?? false)) status = action === 'recovery' ? 'recovering' : 'degraded';
  else if (action === 'resync') status = 'resyncing';
  else if (action === 'reshape') status = 'reshaping';
  else if (action === 'check') status = 'checking';
  if (detail) {
    if (/FAILED|Not Started/i.test(detail.state)) status = 'failed';
    else if (/degraded/i.test(detail.state) && status !== 'failed' && status !== 'recovering') status = 'degraded';
  }
  const health: Health = status === 'failed' ? 'red' : status === 'degraded' || status === 'recovering' ? 'yellow' : 'green';
  const parts = [status, level, cnt ? `[${cnt[1]}/${cnt[2]}]` : '', map ? `[${map}]` : '', action && progress ? `${action} ${progress}` : ''];
  return { name, status, health, value: parts.filter(Boolean).join(' ') };
}

export const worst = (hs: Health[]): Health => (hs.includes('red') ? 'red' : hs.includes('yellow') ? 'yellow' : 'green');

/**
 * Health of the named arrays (all arrays in mdstat when `names` is empty). A named array
 * absent from mdstat is "missing" (red): md stops an array that lost too many members.
 */
export function arraysHealth(mdstatText: string | undefined, names: string[], details: Record<string, MdadmDetail> = {}): ArrayHealth[] {
  const arrays = mdstatText === undefined ? [] : parseMdstat(mdstatText);
  const prog = mdstatText === undefined ? {} : mdstatProgress(mdstatText);
  const want = names.length ? names : arrays.map((a) => a.name);
  return want.map((n) => classify(arrays.find((a) => a.name === n), n, prog[n], details[n]));
}

// ---- SMART ------------------------------------------------------------------------------

export type Runner = (cmd: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;
export interface SmartResult { device: string; health: Health; reason: string }

/**
 * `smartctl -H -n standby,0 DEV`. Exit status bits (smartctl(8)): 3 = "DISK FAILING",
 * 4 = a pre-failure attribute at or below threshold -> yellow; 1/2 = could not open the
 * device or SMART command failed -> green with a reason (an unreadable disk is reported, it
 * does not move services); a disk asleep is skipped (exit 0, not woken up).
 */
export async function smartHealth(device: string, o: { smartctl?: string; runner?: Runner; timeoutMs?: number } = {}): Promise<SmartResult> {
  const r = await (o.runner ?? run)(o.smartctl ?? 'smartctl', ['-H', '-n', 'standby,0', device], { timeoutMs: o.timeoutMs ?? 15_000, cleanEnv: true, env: { LC_ALL: 'C' } });
  if (r.spawnError) return { device, health: 'green', reason: `${device}: cannot run smartctl: ${r.spawnError}` };
  if (r.timedOut) return { device, health: 'green', reason: `${device}: smartctl timed out` };
  const c = r.code < 0 ? 0 : r.code;
  if (c & 8) return { device, health: 'yellow', reason: `${device}: SMART says the disk is failing` };
  if (c & 16) return { device, health: 'yellow', reason: `${device}: SMART pre-failure attribute at or below threshold` };
  if (c & 7) {
    const last = (r.stdout + r.stderr).split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
    return { device, health: 'green', reason: `${device}: SMART status unavailable (smartctl exit ${c})${last ? `: ${last}` : ''}` };
  }
  return { device, health: 'green', reason: '' };
}

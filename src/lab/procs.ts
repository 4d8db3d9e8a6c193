// Process records for the lab: identity by (pid, start time) so a reused PID is never killed.
import { readFileSync, openSync, closeSync, readdirSync } from 'node:fs';
import { spawn } from 'node:child_process';

export interface ProcRecord { pid: number; start: string }

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined when gone. */
export function startTime(pid: number): string | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); field 22 is rest[19]
    if (rest[0] === 'Z') return undefined; // a zombie is as good as gone
    return rest[19];
  } catch { return undefined; }
}

export function record(pid: number): ProcRecord | undefined {
  const start = startTime(pid);
  return start === undefined ? undefined : { pid, start };
}

export function alive(r: ProcRecord): boolean { return startTime(r.pid) === r.start; }

/** SIGKILL the recorded process only if it is still the same process. */
export function killRecorded(r: ProcRecord, signal: NodeJS.Signals = 'SIGKILL'): boolean {
  if (!alive(r)) return false;
  try { process.kill(r.pid, signal); return true; } catch { return false; }
}

export async function waitGone(rs: ProcRecord[], timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (rs.every((r) => !alive(r))) return true;
    await sleep(20);
  }
  return rs.every((r) => !alive(r));
}

export function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { /* fall back to a scan */ }
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(d));
    } catch { /* gone */ }
  }
  return out;
}

/**
 * Start a long-lived process detached (own session, no shell), output appended to a log file.
 * This is the lab's daemon launcher; short commands go through run().
 */
export function spawnDetached(cmd: string, args: string[], logFile: string, env?: NodeJS.ProcessEnv): number {
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env: env ?? process.env });
    if (child.pid === undefined) throw new Error(`${cmd}: cannot start`);
    child.on('error', () => { /* reported through the missing pid / init log */ });
    child.unref();
    return child.pid;
  } finally { closeSync(fd); }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// Facts about a process, read from /proc. Used to tell a live daemon from a stale
// pidfile whose PID has been reused by something else.
import { readFileSync, readlinkSync } from 'node:fs';

/** Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), or undefined if gone. */
export function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: split after the LAST ')'
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const st = Number(rest[19]); // field 22 overall = index 19 after pid and comm
    return Number.isFinite(st) ? st : undefined;
  } catch { return undefined; }
}

/** Process state letter (R, S, D, Z, T...), or undefined if gone. */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch { return undefined; }
}

/** Alive and not a zombie. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 1) return false;
  const s = procState(pid);
  return s !== undefined && s !== 'Z' && s !== 'X';
}

/** The executable of a process (" (deleted)" stripped: the binary may have been upgraded). */
export function exePath(pid: number): string | undefined {
  try { return readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, ''); } catch { return undefined; }
}

export function cmdline(pid: number): string[] | undefined {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((s, i, a) => s !== '' || i < a.length - 1); } catch { return undefined; }
}

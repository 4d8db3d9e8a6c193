// Facts about a process, read from /proc. Used to tell a live daemon from a stale
// pidfile whose PID has been reused by something else.
import { readFileSync, readlinkSync, readdirSync } from 'node:fs';

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

export interface BoundSocket { proto: 'tcp' | 'tcp6' | 'udp' | 'udp6'; address: string; port: number; listening: boolean }

function hexToAddress(hex: string, v6: boolean): string {
  if (!v6) {
    const n = Number.parseInt(hex, 16);
    return [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255].join('.');
  }
  // 4 little-endian 32-bit words
  const words: string[] = [];
  for (let i = 0; i < 4; i++) {
    const w = hex.slice(i * 8, i * 8 + 8);
    const b = w.match(/../g)!.reverse().join('');
    words.push(b.slice(0, 4), b.slice(4, 8));
  }
  return words.map((g) => g.replace(/^0+(?=.)/, '').toLowerCase()).join(':').replace(/(^|:)0(:0)+(:|$)/, '::').replace(/:{3,}/, '::');
}

/**
 * The sockets a process holds that are bound to a port (TCP listening or UDP bound),
 * read from /proc/PID/fd and /proc/PID/net/* (so: in the process's own network namespace).
 * Tells "our daemon owns the port" apart from "something answers on the port".
 */
export function boundSockets(pid: number): BoundSocket[] {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const l = readlinkSync(`/proc/${pid}/fd/${fd}`);
        const m = /^socket:\[(\d+)\]$/.exec(l);
        if (m) inodes.add(m[1]!);
      } catch { /* fd closed meanwhile */ }
    }
  } catch { return []; }
  const out: BoundSocket[] = [];
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6'] as const) {
    let text = '';
    try { text = readFileSync(`/proc/${pid}/net/${proto}`, 'utf8'); } catch { continue; }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || !inodes.has(f[9]!)) continue;
      const [addrHex, portHex] = f[1]!.split(':');
      const st = f[3];
      const listening = proto.startsWith('udp') ? st === '07' : st === '0A';
      out.push({ proto, address: hexToAddress(addrHex!, proto.endsWith('6')), port: Number.parseInt(portHex!, 16), listening });
    }
  }
  return out;
}

/** Processes that still hold files below `dirs` (open fds or cwd): the cause of "device busy". */
export function holders(dirs: string[]): string[] {
  const out: string[] = [];
  const under = (t: string) => dirs.some((d) => t === d || t.startsWith(`${d.replace(/\/$/, '')}/`));
  let pids: string[] = [];
  try { pids = readdirSync('/proc').filter((x) => /^\d+$/.test(x) && Number(x) !== process.pid); } catch { return out; }
  for (const pid of pids) {
    let hit = false;
    try { hit = under(readlinkSync(`/proc/${pid}/cwd`)); } catch { /* gone or not ours */ }
    if (!hit) {
      try {
        for (const fd of readdirSync(`/proc/${pid}/fd`)) {
          try { if (under(readlinkSync(`/proc/${pid}/fd/${fd}`))) { hit = true; break; } } catch { /* closed */ }
        }
      } catch { /* gone */ }
    }
    if (hit) {
      let comm = '?';
      try { comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim(); } catch { /* gone */ }
      out.push(`${comm}[${pid}]`);
    }
  }
  return out;
}


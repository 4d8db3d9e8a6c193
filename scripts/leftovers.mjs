// What a test run leaves behind: processes, network namespaces, root-namespace interfaces and
// mounts that exist after the run and did not before it. scripts/test.mjs takes a snapshot
// before vitest starts and compares after it ends; test/unit/leftovers.test.ts checks this file.
//
// A process counts as the run's when it is new (PID + start time not in the snapshot) and its
// chain of parents reaches the runner or PID 1 (a process re-parented there, like an nfs-cp whose
// nsenter was killed) without passing through a process that is older than the run (a shell
// of the developer's that is doing something else meanwhile is not the run's).
import { readFileSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

/** { pid, ppid, state, start } of one process, or undefined when it is gone. */
export function stat(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return { pid, ppid: Number(f[1]), state: f[0], start: f[19] };
  } catch { return undefined; }
}

export function cmdline(pid) {
  try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ') || `[${stat(pid)?.pid ?? pid}]`; } catch { return '(gone)'; }
}

function processes() {
  const m = new Map();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const s = stat(Number(d));
    if (s) m.set(s.pid, s);
  }
  return m;
}

const ipLines = (args) => {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 ? r.stdout.split('\n').filter(Boolean) : [];
};
export const netnsNames = () => ipLines(['netns', 'list']).map((l) => l.split(' ')[0]);
export const linkNames = () => ipLines(['-o', 'link', 'show']).map((l) => l.split(': ')[1]?.split('@')[0]).filter(Boolean);
export function mountPoints() {
  try { return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ')[4]); } catch { return []; }
}

export function snapshot() {
  const procs = new Set();
  for (const p of processes().values()) procs.add(`${p.pid}:${p.start}`);
  return { procs, netns: new Set(netnsNames()), links: new Set(linkNames()), mounts: new Set(mountPoints()) };
}

/**
 * What is there now and was not at `before`. `runner` is the PID whose descendants are the
 * run's (the runner itself is never a leftover); `ignoreMounts` are mounts the runner made itself.
 */
export function leftovers(before, runner, ignoreMounts = []) {
  const now = processes();
  const isOld = (p) => before.procs.has(`${p.pid}:${p.start}`);
  const ours = (p) => {
    for (let q = p, hops = 0; q && hops < 64; q = now.get(q.ppid), hops++) {
      if (q.pid === runner) return true;
      if (q.pid === 1) return true;
      if (q.pid === 2 || q.ppid === 2) return false; // kernel threads
      if (q !== p && isOld(q)) return false; // under a process older than the run: not the run's
      if (q.ppid === 0) return false;
    }
    return false;
  };
  const procs = [];
  for (const p of now.values()) {
    if (p.pid === runner || p.pid === process.pid || p.state === 'Z' || isOld(p) || !ours(p)) continue;
    procs.push({ pid: p.pid, start: p.start, ppid: p.ppid, cmd: cmdline(p.pid) });
  }
  return {
    procs,
    netns: netnsNames().filter((n) => !before.netns.has(n)),
    links: linkNames().filter((n) => !before.links.has(n)),
    mounts: mountPoints().filter((m) => !before.mounts.has(m) && !ignoreMounts.includes(m)),
  };
}

export const isEmpty = (l) => !l.procs.length && !l.netns.length && !l.links.length && !l.mounts.length;

/** One line per leftover, naming it. */
export function describe(l) {
  return [
    ...l.procs.map((p) => `process ${p.pid} (parent ${p.ppid}): ${p.cmd}`),
    ...l.netns.map((n) => `network namespace ${n}`),
    ...l.links.map((n) => `interface ${n} (root namespace)`),
    ...l.mounts.map((m) => `mount ${m}`),
  ];
}

/** Remove what was found, each by its recorded identity (PID + start time, or name). */
export function clean(l) {
  for (const p of l.procs) {
    if (stat(p.pid)?.start === p.start) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
  }
  for (const n of l.netns) spawnSync('ip', ['netns', 'del', n], { timeout: 10_000 });
  for (const n of l.links) spawnSync('ip', ['link', 'del', n], { timeout: 10_000 });
  for (const m of [...l.mounts].reverse()) spawnSync('umount', ['-l', m], { timeout: 10_000 });
}

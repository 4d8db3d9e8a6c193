// Service control shared by every daemon agent:
//   - start a daemon from an argv array (never a shell), in its own session, in the foreground
//     mode of the daemon so that we know its PID; we write the pidfile ourselves, atomically;
//   - tell a live daemon from a stale pidfile, also after PID reuse (the PID must run the
//     expected executable);
//   - wait for readiness within the start timeout, and report why a daemon died at start;
//   - stop with SIGTERM, then SIGKILL, within the stop timeout;
//   - start and stop are idempotent.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, statSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { writeFileAtomic } from './atomic';
import { exePath, isAlive, cmdline, boundSockets } from './proc';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface DaemonSpec {
  /** argv[0] must be an absolute path to the executable. */
  argv: string[];
  pidfile: string;
  /** stdout/stderr of the daemon go here (appended); its tail explains a failed start. */
  logfile?: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** The PID recorded in a pidfile, if the file exists and holds one. */
export function readPidfile(pidfile: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(pidfile, 'utf8').trim().split(/\s+/)[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 1 ? pid : undefined;
  } catch { return undefined; }
}

/**
 * The PID of the daemon if it is running: the pidfile names a live process that runs
 * `exe` (by /proc/PID/exe, or argv[0] for interpreters). A stale pidfile yields undefined.
 */
export function runningPid(pidfile: string, exe: string): number | undefined {
  const pid = readPidfile(pidfile);
  if (pid === undefined || !isAlive(pid)) return undefined;
  const real = exePath(pid);
  if (real === undefined) return pid; // not ours to read (other user): trust the live PID
  if (real === exe || basename(real) === basename(exe)) return pid;
  const argv0 = cmdline(pid)?.[0];
  if (argv0 && (argv0 === exe || basename(argv0) === basename(exe))) return pid;
  return undefined; // the PID was reused by another program
}

export type DaemonState = { state: 'running'; pid: number } | { state: 'stopped'; stalePidfile: boolean };

export function daemonState(pidfile: string, exe: string): DaemonState {
  const pid = runningPid(pidfile, exe);
  if (pid !== undefined) return { state: 'running', pid };
  let stale = false;
  try { statSync(pidfile); stale = true; } catch { /* no file */ }
  return { state: 'stopped', stalePidfile: stale };
}

function removePidfile(pidfile: string): void {
  try { unlinkSync(pidfile); } catch { /* gone */ }
}

/** Last lines of a log file, on one line, for an exit reason. */
export function logTail(file: string | undefined, lines = 3): string {
  if (!file) return '';
  try {
    const text = readFileSync(file, 'utf8');
    return text.split('\n').map((l) => l.trim()).filter(Boolean).slice(-lines).join(' | ');
  } catch { return ''; }
}

/**
 * Start a daemon that stays in the foreground. Returns its PID once `ready()` is true.
 * Already running: returns the running PID (idempotent). Throws with a reason on failure,
 * after killing what it started.
 */
export async function startDaemon(spec: DaemonSpec, opts: { ready?: (pid: number) => Promise<boolean> | boolean; timeoutMs: number; pollMs?: number }): Promise<number> {
  const exe = spec.argv[0];
  if (!exe || !exe.startsWith('/')) throw new Error(`daemon path must be absolute: ${exe}`);
  const existing = runningPid(spec.pidfile, exe);
  if (existing !== undefined) return existing;
  removePidfile(spec.pidfile); // stale

  mkdirSync(dirname(spec.pidfile), { recursive: true, mode: 0o755 });
  let out: number | 'ignore' = 'ignore';
  if (spec.logfile) {
    mkdirSync(dirname(spec.logfile), { recursive: true, mode: 0o755 });
    out = openSync(spec.logfile, 'a', 0o640);
  }
  const t0 = Date.now();
  const child = spawn(exe, spec.argv.slice(1), {
    detached: true, // own session: Pacemaker killing the agent's process group does not kill the daemon
    stdio: ['ignore', out, out],
    env: { ...process.env, ...spec.env },
    cwd: spec.cwd ?? '/',
  });
  let spawnError: Error | undefined;
  let exited: { code: number | null; signal: string | null } | undefined;
  child.on('error', (e) => { spawnError = e; });
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  if (typeof out === 'number') closeSync(out);
  await sleep(0);
  if (spawnError || child.pid === undefined) throw new Error(`cannot run ${exe}: ${spawnError?.message ?? 'no pid'}`);
  const pid = child.pid;
  writeFileAtomic(spec.pidfile, `${pid}\n`);
  child.unref();

  const poll = opts.pollMs ?? 100;
  for (;;) {
    if (exited || !isAlive(pid)) {
      for (let i = 0; i < 10 && !exited; i++) await sleep(20); // let the exit status arrive
      removePidfile(spec.pidfile);
      const how = exited ? (exited.signal ? `killed by ${exited.signal}` : `exit code ${exited.code}`) : 'exited';
      const tail = logTail(spec.logfile);
      throw new Error(`${basename(exe)} ${how} during start${tail ? `: ${tail}` : ''}`);
    }
    if (!opts.ready || await opts.ready(pid)) return pid;
    if (Date.now() - t0 > opts.timeoutMs) {
      await stopPid(pid, 2000);
      removePidfile(spec.pidfile);
      const tail = logTail(spec.logfile);
      throw new Error(`${basename(exe)} was not ready within ${Math.round(opts.timeoutMs / 1000)}s${tail ? `: ${tail}` : ''}`);
    }
    await sleep(poll);
  }
}

/**
 * SIGTERM (and SIGCONT, as systemd sends it: a stopped process, e.g. a daemon hung by SIGSTOP,
 * acts on the SIGTERM only once continued), wait up to termWaitMs, then SIGKILL and wait a
 * little. Resolves true when gone.
 */
export async function stopPid(pid: number, termWaitMs: number): Promise<boolean> {
  const gone = () => !isAlive(pid);
  try { process.kill(pid, 'SIGTERM'); } catch { return gone(); }
  try { process.kill(pid, 'SIGCONT'); } catch { /* gone meanwhile */ }
  const t0 = Date.now();
  while (Date.now() - t0 < termWaitMs) {
    if (gone()) return true;
    await sleep(50);
  }
  try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  const t1 = Date.now();
  while (Date.now() - t1 < 2000) {
    if (gone()) return true;
    await sleep(20);
  }
  return gone();
}

/**
 * Stop the daemon named by the pidfile (idempotent: stopped already is success).
 * `timeoutMs`: the whole budget; SIGKILL comes when 2 s of it are left.
 */
export async function stopDaemon(pidfile: string, exe: string, timeoutMs: number): Promise<void> {
  const pid = runningPid(pidfile, exe);
  if (pid === undefined) { removePidfile(pidfile); return; }
  const ok = await stopPid(pid, Math.max(500, timeoutMs - 2500));
  if (!ok) throw new Error(`${basename(exe)} (pid ${pid}) did not die even after SIGKILL`);
  removePidfile(pidfile);
}

/**
 * True when process `pid` itself holds a socket bound to `port` on each of `addresses`
 * (wildcards count). Readiness must check this: "something answers on the port" may be
 * another instance that already holds it.
 */
export function holdsPort(pid: number, proto: 'udp' | 'tcp', port: number, addresses: string[]): boolean {
  const socks = boundSockets(pid).filter((s) => s.port === port && s.listening && s.proto.startsWith(proto));
  return addresses.every((a) => {
    const v6 = a.includes(':');
    return socks.some((s) => (s.proto.endsWith('6') === v6) && (s.address === a || s.address === (v6 ? '::' : '0.0.0.0')));
  });
}

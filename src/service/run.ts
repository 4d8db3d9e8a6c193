// The ONE way this project runs an external command.
//
// - argv arrays only: nothing is ever passed through a shell;
// - every call has a timeout, and the call returns by then (plus a short grace), always;
// - the command runs as the leader of its own process group, and run() owns that whole
//   group: on the timeout the GROUP gets SIGTERM, then SIGKILL. That reaches what the
//   command started too, including a command that nsenter runs inside a lab node's PID
//   namespace (process groups span PID namespaces);
// - run() never waits for a pipe that only a descendant still holds open: once the command
//   itself has exited, its output is read for at most PIPE_GRACE_MS more, then the pipes
//   are let go (a daemon that kept our stdout cannot hang an agent action);
// - secrets go in through `input` (stdin) or `env`, never argv;
// - execa is loaded lazily, so an agent action that runs no command pays nothing for it.

export interface RunOptions {
  /** Milliseconds before the command's process group is killed. Default 30 s. */
  timeoutMs?: number;
  /** Written to the child's stdin, then stdin is closed. */
  input?: string;
  /** Extra environment variables (merged over process.env unless `cleanEnv`). */
  env?: Record<string, string | undefined>;
  /** Start from an empty environment (PATH is kept). */
  cleanEnv?: boolean;
  cwd?: string;
}

export interface RunResult {
  /** Exit code; -1 when the child was killed by a signal or could not be started. */
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** Set when the command could not be started at all (ENOENT, EACCES...). */
  spawnError?: string;
  signal?: string;
}

/** SIGTERM to SIGKILL of a timed-out command's group. */
export const KILL_GRACE_MS = 2_000;
/** After the command exited, how long its pipes are still read (a descendant may hold them). */
export const PIPE_GRACE_MS = 1_000;

/** Process groups of the commands running now: killed if this process exits first. */
const live = new Set<number>();
let exitHook = false;
function killGroup(pgid: number, sig: NodeJS.Signals): void {
  try { process.kill(-pgid, sig); } catch { /* the group is gone */ }
}

/**
 * Signal every command this process is running through run() (each one's whole group): for a
 * long-lived process that ends on SIGTERM and must take its running commands with it.
 */
export function signalRunning(sig: NodeJS.Signals): void {
  for (const g of live) killGroup(g, sig);
}

export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const { execa } = await import('execa');
  const env = opts.cleanEnv ? { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...opts.env } : opts.env;
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const child = execa(cmd, [...args], {
    reject: false,
    shell: false,
    // its own process group (setsid), so that the timeout can end everything it started
    detached: true,
    cleanup: false,
    stripFinalNewline: false,
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    env,
    extendEnv: !opts.cleanEnv,
    cwd: opts.cwd,
    maxBuffer: 64 * 1024 * 1024,
    encoding: 'utf8',
  });
  const pgid = child.pid;
  let timedOut = false;
  const timers: NodeJS.Timeout[] = [];
  if (pgid !== undefined) {
    live.add(pgid);
    if (!exitHook) {
      exitHook = true;
      process.once('exit', () => { for (const g of live) killGroup(g, 'SIGKILL'); });
    }
    timers.push(setTimeout(() => {
      timedOut = true;
      killGroup(pgid, 'SIGTERM');
      timers.push(setTimeout(() => killGroup(pgid, 'SIGKILL'), KILL_GRACE_MS));
    }, timeoutMs));
    // The command itself has ended: read what is in the pipes, then let them go even if a
    // descendant (re-parented, or in another session) still holds them open.
    child.once('exit', () => {
      timers.push(setTimeout(() => { child.stdout?.destroy(); child.stderr?.destroy(); }, PIPE_GRACE_MS));
    });
  }
  let r;
  try {
    r = await child;
  } finally {
    for (const t of timers) clearTimeout(t);
    if (pgid !== undefined) {
      live.delete(pgid);
      // a timed-out command's group is gone by now, or gets its SIGKILL here
      if (timedOut) killGroup(pgid, 'SIGKILL');
    }
  }
  // No PID: the command could not be started at all (Node then sets exitCode to -errno).
  const spawnError = pgid === undefined
    ? (r.cause instanceof Error ? r.cause.message : String(r.originalMessage ?? r.shortMessage)) : undefined;
  const exitCode = pgid === undefined ? undefined : child.exitCode ?? (typeof r.exitCode === 'number' ? r.exitCode : undefined);
  const signal = child.signalCode ?? r.signal ?? undefined;
  return {
    code: typeof exitCode === 'number' ? exitCode : -1,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    timedOut,
    spawnError,
    signal: signal ?? undefined,
  };
}

/** Like run(), but throws an Error with a one-line reason unless the command exits 0. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(describeFailure(cmd, r));
  return r;
}

/** One line saying why a command failed, using the last meaningful stderr line. */
export function describeFailure(cmd: string, r: RunResult): string {
  if (r.spawnError) return `${cmd}: cannot run: ${r.spawnError}`;
  if (r.timedOut) return `${cmd}: timed out`;
  const last = (r.stderr || r.stdout).split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
  const how = r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
  return `${cmd}: ${how}${last ? `: ${last}` : ''}`;
}

// The ONE way this project runs an external command.
//
// - argv arrays only: nothing is ever passed through a shell;
// - every call has a timeout, and a timed-out child is killed (SIGTERM, then SIGKILL);
// - secrets go in through `input` (stdin) or `env`, never argv;
// - execa is loaded lazily, so an agent action that runs no command pays nothing for it.

export interface RunOptions {
  /** Milliseconds before the child is killed. Default 30 s. */
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

export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const { execa } = await import('execa');
  const env = opts.cleanEnv ? { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...opts.env } : opts.env;
  const r = await execa(cmd, [...args], {
    reject: false,
    shell: false,
    stripFinalNewline: false,
    timeout: opts.timeoutMs ?? 30_000,
    forceKillAfterDelay: 2_000,
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    env,
    extendEnv: !opts.cleanEnv,
    cwd: opts.cwd,
    maxBuffer: 64 * 1024 * 1024,
    encoding: 'utf8',
  });
  const spawnError = r.failed && r.exitCode === undefined && !r.timedOut && !r.signal
    ? (r.cause instanceof Error ? r.cause.message : String(r.originalMessage ?? r.shortMessage)) : undefined;
  return {
    code: typeof r.exitCode === 'number' ? r.exitCode : -1,
    stdout: String(r.stdout ?? ''),
    stderr: String(r.stderr ?? ''),
    timedOut: Boolean(r.timedOut),
    spawnError,
    signal: r.signal ?? undefined,
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

// Service control shared by every daemon agent: start from argv, pidfiles (stale, reused PIDs),
// readiness, TERM then KILL, idempotence, atomic writes.
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, stopDaemon, daemonState, runningPid, holdsPort } from '../../src/service/daemon';
import { isAlive, startTime } from '../../src/service/proc';
import { writeFileAtomic, writeFileAtomicIfChanged } from '../../src/service/atomic';
import { run } from '../../src/service/run';
import { tempDir } from '../helpers/agents';

let dir: string;
beforeAll(() => { dir = tempDir('daemon'); });
const node = process.execPath;

describe('startDaemon / stopDaemon', () => {
  it('starts from an argv array with no shell: metacharacters stay literal', async () => {
    const pidfile = join(dir, 'literal.pid');
    const marker = join(dir, 'never-created');
    const pid = await startDaemon({ argv: [node, '-e', 'setInterval(()=>{},1000)', `$(touch ${marker})`], pidfile }, { timeoutMs: 5000 });
    expect(isAlive(pid)).toBe(true);
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain(`$(touch ${marker})`);
    expect(existsSync(marker)).toBe(false);
    await stopDaemon(pidfile, node, 5000);
    expect(isAlive(pid)).toBe(false);
  });
  it('is idempotent: a second start returns the running PID, a second stop succeeds', async () => {
    const pidfile = join(dir, 'idem.pid');
    const spec = { argv: [node, '-e', 'setInterval(()=>{},1000)'], pidfile };
    const a = await startDaemon(spec, { timeoutMs: 5000 });
    const b = await startDaemon(spec, { timeoutMs: 5000 });
    expect(b).toBe(a);
    await stopDaemon(pidfile, node, 5000);
    await stopDaemon(pidfile, node, 5000);
    expect(daemonState(pidfile, node)).toEqual({ state: 'stopped', stalePidfile: false });
  });
  it('a daemon that ignores SIGTERM gets SIGKILL within the stop timeout', async () => {
    const pidfile = join(dir, 'stubborn.pid');
    const pid = await startDaemon({ argv: [node, '-e', "process.on('SIGTERM',()=>{});setInterval(()=>{},1000)"], pidfile }, { timeoutMs: 5000, ready: () => new Promise((r) => setTimeout(() => r(true), 300)) });
    const t0 = Date.now();
    await stopDaemon(pidfile, node, 3000);
    expect(isAlive(pid)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(4000);
  });
  it('a daemon hung by SIGSTOP still gets its SIGTERM (SIGCONT follows it, as systemd does), not only the late SIGKILL', async () => {
    const pidfile = join(dir, 'stopped.pid');
    const marker = join(dir, 'stopped.term');
    const prog = `process.on('SIGTERM',()=>{require('fs').writeFileSync(${JSON.stringify(marker)},'term');process.exit(0)});setInterval(()=>{},1000)`;
    const pid = await startDaemon({ argv: [node, '-e', prog], pidfile }, { timeoutMs: 5000, ready: () => new Promise((r) => setTimeout(() => r(true), 500)) });
    process.kill(pid, 'SIGSTOP');
    const state = (): string => { const st = readFileSync(`/proc/${pid}/stat`, 'utf8'); return st[st.lastIndexOf(')') + 2]!; };
    for (let i = 0; i < 100 && state() !== 'T'; i++) await new Promise((r) => setTimeout(r, 20)); // the stop is asynchronous
    expect(state()).toBe('T');
    // 20 s budget: without the SIGCONT the SIGTERM would wait until the SIGKILL at 17.5 s and the handler would never run
    await stopDaemon(pidfile, node, 20_000);
    expect(isAlive(pid)).toBe(false);
    expect(readFileSync(marker, 'utf8')).toBe('term');
  });
  it('a daemon that dies during start fails with its exit code and its last log lines', async () => {
    const pidfile = join(dir, 'dies.pid');
    const logfile = join(dir, 'dies.log');
    await expect(startDaemon({ argv: [node, '-e', "console.error('cannot bind: Address already in use'); process.exit(3)"], pidfile, logfile }, { timeoutMs: 5000, ready: () => false }))
      .rejects.toThrow(/node exit code 3 during start: cannot bind: Address already in use/);
    expect(existsSync(pidfile)).toBe(false);
  });
  it('a daemon never ready within the timeout is killed and the start fails', async () => {
    const pidfile = join(dir, 'slow.pid');
    await expect(startDaemon({ argv: [node, '-e', 'setInterval(()=>{},1000)'], pidfile }, { timeoutMs: 600, ready: () => false })).rejects.toThrow(/was not ready within/);
    expect(existsSync(pidfile)).toBe(false);
  });
  it('a missing executable is a clear error', async () => {
    await expect(startDaemon({ argv: ['/nonexistent/daemon'], pidfile: join(dir, 'x.pid') }, { timeoutMs: 1000 })).rejects.toThrow(/cannot run \/nonexistent\/daemon/);
  });
});

describe('pidfiles', () => {
  it('a stale pidfile (dead PID) is not running', () => {
    const pidfile = join(dir, 'stale.pid');
    writeFileSync(pidfile, '999999\n');
    expect(daemonState(pidfile, node)).toEqual({ state: 'stopped', stalePidfile: true });
  });
  it('a reused PID running another program is not our daemon', () => {
    const pidfile = join(dir, 'reused.pid');
    writeFileSync(pidfile, `${process.pid}\n`); // alive, but it runs node, not snmpd
    expect(runningPid(pidfile, '/usr/sbin/snmpd')).toBeUndefined();
    expect(runningPid(pidfile, node)).toBe(process.pid);
  });
  it('garbage in a pidfile is not a PID', () => {
    const pidfile = join(dir, 'garbage.pid');
    for (const junk of ['', 'abc', '1', '-5', '0x10']) {
      writeFileSync(pidfile, junk);
      expect(runningPid(pidfile, node)).toBeUndefined();
    }
  });
  it('reads process start times from /proc (for PID-reuse guards)', () => {
    expect(startTime(process.pid)).toBeGreaterThan(0);
    expect(startTime(999999)).toBeUndefined();
  });
});

describe('holdsPort', () => {
  it('knows which process owns a bound port', async () => {
    const pidfile = join(dir, 'udp.pid');
    const port = 30000 + Math.floor(Math.random() * 20000);
    const code = `require('dgram').createSocket('udp4').bind(${port},'127.0.0.1');setInterval(()=>{},1000)`;
    const pid = await startDaemon({ argv: [node, '-e', code], pidfile }, { timeoutMs: 5000, ready: (p) => holdsPort(p, 'udp', port, ['127.0.0.1']) });
    expect(holdsPort(pid, 'udp', port, ['127.0.0.1'])).toBe(true);
    expect(holdsPort(pid, 'udp', port, ['::1'])).toBe(false);
    expect(holdsPort(process.pid, 'udp', port, ['127.0.0.1'])).toBe(false);
    await stopDaemon(pidfile, node, 3000);
  });
});

describe('run()', () => {
  it('runs argv without a shell, passes stdin, reports exit codes and timeouts', async () => {
    const r = await run('sh', ['-c', 'cat; echo "$1"', 'x', '$(id)'], { input: 'in\n' });
    expect(r).toMatchObject({ code: 0, stdout: 'in\n$(id)\n', timedOut: false });
    expect((await run('false', [])).code).toBe(1);
    const t = await run('sleep', ['10'], { timeoutMs: 200 });
    expect(t.timedOut).toBe(true);
    expect((await run('/nonexistent/x', [])).spawnError).toMatch(/ENOENT/);
  });

  // A unique sleep length marks the processes of one test, to find them in /proc afterwards.
  const marker = () => `3600.${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const withArg = (arg: string) => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((d) => {
    try { return readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').includes(arg) && readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]![0] !== 'Z'; } catch { return false; }
  }).map(Number);

  it('on timeout, ends the whole process group and returns although a grandchild held stdout', async () => {
    const m = marker();
    const t0 = Date.now();
    // the grandchild keeps the pipes open and would sleep for an hour: the old run() waited for it
    const r = await run('sh', ['-c', `sleep ${m} & echo started; sleep ${m}`], { timeoutMs: 500 });
    const ms = Date.now() - t0;
    expect(r.timedOut).toBe(true);
    expect(r.stdout).toBe('started\n');
    expect(ms).toBeLessThan(500 + 3_000);
    expect(withArg(m)).toEqual([]);
  });

  it('returns soon after the command exits although a process in another session still holds stdout', async () => {
    const m = marker();
    const t0 = Date.now();
    const r = await run('sh', ['-c', `setsid sleep ${m} & echo done`], { timeoutMs: 20_000 });
    const ms = Date.now() - t0;
    const left = withArg(m);
    for (const pid of left) process.kill(pid, 'SIGKILL'); // ours: it escaped the group on purpose
    expect(r).toMatchObject({ code: 0, stdout: 'done\n', timedOut: false });
    expect(ms).toBeLessThan(5_000);
    expect(left.length).toBe(1); // the escaped process was really there, holding the pipe
  });

  it('on timeout, also ends what the command runs inside another PID namespace (as nsenter -p does)', async () => {
    if (process.getuid?.() !== 0) { expect.fail('needs root (unshare --pid)'); }
    const m = marker();
    const t0 = Date.now();
    const r = await run('unshare', ['--pid', '--fork', 'sh', '-c', `sleep ${m} & sleep ${m}; :`], { timeoutMs: 800 });
    expect(r.timedOut).toBe(true);
    expect(Date.now() - t0).toBeLessThan(800 + 3_000);
    expect(withArg(m)).toEqual([]);
  });
});

describe('writeFileAtomic', () => {
  it('replaces a file whole and leaves no temporary behind', () => {
    const f = join(dir, 'atomic.conf');
    writeFileAtomic(f, 'one\n', { mode: 0o600 });
    writeFileAtomic(f, 'two\n');
    expect(readFileSync(f, 'utf8')).toBe('two\n');
    expect(readdirSync(dir).filter((x) => x.startsWith('.atomic.conf.tmp'))).toEqual([]);
    expect(writeFileAtomicIfChanged(f, 'two\n')).toBe(false);
    expect(writeFileAtomicIfChanged(f, 'three\n')).toBe(true);
  });
  it('sets the mode exactly, whatever the umask (pacemaker-execd runs agents with 027)', () => {
    const f = join(dir, 'umask.txt');
    const old = process.umask(0o027);
    try {
      writeFileAtomic(f, 'x', { mode: 0o644 });
      expect(statSync(f).mode & 0o777).toBe(0o644);
      writeFileAtomic(f, 'y', { mode: 0o600 });
      expect(statSync(f).mode & 0o777).toBe(0o600);
    } finally { process.umask(old); }
  });
  it('a failed write leaves the old content', () => {
    const f = join(dir, 'keep.conf');
    writeFileAtomic(f, 'old\n');
    expect(() => writeFileAtomic(join(dir, 'no-such-dir', 'x'), 'new')).toThrow();
    expect(readFileSync(f, 'utf8')).toBe('old\n');
  });
});

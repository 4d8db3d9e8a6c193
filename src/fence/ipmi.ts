// IPMI backend: `ipmitool -I lanplus` with an argv array (no shell). The password
// goes to ipmitool through the environment (`-E`, IPMI_PASSWORD) or a 0600 file
// (`-f`) that is removed afterwards; it is never on the command line and never logged.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type RunResult } from '../service/run.js';
import { writeFileAtomic } from '../service/atomic.js';
import type { Options, OptSpec } from './options.js';
import { EC, FenceError, type Backend, type Logger, type Power } from './agent.js';

export const IPMI_SPECS: OptSpec[] = [
  { name: 'ipmitool_path', type: 'string', arg: 'path', default: '/usr/bin/ipmitool', shortdesc: 'Path to ipmitool binary' },
  { name: 'cipher', type: 'integer', arg: 'cipher', shortdesc: 'Ciphersuite to use (same as ipmitool -C parameter)' },
  { name: 'privlvl', short: 'L', type: 'select', arg: 'level', choices: ['callback', 'user', 'operator', 'administrator'], default: 'administrator', shortdesc: 'Privilege level on IPMI device' },
  { name: 'ipmi_password_via', type: 'select', arg: 'how', choices: ['env', 'file'], default: 'env', shortdesc: 'How the password reaches ipmitool: environment (-E) or a temporary 0600 file (-f); never argv' },
];

export function validateIpmi(opts: Options): string[] {
  const errs: string[] = [];
  if (!opts.ip) errs.push('Failed: You have to set the IP address or hostname of the fencing device (ip)');
  if (opts.password === undefined || opts.password === '') errs.push('Failed: You have to set login password');
  return errs;
}

/** The argv ipmitool gets (no secret in it). Exported for tests. */
export function ipmiArgs(opts: Options, passFile: string | undefined, cmd: string[]): string[] {
  const a = ['-I', 'lanplus', '-H', opts.ip.replace(/^\[(.*)\]$/, '$1')];
  if (opts.ipport) a.push('-p', opts.ipport);
  if (opts.username) a.push('-U', opts.username);
  if (opts.cipher) a.push('-C', opts.cipher);
  a.push('-L', (opts.privlvl || 'administrator').toUpperCase());
  const t = Math.max(1, Math.round(Number(opts.login_timeout || 5)));
  a.push('-N', String(t), '-R', '1');
  if (passFile) a.push('-f', passFile); else a.push('-E');
  return [...a, ...cmd];
}

export async function ipmiBackend(opts: Options, log: Logger): Promise<Backend> {
  const tool = opts.ipmitool_path || '/usr/bin/ipmitool';
  const viaFile = opts.ipmi_password_via === 'file';
  let dir: string | undefined;
  let passFile: string | undefined;
  // The file lives in memory (/dev/shm) when possible and is removed on close, on exit and
  // on the signals the fencer sends on timeout (main() turns those into an exit).
  const cleanup = () => { if (dir) rmSync(dir, { recursive: true, force: true }); };
  if (viaFile) {
    dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'fence_haoscar-'));
    process.once('exit', cleanup);
    passFile = join(dir, 'pw');
    writeFileAtomic(passFile, opts.password, { mode: 0o600 });
  }
  // ipmitool -N/-R: one try plus one retry, each up to login_timeout; allow for session setup.
  const timeoutMs = (Math.max(1, Number(opts.login_timeout || 5)) * 3 + 5) * 1000;

  const ipmi = async (cmd: string[]): Promise<RunResult> => {
    const args = ipmiArgs(opts, passFile, cmd);
    log.debug(`running ${tool} ${args.join(' ')}`);
    const r = await run(tool, args, {
      timeoutMs,
      env: viaFile ? { IPMI_PASSWORD: undefined } : { IPMI_PASSWORD: opts.password },
    });
    const text = `${r.stdout}\n${r.stderr}`.trim();
    log.debug(`ipmitool exit ${r.code}: ${text.split('\n').slice(-2).join(' | ')}`);
    if (r.spawnError) throw new FenceError(EC.GENERIC_ERROR, `Failed: cannot run ${tool}: ${r.spawnError}`);
    if (r.timedOut) throw new FenceError(EC.TIMED_OUT, `ipmitool gave no answer within ${timeoutMs / 1000} s`);
    if (r.code !== 0) {
      const last = text.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
      if (/session|RAKP|password|authenticat|Unable to establish/i.test(text)) throw new FenceError(EC.LOGIN_DENIED, last);
      if (/insufficient privilege/i.test(text)) throw new FenceError(EC.INVALID_PRIVILEGES, last);
      throw new FenceError(EC.STATUS, last || `ipmitool exit ${r.code}`);
    }
    return r;
  };

  return {
    async status(): Promise<Power> {
      const r = await ipmi(['chassis', 'power', 'status']);
      const m = /Chassis Power is (on|off)/i.exec(r.stdout);
      if (!m) throw new FenceError(EC.STATUS, `unexpected ipmitool answer: ${r.stdout.trim().slice(0, 80)}`);
      return m[1].toLowerCase() as Power;
    },
    async set(_plug: string, to: Power) {
      await ipmi(['chassis', 'power', to]);
    },
    async monitor() {
      await ipmi(['chassis', 'power', 'status']);
    },
    close() {
      cleanup();
      process.removeListener('exit', cleanup);
    },
  };
}

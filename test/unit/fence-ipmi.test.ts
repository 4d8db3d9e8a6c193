// fence_haoscar, IPMI backend, for real: the bundled agent runs ipmitool -I lanplus
// against OpenIPMI's ipmi_sim on 127.0.0.1, whose chassis power control is a script
// writing a state file we can read. A wrapper in front of ipmitool records the argv
// the agent really passes, to prove the password is never on a command line.
import { it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { createSocket } from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../src/service/run.js';
import { writeFileAtomic } from '../../src/service/atomic.js';
import { describeWith, which } from '../helpers/prereq.js';

const root = resolve(__dirname, '../..');
const PASSWORD = 'Bmc-pw-55127x';
const USER = 'fenceadmin';

async function freeUdpPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const ok = await new Promise<boolean>((res) => {
      const s = createSocket('udp4');
      s.once('error', () => { s.close(); res(false); });
      s.bind(port, '127.0.0.1', () => { s.close(() => res(true)); });
    });
    if (ok) return port;
  }
  throw new Error('no free UDP port');
}

describeWith({ bins: ['ipmi_sim', 'ipmitool'], packages: ['openipmi', 'ipmitool'] }, 'fence_haoscar IPMI against ipmi_sim (lanplus, 127.0.0.1)', () => {
  let dir: string;
  let agentBin: string;
  let port: number;
  let sim: ChildProcess | undefined;
  let stateFile: string;
  let callsFile: string;
  let argvFile: string;
  let wrapper: string;

  const fence = async (stdin: string) => {
    const t0 = Date.now();
    const r = await run(agentBin, [], { input: stdin, timeoutMs: 60_000, env: { IPMI_PASSWORD: undefined } });
    return { ...r, ms: Date.now() - t0 };
  };
  const conf = () => `method=ipmi\nip=127.0.0.1\nipport=${port}\nusername=${USER}\npassword=${PASSWORD}\ncipher=3\nipmitool_path=${wrapper}\nlogin_timeout=2\n`;
  const state = () => readFileSync(stateFile, 'utf8').trim();
  const argvLines = () => (existsSync(argvFile) ? readFileSync(argvFile, 'utf8') : '');

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dv8-ipmi-'));
    agentBin = join(dir, 'fence_haoscar');
    const build = await import(join(root, 'scripts/build.mjs'));
    await build.bundle(join(root, 'agents/fence_haoscar.ts'), agentBin);
    port = await freeUdpPort();
    stateFile = join(dir, 'power');
    callsFile = join(dir, 'calls');
    argvFile = join(dir, 'argv');
    writeFileAtomic(stateFile, 'on\n');
    // ipmi_sim's chassis_control hook: "<prog> <mc> get power" prints power:0|1, "<prog> <mc> set power 0|1".
    const chassis = join(dir, 'chassis.sh');
    writeFileAtomic(chassis, [
      '#!/bin/sh',
      `echo "$*" >> ${callsFile}`,
      'mc=$1; op=$2; shift 2',
      'if [ "$op" = get ]; then',
      `  for p in "$@"; do [ "$p" = power ] && { if [ "$(cat ${stateFile})" = off ]; then echo power:0; else echo power:1; fi; }; done`,
      'elif [ "$op" = set ]; then',
      '  while [ $# -gt 1 ]; do',
      `    [ "$1" = power ] && { if [ "$2" = 0 ]; then echo off > ${stateFile}; else echo on > ${stateFile}; fi; }`,
      '    shift 2',
      '  done',
      'fi',
      '',
    ].join('\n'), { mode: 0o755 });
    // ipmitool wrapper: records the argv it was given and whether the password came by environment.
    wrapper = join(dir, 'ipmitool-wrapper');
    writeFileAtomic(wrapper, [
      '#!/bin/sh',
      `{ printf 'ARGV:'; for a in "$@"; do printf ' [%s]' "$a"; done; printf '\\n'; tr '\\0' ' ' < /proc/$$/cmdline; printf '\\n'; [ -n "$IPMI_PASSWORD" ] && echo ENV:set || echo ENV:unset; } >> ${argvFile}`,
      `exec ${which('ipmitool')} "$@"`,
      '',
    ].join('\n'), { mode: 0o755 });
    writeFileAtomic(join(dir, 'lan.conf'), [
      'name "dv8sim"',
      'set_working_mc 0x20',
      '  startlan 1',
      `    addr 127.0.0.1 ${port}`,
      '    priv_limit admin',
      '    allowed_auths_callback none md2 md5 straight',
      '    allowed_auths_user none md2 md5 straight',
      '    allowed_auths_operator none md2 md5 straight',
      '    allowed_auths_admin none md2 md5 straight',
      '    guid a123456789abcdefa123456789abcdef',
      '  endlan',
      `  chassis_control "${chassis} 0x20"`,
      `  user 2 true "${USER}" "${PASSWORD}" admin 10 none md2 md5 straight`,
      '',
    ].join('\n'), { mode: 0o600 });
    writeFileAtomic(join(dir, 'sim.emu'), [
      'mc_setbmc 0x20',
      'mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr',
      'mc_enable 0x20',
      '',
    ].join('\n'));
    mkdirSync(join(dir, 'persist'));
    sim = spawn(which('ipmi_sim') as string, ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'sim.emu'), '-s', join(dir, 'persist'), '-n'], { stdio: 'ignore' });
    // Ready when ipmitool gets an answer.
    const t0 = Date.now();
    for (;;) {
      const r = await run(which('ipmitool') as string, ['-I', 'lanplus', '-H', '127.0.0.1', '-p', String(port), '-U', USER, '-E', '-C', '3', '-N', '1', '-R', '1', 'chassis', 'power', 'status'], { env: { IPMI_PASSWORD: PASSWORD }, timeoutMs: 10_000 });
      if (r.code === 0) break;
      if (Date.now() - t0 > 15_000) throw new Error(`ipmi_sim did not answer: ${r.stderr.trim()}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }, 60_000);

  afterAll(async () => {
    if (sim?.pid && sim.exitCode === null) {
      process.kill(sim.pid, 'SIGTERM');
      await new Promise((r) => { const t = setTimeout(r, 3000); sim?.once('exit', () => { clearTimeout(t); r(null); }); });
      if (sim.exitCode === null && sim.signalCode === null) {
        process.kill(sim.pid, 'SIGKILL');
        await new Promise((r) => { const t = setTimeout(r, 5000); sim?.once('exit', () => { clearTimeout(t); r(null); }); });
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  beforeEach(() => {
    writeFileAtomic(argvFile, '');
    writeFileAtomic(callsFile, '');
  });

  it('status / off / status / on, verified through the BMC and seen in the chassis state', async () => {
    writeFileAtomic(stateFile, 'on\n');
    let r = await fence(`${conf()}action=status\n`);
    expect(r.stdout).toBe('Status: ON\n');
    expect(r.code).toBe(0);
    r = await fence(`${conf()}action=off\n`);
    expect(r.stdout).toBe('Success: Powered OFF\n');
    expect(r.code).toBe(0);
    expect(state()).toBe('off');
    r = await fence(`${conf()}action=status\n`);
    expect(r.stdout).toBe('Status: OFF\n');
    expect(r.code).toBe(2);
    r = await fence(`${conf()}action=on\n`);
    expect(r.code).toBe(0);
    expect(state()).toBe('on');
    expect(readFileSync(callsFile, 'utf8')).toMatch(/set power 0[\s\S]*set power 1/);
  });

  it('reboot = power off then power on', async () => {
    writeFileAtomic(stateFile, 'on\n');
    const r = await fence(`${conf()}action=reboot\n`);
    expect(r.stdout).toBe('Success: Rebooted\n');
    expect(r.code).toBe(0);
    const sets = readFileSync(callsFile, 'utf8').split('\n').filter((l) => l.includes('set power'));
    expect(sets).toEqual(['0x20 set power 0', '0x20 set power 1']);
    expect(state()).toBe('on');
  });

  it('the password is never in ipmitool\'s argv: it travels in IPMI_PASSWORD with -E', async () => {
    const r = await fence(`${conf()}action=status\n`);
    expect(r.code).toBe(0);
    const rec = argvLines();
    expect(rec).toContain('ARGV: [-I] [lanplus] [-H] [127.0.0.1]');
    expect(rec).toContain('[-E]');
    expect(rec).toContain('ENV:set');
    expect(rec).not.toContain(PASSWORD);
    expect(rec).not.toMatch(/\[-P\]/);
  });

  it('ipmi_password_via=file: -f with a private file that is gone afterwards; no env, no argv', async () => {
    const r = await fence(`${conf()}ipmi_password_via=file\naction=status\n`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rec = argvLines();
    expect(rec).not.toContain(PASSWORD);
    expect(rec).toContain('ENV:unset');
    const m = /\[-f\] \[([^\]]+)\]/.exec(rec);
    expect(m).not.toBeNull();
    expect(existsSync((m as RegExpExecArray)[1])).toBe(false);
  });

  it('killed by the fencer mid-run (SIGTERM): the password file is removed all the same', async () => {
    // An "ipmitool" that records its argv and its PID, then hangs.
    const hang = join(dir, 'ipmitool-hang');
    const pidFile = join(dir, 'hang.pid');
    writeFileAtomic(hang, `#!/bin/sh\nprintf '%s\\n' "$@" > ${argvFile}.hang\necho $$ > ${pidFile}\nexec sleep 60\n`, { mode: 0o755 });
    const agent = spawn(agentBin, [], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    agent.stderr?.on('data', (d) => { err += d; });
    agent.stdin?.end(`${conf().replace(`ipmitool_path=${wrapper}`, `ipmitool_path=${hang}`)}ipmi_password_via=file\naction=status\n`);
    let hangPid: number | undefined;
    try {
      const t0 = Date.now();
      while (!existsSync(pidFile) && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
      hangPid = Number(readFileSync(pidFile, 'utf8'));
      const args = readFileSync(`${argvFile}.hang`, 'utf8').split('\n');
      const pwPath = args[args.indexOf('-f') + 1];
      expect(readFileSync(pwPath, 'utf8')).toBe(PASSWORD); // there while ipmitool runs
      expect(args).not.toContain(PASSWORD);
      process.kill(agent.pid as number, 'SIGTERM');
      const code = await new Promise<number | null>((r) => agent.once('exit', (c) => r(c)));
      expect(code).toBe(1);
      expect(err).toContain('stopped by SIGTERM');
      expect(existsSync(pwPath)).toBe(false);
    } finally {
      if (agent.exitCode === null && agent.pid) process.kill(agent.pid, 'SIGKILL');
      if (hangPid) { try { process.kill(hangPid, 'SIGKILL'); } catch { /* already gone */ } }
    }
  });

  it('a wrong password: exit 1, "Unable to connect/login", bounded time', async () => {
    const r = await fence(`${conf().replace(PASSWORD, 'not-the-password')}action=off\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Unable to connect/login to fencing device');
    expect(r.ms).toBeLessThan(20_000);
    expect(state()).toBe('on');
  });

  it('a missing password: exit 1 before ipmitool ever runs', async () => {
    const r = await fence(`method=ipmi\nip=127.0.0.1\nipport=${port}\nusername=${USER}\nipmitool_path=${wrapper}\naction=off\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Failed: You have to set login password');
    expect(argvLines()).toBe('');
  });

  it('an unreachable BMC (loopback port, nothing listening): exit 1 within the timeout', async () => {
    const dead = await freeUdpPort();
    const r = await fence(`${conf().replace(`ipport=${port}`, `ipport=${dead}`).replace('login_timeout=2', 'login_timeout=1')}action=off\n`);
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(15_000); // ipmitool -N 1 -R 1, bounded by the agent at 3·login_timeout+5 s
  }, 30_000);

  it('verbose run with a debug file: the password is in neither', async () => {
    const dbg = join(dir, 'debug.log');
    const r = await fence(`${conf()}action=reboot\nverbose=1\ndebug_file=${dbg}\n`);
    expect(r.code).toBe(0);
    const all = r.stdout + r.stderr + readFileSync(dbg, 'utf8');
    expect(all).toContain('DEBUG: running');
    expect(all).not.toContain(PASSWORD);
  });
});

// The level-0 fast path (src/ocf/fastpath.ts, issue 25): the built agent is a sh script and a
// JavaScript bundle at once; sh answers a recurring level-0 monitor of a running resource and
// hands everything else to node. Each case runs the agent file as Pacemaker does AND its
// JavaScript alone (`node FILE`, the Node path), and the answers must be the same.
// "Answered by sh" is proven with NODE_OPTIONS pointing at a missing preload: any node start
// then fails, so a 0 under it can only come from sh.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from '../helpers/sync';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distOcf, runAgent, tempDir, type AgentRun } from '../helpers/agents';
import { describeWith } from '../helpers/prereq';
import { prologue, recordKey, withPrologue } from '../../src/ocf/fastpath';

const agent = join(distOcf, 'tftpd');
let dir: string;
let port = 0;
const base = () => ({ root: join(dir, 'root'), listen: '127.0.0.1 ::1', port: String(port), run_dir: join(dir, 'run') });
const env = (extra: Record<string, string> = {}) => ({ HA_OSCAR_MONITOR_DIR: join(dir, 'monitor'), OCF_RESOURCE_INSTANCE: 'fp', ...extra });
const recurring0 = { OCF_RESKEY_CRM_meta_interval: '10000' };
const recurring10 = { OCF_RESKEY_CRM_meta_interval: '30000', OCF_CHECK_LEVEL: '10' };
const noNode = { NODE_OPTIONS: '--require=/nonexistent/ha-oscar-no-node.js' };
const record = () => join(dir, 'monitor', 'tftpd.fp');
const pidfile = (i: number) => join(dir, 'run', `tftpd-${i}.pid`);
const pidOf = (i: number) => Number(readFileSync(pidfile(i), 'utf8').trim());

/** The agent's JavaScript alone, `node FILE monitor`: the Node path. */
function nodePath(extra: Record<string, string>, params: Record<string, string> = base()): AgentRun {
  const r = spawnSync(process.execPath, [agent, 'monitor'], {
    encoding: 'utf8', timeout: 60_000,
    env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', OCF_RESKEY_CRM_meta_timeout: '20000', ...env(extra), ...Object.fromEntries(Object.entries(params).map(([k, v]) => [`OCF_RESKEY_${k}`, v])) },
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', reasons: (r.stderr ?? '').split('\n').filter((l) => l.startsWith('ocf-exit-reason:')).map((l) => l.slice('ocf-exit-reason:'.length)), ms: 0 };
}
const sh = (extra: Record<string, string>, params: Record<string, string> = base()) => runAgent(agent, 'monitor', params, env(extra));
/** Same exit code and exit reasons through the agent file and through node alone. */
function same(extra: Record<string, string>, params: Record<string, string> = base()): number {
  const a = sh(extra, params);
  const b = nodePath(extra, params);
  expect(a.code, a.stderr).toBe(b.code);
  expect(a.reasons).toEqual(b.reasons);
  return a.code;
}

describe('the sh prologue', () => {
  it('is generated from the declaration: names every parameter literally and evaluates none', () => {
    const text = prologue('tftpd', ['root', 'listen']);
    expect(text.startsWith('#!/bin/sh\n":" /*\n')).toBe(true);
    expect(text.endsWith('exec node "$0" "$@"\n: <<\'//ha-oscar-js-end\'\n*/\n')).toBe(true);
    expect(withPrologue(text, '#!/usr/bin/env node\nfoo();\n')).toBe(`${text}foo();\n//ha-oscar-js-end\n`);
    expect(() => withPrologue(text, 'a\n//ha-oscar-js-end\nb\n')).toThrow(/has a line/);
    expect(text).toContain('${OCF_RESKEY_listen+s}${#OCF_RESKEY_listen}:${OCF_RESKEY_listen-}');
    expect(text).not.toMatch(/\beval\b/);
    expect(() => prologue('tftpd', ['a;b'])).toThrow(/bad parameter name/);
  });
  it('computes the same record key as the runtime, also for values sh could mis-split', () => {
    const values = { OCF_RESKEY_root: "/srv/it's $(x) `y` \\ \"q\"", OCF_RESKEY_listen: 'é 1.2.3.4;5:6', PATH: '/bin' };
    // the prologue's key lines alone, then print the key
    const keyLines = prologue('tftpd', ['root', 'listen', 'unset_one']).split('\n').filter((l) => /^  k=/.test(l));
    const script = `${keyLines.join('\n')}\nprintf %s "$k"\n`;
    const keyDir = tempDir('fastpath-key');
    const file = join(keyDir, 'key.sh');
    writeFileSync(file, script);
    let r;
    try { r = spawnSync('/bin/sh', [file], { encoding: 'utf8', env: { ...values, OCF_RESOURCE_INSTANCE: 'x:1' } }); } finally { rmSync(keyDir, { recursive: true, force: true }); }
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(recordKey(['root', 'listen', 'unset_one'], { ...values, OCF_RESOURCE_INSTANCE: 'x:1' }));
  });
});

describeWith({ bins: ['in.tftpd'], root: true, packages: ['tftpd-hpa'] }, 'fast path = Node path (ocf:ha-oscar:tftpd)', () => {
  beforeAll(() => {
    dir = tempDir('fastpath');
    mkdirSync(join(dir, 'root'), { recursive: true });
    port = 20000 + Math.floor(Math.random() * 20000);
  });
  afterAll(() => {
    for (const i of [0, 1]) try { process.kill(pidOf(i), 'SIGCONT'); } catch { /* gone */ }
    runAgent(agent, 'stop', base(), env());
    rmSync(dir, { recursive: true, force: true });
  });

  it('the built agent is a sh script; `node FILE` runs the same agent', () => {
    expect(readFileSync(agent, 'utf8').startsWith('#!/bin/sh\n":" /*\n')).toBe(true);
    expect(nodePath({}).code).toBe(7);
    expect(runAgent(process.execPath, agent, {}, {}).code).toBe(2); // no action: usage, OCF_ERR_ARGS
  });

  it('running: Node records it, then sh answers recurring level-0 monitors without starting node', () => {
    expect(runAgent(agent, 'start', base(), env()).code).toBe(0);
    expect(existsSync(record())).toBe(false); // start removes the record
    expect(sh(noNode).code).not.toBe(0); // no record yet: node must run, and cannot
    expect(same(recurring0)).toBe(0); // Node's success writes the record
    expect(readFileSync(record(), 'utf8')).toContain(`p\t${pidOf(0)}\t`);
    expect(sh({ ...recurring0, ...noNode }).code).toBe(0); // answered by sh
    expect(sh({ ...recurring0, OCF_CHECK_LEVEL: '0', ...noNode }).code).toBe(0);
    // everything else still goes to node: probes, deeper levels, other parameters, other actions
    expect(sh(noNode).code).not.toBe(0); // probe (no interval)
    expect(sh({ ...recurring10, ...noNode }).code).not.toBe(0);
    expect(sh({ ...recurring0, ...noNode }, { ...base(), secure: 'false' }).code).not.toBe(0);
    expect(runAgent(agent, 'validate-all', base(), env(noNode)).code).not.toBe(0);
    expect(same(recurring10)).toBe(0);
  });

  it('a hung daemon (SIGSTOP): level 0 still says running, level 10 goes to Node and finds it', () => {
    const pid = pidOf(1);
    process.kill(pid, 'SIGSTOP');
    try {
      expect(same(recurring0)).toBe(0);
      expect(sh({ ...recurring0, ...noNode }).code).toBe(0);
      const r = sh(recurring10);
      expect(r.code).toBe(1);
      expect(r.reasons.join(' ')).toMatch(/tftp:\/\/\[::1\]/);
      expect(existsSync(record())).toBe(false); // a failed monitor removes the record
    } finally { process.kill(pid, 'SIGCONT'); }
    expect(same(recurring0)).toBe(0);
  });

  it('a PID reused by another program, a stale pidfile, a missing pidfile: sh hands over, same answers', async () => {
    expect(same(recurring0)).toBe(0);
    const real = pidOf(1);
    // PID reuse: the pidfile names a live process that is not in.tftpd
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    const sleeper = other.pid!;
    try {
      writeFileSync(pidfile(1), `${sleeper}\n`);
      expect(sh({ ...recurring0, ...noNode }).code).not.toBe(0);
      expect(same(recurring0)).toBe(1);
    } finally { other.kill('SIGKILL'); }
    await new Promise((r) => { if (other.exitCode !== null || other.signalCode !== null) r(null); else other.once('exit', r); });
    // stale: a PID that is gone (reaped)
    writeFileSync(pidfile(1), `${sleeper}\n`);
    expect(same(recurring0)).toBe(1);
    // missing pidfile
    rmSync(pidfile(1));
    expect(same(recurring0)).toBe(1);
    writeFileSync(pidfile(1), `${real}\n`);
    expect(same(recurring0)).toBe(0);
    expect(sh({ ...recurring0, ...noNode }).code).toBe(0);
  });

  it('stopped: the record goes with stop, and sh answers nothing', () => {
    expect(runAgent(agent, 'stop', base(), env()).code).toBe(0);
    expect(existsSync(record())).toBe(false);
    expect(same(recurring0)).toBe(7);
    expect(same({})).toBe(7); // probe
  });
});

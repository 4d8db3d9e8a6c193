// Pacemaker sees fence_haoscar: installed in /usr/sbin (temporarily, never over an
// existing different file), `stonith_admin --metadata -a fence_haoscar` returns its
// metadata (checked with xmllint) and `stonith_admin --list-installed` lists it.
import { it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync, copyFileSync, chmodSync, renameSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../src/service/run.js';
import { describeWith } from '../helpers/prereq.js';

const root = resolve(__dirname, '../..');

describeWith({ bins: ['stonith_admin', 'xmllint'], root: true, packages: ['pacemaker-cli-utils', 'libxml2-utils'] }, 'fence_haoscar installed for Pacemaker', () => {
  let dir: string;
  let name = 'fence_haoscar';
  let installed: string | undefined; // what we put in /usr/sbin and must remove

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'dv8-stonith-'));
    const bin = join(dir, 'fence_haoscar');
    const build = await import(join(root, 'scripts/build.mjs'));
    await build.bundle(join(root, 'agents/fence_haoscar.ts'), bin);
    const mine = readFileSync(bin);
    const target = '/usr/sbin/fence_haoscar';
    if (existsSync(target) && !readFileSync(target).equals(mine)) {
      // Someone else's fence_haoscar is installed: leave it alone, test ours under a unique name.
      name = `fence_haoscar_dv8t${process.pid}`;
    }
    const dest = `/usr/sbin/${name}`;
    if (!existsSync(dest)) {
      const tmp = `/usr/sbin/.${name}.tmp-${process.pid}`;
      copyFileSync(bin, tmp);
      chmodSync(tmp, 0o755);
      renameSync(tmp, dest);
      installed = dest;
    }
  }, 60_000);

  afterAll(() => {
    if (installed) { try { unlinkSync(installed); } catch { /* already gone */ } }
    if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('stonith_admin --metadata -a fence_haoscar returns well-formed fence-agents metadata', async () => {
    const r = await run('stonith_admin', ['--metadata', '-a', name], { timeoutMs: 30_000 });
    expect(r.stderr.trim()).toBe('');
    expect(r.code).toBe(0);
    const wf = await run('xmllint', ['--noout', '-'], { input: r.stdout, timeoutMs: 10_000 });
    expect(wf.code).toBe(0);
    const x = async (xp: string) => (await run('xmllint', ['--xpath', xp, '-'], { input: r.stdout, timeoutMs: 10_000 })).stdout.trim();
    expect(await x('string(/resource-agent/@name)')).toBe('fence_haoscar');
    for (const p of ['action', 'ip', 'plug', 'port', 'password', 'community', 'snmp_version', 'method', 'power_timeout']) {
      expect(await x(`count(/resource-agent/parameters/parameter[@name="${p}"])`)).toBe('1');
    }
    for (const a of ['on', 'off', 'reboot', 'status', 'list', 'monitor', 'metadata', 'validate-all']) {
      expect(await x(`count(/resource-agent/actions/action[@name="${a}"])`)).toBe('1');
    }
  });

  it('stonith_admin --list-installed lists it', async () => {
    const r = await run('stonith_admin', ['--list-installed'], { timeoutMs: 30_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n').map((l) => l.trim())).toContain(name);
  });

  it('stonith_admin --validate runs the agent\'s validate-all: good config passes, missing password / bad version fail with the reason', async () => {
    const ok = await run('stonith_admin', ['--validate', '-a', name, '-o', 'ip=127.0.0.1', '-o', 'port=1'], { timeoutMs: 30_000 });
    expect(ok.stdout).toContain(`Validation of ${name} succeeded`);
    expect(ok.code).toBe(0);
    const nopw = await run('stonith_admin', ['--validate', '-a', name, '-o', 'ip=127.0.0.1', '-o', 'method=ipmi'], { timeoutMs: 30_000 });
    expect(nopw.code).not.toBe(0);
    expect(nopw.stdout + nopw.stderr).toContain('Failed: You have to set login password');
    const badv = await run('stonith_admin', ['--validate', '-a', name, '-o', 'ip=127.0.0.1', '-o', 'port=1', '-o', 'snmp_version=9'], { timeoutMs: 30_000 });
    expect(badv.code).not.toBe(0);
    expect(badv.stdout + badv.stderr).toContain('snmp_version must be one of 1, 2c, 3');
  });

  it('the installed agent validates a configuration the way Pacemaker passes it (stdin)', async () => {
    const r = await run(`/usr/sbin/${name}`, [], { input: 'action=validate-all\nip=127.0.0.1\nport=1\nnodename=head1\ncommunity=x\n', timeoutMs: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});

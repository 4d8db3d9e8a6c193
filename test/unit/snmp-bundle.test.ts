// The shipped single-file subagent (as scripts/build.mjs bundles it), copied away from
// node_modules, run against a real snmpd, reading a file CIB with the real crm_mon/cibadmin.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWith } from '../helpers/prereq';
import { SnmpLab, waitFor, startDaemon, stopDaemon, repo, type Daemon } from '../fixtures/snmp/harness';

describeWith({ bins: ['snmpd', 'snmpget', 'snmptable', 'crm_mon', 'cibadmin'], packages: ['snmpd', 'snmp', 'pacemaker-cli-utils'] }, 'ha-oscar-snmp-agent bundle', () => {
  const lab = new SnmpLab();
  const dir = mkdtempSync(join(tmpdir(), 'dv7-bundle-'));
  const cib = join(dir, 'cib.xml');
  let agent: Daemon | undefined;

  beforeAll(async () => {
    await lab.start();
    const { bundle } = await import(join(repo, 'scripts', 'build.mjs'));
    await bundle(join(repo, 'src', 'snmp', 'subagent-main.ts'), join(dir, 'ha-oscar-snmp-agent'));
    copyFileSync(join(repo, 'test', 'fixtures', 'crm_mon', 'cib-file.xml'), cib);
    agent = startDaemon(process.execPath, [join(dir, 'ha-oscar-snmp-agent'), '--master', lab.agentx, '--state', join(dir, 'state.json'), '--trigger', join(dir, 'refresh'), '--poll-ms', '300', '--node', 'head1', '--mdstat', join(dir, 'no-mdstat')],
      { CIB_file: cib, NODE_PATH: '' });
  });
  afterAll(async () => {
    await stopDaemon(agent);
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the file CIB through snmpd', async () => {
    await waitFor('cluster name', async () => (await lab.snmp('snmpget', '127.0.0.1', ['-Oqv'], ['HA-OSCAR-MIB::haOscarClusterName.0'])).stdout.trim() === 'oscar-heads', 15_000, 200);
    const n = await lab.snmp('snmptable', 'udp6:[::1]', ['-Cf', '|', '-CH'], ['HA-OSCAR-MIB::haOscarNodeTable']);
    expect(n.stdout.trim().split('\n')).toEqual(['head1|1|offline|false|0|green|', 'head2|2|offline|false|0|green|']);
    const s = await lab.snmp('snmptable', '127.0.0.1', ['-Cf', '|', '-CH'], ['HA-OSCAR-MIB::haOscarServiceTable']);
    expect(s.stdout.trim().split('\n')[0]).toBe('dhcp|stopped||192.0.2.10|0|0 seconds');
    expect(agent!.out.join('')).toContain('registered');
  });

  it('notices a CIB change through the epoch poll', async () => {
    writeFileSync(cib, readFileSync(cib, 'utf8').replace('value="oscar-heads"', 'value="renamed"').replace('epoch="42"', 'epoch="43"'));
    await waitFor('renamed', async () => (await lab.snmp('snmpget', '127.0.0.1', ['-Oqv'], ['HA-OSCAR-MIB::haOscarClusterName.0'])).stdout.trim() === 'renamed', 10_000, 200);
  });

  it('stops cleanly on SIGTERM', async () => {
    const exited = new Promise<number | null>((r) => agent!.proc.once('exit', (c) => r(c)));
    process.kill(agent!.pid, 'SIGTERM');
    expect(await exited).toBe(0);
    expect(agent!.out.join('')).not.toMatch(/\n\s+at /); // no stack trace
  });
});

describeWith({ bins: ['snmpd', 'snmpget', 'crm_mon', 'cibadmin'], root: true, packages: ['snmpd', 'snmp', 'pacemaker-cli-utils'] }, 'ha-oscar-snmp-agent as an unprivileged user', () => {
  const lab = new SnmpLab();
  const dir = mkdtempSync(join(tmpdir(), 'dv7-nobody-'));
  let agent: Daemon | undefined;
  const NOBODY = 65534;

  beforeAll(async () => {
    await lab.start();
    // The user needs: the AgentX socket (agentXPerms), the program, the CIB, a state directory.
    chmodSync(lab.dir, 0o755);
    chmodSync(lab.agentx, 0o666);
    chmodSync(dir, 0o755);
    const { bundle } = await import(join(repo, 'scripts', 'build.mjs'));
    await bundle(join(repo, 'src', 'snmp', 'subagent-main.ts'), join(dir, 'ha-oscar-snmp-agent'));
    copyFileSync(join(repo, 'test', 'fixtures', 'crm_mon', 'cib-file.xml'), join(dir, 'cib.xml'));
    chmodSync(join(dir, 'cib.xml'), 0o644);
    mkdirSync(join(dir, 'state'), { mode: 0o700 });
    chownSync(join(dir, 'state'), NOBODY, NOBODY);
    const proc = spawn(process.execPath, [join(dir, 'ha-oscar-snmp-agent'), '--master', lab.agentx, '--state', join(dir, 'state', 'f.json'), '--trigger', join(dir, 'state', 'refresh'), '--node', 'head1', '--mdstat', join(dir, 'none')],
      { uid: NOBODY, gid: NOBODY, env: { PATH: process.env.PATH, CIB_file: join(dir, 'cib.xml') }, stdio: ['ignore', 'pipe', 'pipe'] });
    agent = { proc, pid: proc.pid ?? -1, out: [] };
    proc.stdout!.on('data', (b) => agent!.out.push(String(b)));
    proc.stderr!.on('data', (b) => agent!.out.push(String(b)));
  });
  afterAll(async () => {
    await stopDaemon(agent);
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the MIB without root', async () => {
    await waitFor('cluster name', async () => (await lab.snmp('snmpget', '127.0.0.1', ['-Oqv'], ['HA-OSCAR-MIB::haOscarClusterName.0'])).stdout.trim() === 'oscar-heads', 20_000, 200);
    expect(readFileSync(`/proc/${agent!.pid}/status`, 'utf8')).toMatch(/^Uid:\s+65534\s/m);
  });
});

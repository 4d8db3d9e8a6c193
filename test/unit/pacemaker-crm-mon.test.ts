// crm_mon / cibadmin / corosync-cfgtool / mdstat readers, fed fixtures through the injectable runner.
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCrmMon, parseCibConfig, readCrmMon, readCibEpoch, parseScore, parseTime, type Runner } from '../../src/pacemaker/crm-mon';
import { parseCfgtool, parseLinkAttribute, readCfgtool } from '../../src/pacemaker/corosync';
import { parseMdstat, raidFromAttributes, readMdstat } from '../../src/pacemaker/mdstat';
import { run } from '../../src/service/run';
import { describeWith } from '../helpers/prereq';

const fx = (p: string) => readFileSync(join(__dirname, '..', 'fixtures', p), 'utf8');
const fake = (stdout: string, code = 0): Runner & { calls: string[][] } => {
  const calls: string[][] = [];
  const f = (async (cmd: string, args: readonly string[]) => { calls.push([cmd, ...args]); return { code, stdout, stderr: code ? 'boom: no cluster\n' : '', timedOut: false }; }) as Runner & { calls: string[][] };
  f.calls = calls;
  return f;
};

describe('crm_mon XML', () => {
  it('maps a healthy two-head cluster', async () => {
    const s = await parseCrmMon(fx('crm_mon/two-heads.xml'));
    expect(s.dc).toBe('head1');
    expect(s.quorum).toBe(true);
    expect(s.nodesConfigured).toBe(2);
    expect(s.resourcesConfigured).toBe(12);
    expect(s.lastChange).toBe(Date.UTC(2026, 10, 25, 13, 58, 20) / 1000 + new Date().getTimezoneOffset() * 60);
    expect(s.nodes.map((n) => [n.name, n.state, n.isDc, n.resourcesRunning, n.health])).toEqual([
      ['head1', 'online', true, 9, 'green'], ['head2', 'online', false, 3, 'yellow']]);
    expect(s.nodes[1].attributes['ha-oscar-raid-md0']).toBe('active raid1 [2/1] [U_]');
    const dhcpd = s.resources.find((r) => r.id === 'dhcpd')!;
    expect(dhcpd).toMatchObject({ agent: 'systemd:isc-dhcp-server', role: 'started', nodes: ['head1'], parents: ['g-dhcp'], failCount: 1, failed: false });
    expect(dhcpd.lastFailure).toBe('monitor on head1: not running');
    expect(s.resources.filter((r) => r.id === 'ping').map((r) => r.nodes[0])).toEqual(['head1', 'head2']);
    expect(s.resources.filter((r) => r.id === 'drbd').map((r) => r.role)).toEqual(['promoted', 'unpromoted']);
    expect(s.resources).toHaveLength(13);
  });

  it('maps odd states: unclean, pending, standby, maintenance, failed stop, not running, no quorum', async () => {
    const s = await parseCrmMon(fx('crm_mon/odd-states.xml'));
    expect(s.quorum).toBe(false);
    expect(Object.fromEntries(s.nodes.map((n) => [n.name, n.state]))).toEqual({ head1: 'standby', head2: 'unclean', head3: 'pending', head4: 'maintenance' });
    expect(s.nodes.find((n) => n.name === 'head4')!.health).toBe('red');
    const nfs = s.resources.find((r) => r.id === 'nfsserver')!;
    expect(nfs).toMatchObject({ failed: true, blocked: true, managed: false, failCount: 1_000_000, nodes: ['head2'] });
    expect(nfs.lastFailure).toBe('stop on head2: error: Failed to unexport /export');
    const dhcpd = s.resources.find((r) => r.id === 'dhcpd')!;
    expect(dhcpd).toMatchObject({ role: 'stopped', nodes: [], failCount: 1_000_000 });
    expect(dhcpd.lastFailure).toBe('monitor on head1: not running: dhcpd exited');
    expect(s.resources.find((r) => r.id === 'tftpd')!.role).toBe('starting');
  });

  it('gives a one-line reason for bad input', async () => {
    await expect(parseCrmMon('not xml <')).rejects.toThrow(/^crm_mon output is not XML: [^\n]+$/);
    await expect(parseCrmMon('<other/>')).rejects.toThrow('no <pacemaker-result>');
    await expect(parseCrmMon('<pacemaker-result><status code="102" message="Not connected"/></pacemaker-result>')).rejects.toThrow('crm_mon failed: Not connected');
  });

  it('runs crm_mon through the injected runner, argv only', async () => {
    const r = fake(fx('crm_mon/two-heads.xml'));
    const s = await readCrmMon(r);
    expect(s.nodes).toHaveLength(2);
    expect(r.calls[0]).toEqual(['crm_mon', '--one-shot', '--output-as=xml', '--include=attributes,failcounts,failures']);
    await expect(readCrmMon(fake('', 1))).rejects.toThrow('crm_mon: exit 1: boom: no cluster');
  });

  it('reads the CIB epoch and configuration', async () => {
    expect(await readCibEpoch(fake('<cib crm_feature_set="3.16.2" epoch="12" num_updates="7" admin_epoch="1"/>\n'))).toBe('1:12:7');
    const c = await parseCibConfig(fx('crm_mon/cib-config.xml'));
    expect(c.clusterName).toBe('oscar-heads');
    expect(c.params['vip-nfs'].ip).toBe('192.0.2.11');
    expect(c.types.nfsserver).toBe('nfsserver');
  });

  it('parses scores and times', () => {
    expect(parseScore('INFINITY')).toBe(1_000_000);
    expect(parseScore('+INFINITY')).toBe(1_000_000);
    expect(parseScore('3')).toBe(3);
    expect(parseScore(undefined)).toBe(0);
    expect(parseTime('2026-11-25 14:09:20 +00:00')).toBe(Date.UTC(2026, 10, 25, 14, 9, 20) / 1000);
    expect(parseTime('2026-11-25 15:09:20 +01:00')).toBe(Date.UTC(2026, 10, 25, 14, 9, 20) / 1000);
    expect(parseTime('')).toBe(0);
  });
});

describeWith({ bins: ['xmllint'], packages: ['libxml2-utils', 'pacemaker-common'] }, 'fixtures are real crm_mon output', () => {
  it('fixtures validate against the crm_mon API schema', async () => {
    const rng = '/usr/share/pacemaker/api/api-result-2.25.rng';
    expect(existsSync(rng), `${rng} (pacemaker-common)`).toBe(true);
    for (const f of ['two-heads', 'odd-states', 'head1-lost', 'sets-status']) {
      const r = await run('xmllint', ['--noout', '--relaxng', rng, join(__dirname, '..', 'fixtures', 'crm_mon', `${f}.xml`)]);
      expect(r.stderr.trim(), f).toMatch(/validates$/);
    }
  });

});

describeWith({ bins: ['cibadmin', 'crm_mon'], packages: ['pacemaker-cli-utils'] }, 'against the real Pacemaker tools (file CIB)', () => {
  it('readCibEpoch and readCrmMon work on CIB_file', async () => {
    const env = { CIB_file: join(__dirname, '..', 'fixtures', 'crm_mon', 'cib-file.xml') };
    const withEnv: Runner = (cmd, args, opts) => run(cmd, args, { ...opts, env: { ...opts?.env, ...env } });
    expect(await readCibEpoch(withEnv)).toBe('0:42:3');
    const s = await readCrmMon(withEnv);
    expect(s.nodes.map((n) => [n.name, n.state])).toEqual([['head1', 'offline'], ['head2', 'offline']]);
    expect(s.resources.map((r) => r.id)).toEqual(['dhcpd', 'vip-dhcp']);
  });
});

describe('corosync-cfgtool', () => {
  it('parses knet link status', async () => {
    const s = parseCfgtool(fx('snmp/cfgtool-two-links.txt'));
    expect(s.localNodeId).toBe('1');
    expect(s.links.map((l) => `${l.node}/${l.link}=${l.status}`)).toEqual(['1/0=connected', '2/0=connected', '1/1=connected', '2/1=down']);
    expect((await readCfgtool(fake(fx('snmp/cfgtool-two-links.txt'), 1))).links).toHaveLength(4);
    await expect(readCfgtool(fake('', 1))).rejects.toThrow(/^corosync-cfgtool: exit 1/);
  });

  it('parses the ha-oscar-link attribute', () => {
    expect(parseLinkAttribute('head2', '0:up,1:down, 2:weird,x,9:up').map((l) => [l.link, l.status])).toEqual([[0, 'connected'], [1, 'down'], [2, 'unknown']]);
    // linkmon's single value for the service network: 2 ok, 1 degraded, 0 down.
    expect(['2', '1', '0'].map((v) => parseLinkAttribute('h', v)[0]).map((l) => [l.link, l.status])).toEqual([[99, 'connected'], [99, 'degraded'], [99, 'down']]);
  });
});

describe('mdstat', () => {
  it('parses arrays, degraded and inactive ones', async () => {
    const a = parseMdstat(fx('snmp/mdstat-degraded.txt'));
    expect(a).toEqual([
      { name: 'md0', state: 'active raid1 [2/1] [U_] recovery', degraded: true },
      { name: 'md1', state: 'active raid1 [2/2] [UU]', degraded: false },
      { name: 'md2', state: 'inactive', degraded: true },
    ]);
    expect(await readMdstat('/nonexistent-dv7/mdstat')).toEqual([]);
  });

  it('reads per-array node attributes', () => {
    expect(raidFromAttributes({ 'ha-oscar-raid-md1': 'clean', 'ha-oscar-raid-md0': 'active raid1 [2/1] [U_]', '#health-ha-oscar-raid': 'yellow', other: 'x' }))
      .toEqual([{ name: 'md0', state: 'active raid1 [2/1] [U_]', degraded: true }, { name: 'md1', state: 'clean', degraded: false }]);
  });
});

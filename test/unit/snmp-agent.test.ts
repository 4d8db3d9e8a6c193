// The subagent against a real snmpd (AgentX master on a private Unix socket), checked with
// the net-snmp CLI tools over IPv4 and IPv6. Cluster state comes from crm_mon fixtures
// through the injectable runner.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWith } from '../helpers/prereq';
import { SnmpLab, waitFor } from '../fixtures/snmp/harness';
import { HaOscarAgent } from '../../src/snmp/subagent';
import type { Runner } from '../../src/pacemaker/crm-mon';

const fx = (p: string) => readFileSync(join(__dirname, '..', 'fixtures', p), 'utf8');

/** A fake cluster: crm_mon/cibadmin/crm_node/corosync-cfgtool answers from fixtures. */
/** corosync-quorumtool -s of head2 with a quorum device, voting or not (as the lab's, trimmed). */
const quorumtool = (voting: boolean): string => `Quorum information
------------------
Quorum provider:  corosync_votequorum
Nodes:            2
Node ID:          2
Quorate:          Yes

Votequorum information
----------------------
Expected votes:   3
Highest expected: 3
Total votes:      ${voting ? 3 : 2}
Quorum:           2
Flags:            Quorate Qdevice

Membership information
----------------------
    Nodeid      Votes    Qdevice Name
         1          1   A,${voting ? 'V' : 'NV'},NMW head1
         2          1   A,${voting ? 'V' : 'NV'},NMW head2 (local)
         0          ${voting ? '1            Qdevice' : '0            Qdevice (votes 1)'}
`;

function fakeCluster() {
  const state = { crmMon: fx('crm_mon/two-heads.xml'), epoch: 1, calls: 0, qdeviceVoting: true };
  const runner: Runner = async (cmd, args) => {
    state.calls++;
    const ok = (stdout: string) => ({ code: 0, stdout, stderr: '', timedOut: false });
    if (cmd === 'cibadmin' && args.includes('--no-children')) return ok(`<cib epoch="${state.epoch}" num_updates="0" admin_epoch="0"/>`);
    if (cmd === 'cibadmin') return ok(fx('crm_mon/cib-config.xml'));
    if (cmd === 'crm_mon') return ok(state.crmMon);
    if (cmd === 'crm_node') return ok('head2\n');
    if (cmd === 'corosync-cfgtool') return ok(fx('snmp/cfgtool-two-links.txt'));
    if (cmd === 'corosync-quorumtool') return ok(quorumtool(state.qdeviceVoting));
    return { code: 127, stdout: '', stderr: `${cmd}: not found`, timedOut: false, spawnError: 'ENOENT' };
  };
  return { state, runner };
}

describeWith({ bins: ['snmpd', 'snmpget', 'snmpwalk', 'snmptable', 'snmpbulkwalk', 'snmptrapd'], packages: ['snmpd', 'snmp', 'snmptrapd'] }, 'subagent with a real snmpd', () => {
  const lab = new SnmpLab();
  const cluster = fakeCluster();
  let agent: HaOscarAgent;
  const logs: string[] = [];

  beforeAll(async () => {
    await lab.start({ traps: true });
    writeFileSync(join(lab.dir, 'mdstat'), fx('snmp/mdstat-degraded.txt'));
    agent = new HaOscarAgent({
      master: lab.agentx, runner: cluster.runner, stateFile: join(lab.dir, 'state', 'failovers.json'), pollMs: 200, slowPollMs: 200,
      mdstatPath: join(lab.dir, 'mdstat'), notify: true, log: (m) => logs.push(m), retryMs: 200, pingMs: 1000,
    });
    await agent.start();
    await waitFor('registration', async () => agent.subagent.connected, 10_000);
  });

  afterAll(async () => {
    await agent?.stop();
    await lab.stop();
  });

  for (const host of ['127.0.0.1', 'udp6:[::1]']) {
    it(`snmpwalk and snmptable show the tables over ${host.includes('::1') ? 'IPv6' : 'IPv4'}`, async () => {
      const w = await lab.snmp('snmpwalk', host, ['-Os'], ['HA-OSCAR-MIB::haOscarMIB']);
      expect(w.code, w.stderr).toBe(0);
      expect(w.stdout).toContain('haOscarClusterName.0 = STRING: oscar-heads');
      expect(w.stdout).toContain('haOscarClusterQuorum.0 = INTEGER: quorate(1)');
      expect(w.stdout).toContain('haOscarClusterDC.0 = STRING: head1');
      expect(w.stdout).toContain('haOscarClusterFailovers.0 = Counter64: 0');
      expect(w.stdout).toContain('haOscarNodeState.2 = INTEGER: online(1)');
      expect(w.stdout).toContain('haOscarNodeHealth.2 = INTEGER: yellow(2)');

      const nodes = await lab.snmp('snmptable', host, ['-Cf', '|', '-CH'], ['HA-OSCAR-MIB::haOscarNodeTable']);
      expect(nodes.code, nodes.stderr).toBe(0);
      expect(nodes.stdout.trim().split('\n')).toEqual([
        'head1|1|online|true|9|green|#health-ha-oscar-raid=green',
        'head2|2|online|false|3|yellow|#health-ha-oscar-raid=yellow',
      ]);
      const svc = await lab.snmp('snmptable', host, ['-Cf', '|', '-CH'], ['HA-OSCAR-MIB::haOscarServiceTable']);
      expect(svc.stdout.trim().split('\n')).toEqual([
        'dhcp|running|head1|192.0.2.10|0|0 seconds',
        'tftp|running|head1||0|0 seconds',
        'ntp|running|head1||0|0 seconds',
        'nfs|running|head1|192.0.2.11|0|0 seconds',
        'snmp|notConfigured|||0|0 seconds',
      ]);
      const res = await lab.snmp('snmptable', host, ['-Cf', '|', '-CH'], ['HA-OSCAR-MIB::haOscarResourceTable']);
      const rows = res.stdout.trim().split('\n');
      expect(rows).toHaveLength(13);
      expect(rows).toContain('dhcpd|systemd:isc-dhcp-server|started|head1|1|true|false|monitor on head1: not running');
      expect(rows).toContain('drbd|ocf:linbit:drbd|promoted|head1|0|true|false|');
      const links = await lab.snmp('snmptable', host, ['-Cf', '|', '-CH', '-Ci'], ['HA-OSCAR-MIB::haOscarLinkTable']);
      expect(links.stdout.trim().split('\n')).toEqual([
        '1.1|head1|connected|cfgtool', '1.2|head1|connected|cfgtool', '1.100|head1|connected|attribute',
        '2.1|head2|connected|cfgtool', '2.2|head2|down|cfgtool', '2.100|head2|degraded|attribute',
      ]);
      const raid = await lab.snmp('snmptable', host, ['-Cf', '|', '-CH', '-Ci'], ['HA-OSCAR-MIB::haOscarRaidTable']);
      // head1 from its node attribute; head2 is this node: /proc/mdstat.
      expect(raid.stdout.trim().split('\n')).toEqual([
        '1.1|head1|md0|active raid1 [2/2] [UU]|false',
        '2.1|head2|md0|active raid1 [2/1] [U_] recovery|true',
        '2.2|head2|md1|active raid1 [2/2] [UU]|false',
        '2.3|head2|md2|inactive|true',
      ]);
    });
  }

  it('snmpbulkwalk returns the same as snmpwalk', async () => {
    const a = await lab.snmp('snmpwalk', '127.0.0.1', ['-On'], ['HA-OSCAR-MIB::haOscarMIB']);
    const b = await lab.snmp('snmpbulkwalk', 'udp6:[::1]', ['-On', '-Cr25'], ['HA-OSCAR-MIB::haOscarMIB']);
    expect(b.code, b.stderr).toBe(0);
    // DataAge may tick between the walks.
    const strip = (s: string) => s.split('\n').filter((l) => !l.startsWith('.1.3.6.1.3.7460.1.1.11.0')).join('\n');
    expect(strip(b.stdout)).toBe(strip(a.stdout));
    expect(a.stdout.trim().split('\n').length).toBe(13 + 2 * 7 + 13 * 8 + 5 * 6 + 6 * 3 + 4 * 4);
  });

  it('answers noSuchInstance for a missing row and noSuchObject outside the MIB objects', async () => {
    const r = await lab.snmp('snmpget', '127.0.0.1', ['-On'], ['HA-OSCAR-MIB::haOscarNodeName.99', 'HA-OSCAR-MIB::haOscarClusterName.1', '.1.3.6.1.3.7460.1.9.1.0', 'HA-OSCAR-MIB::haOscarClusterDC.0']);
    expect(r.stdout).toContain('.1.3.6.1.3.7460.1.2.1.2.99 = No Such Instance currently exists at this OID');
    expect(r.stdout).toContain('.1.3.6.1.3.7460.1.1.1.1 = No Such Instance currently exists at this OID');
    expect(r.stdout).toContain('.1.3.6.1.3.7460.1.9.1.0 = No Such Object available on this agent at this OID');
    expect(r.stdout).toContain('.1.3.6.1.3.7460.1.1.3.0 = STRING: head1');
  });

  it('is read-only: a set through a read-write community is refused by the subagent', async () => {
    const r = await lab.snmp('snmpset', '127.0.0.1', [], ['HA-OSCAR-MIB::haOscarClusterDC.0', 's', 'intruder'], lab.rwConf());
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/notWritable/);
    const dc = await lab.snmp('snmpget', '127.0.0.1', ['-Oqv'], ['HA-OSCAR-MIB::haOscarClusterDC.0']);
    expect(dc.stdout.trim()).toBe('head1');
  });

  it('refreshes on CIB change: the tables show the failover, the counter survives in the state file, a trap goes out', async () => {
    const before = cluster.state.calls;
    cluster.state.crmMon = fx('crm_mon/head1-lost.xml');
    cluster.state.epoch++;
    await waitFor('failover in the service table', async () => {
      const svc = await lab.snmp('snmptable', '127.0.0.1', ['-Cf', '|', '-CH'], ['HA-OSCAR-MIB::haOscarServiceTable']);
      return svc.stdout.includes('dhcp|running|head2|192.0.2.10|1|');
    }, 10_000, 200);
    expect(cluster.state.calls).toBeGreaterThan(before);
    const n = await lab.snmp('snmptable', 'udp6:[::1]', ['-Cf', '|', '-CH'], ['HA-OSCAR-MIB::haOscarNodeTable']);
    expect(n.stdout).toContain('head1|1|offline|false|0|green');
    const c = await lab.snmp('snmpget', '127.0.0.1', ['-Oqv'], ['HA-OSCAR-MIB::haOscarClusterFailovers.0']);
    expect(c.stdout.trim()).toBe('4'); // dhcp, tftp, ntp, nfs moved
    const saved = JSON.parse(readFileSync(join(lab.dir, 'state', 'failovers.json'), 'utf8'));
    expect(saved.total).toBe('4');
    expect(saved.services.nfs.node).toBe('head2');
    // This node (head2) took over: it sent haOscarFailover through snmpd's trap2sink.
    const trap = await waitFor('haOscarFailover trap', async () => lab.traps().find((t) => t.includes('.1.3.6.1.3.7460.0.1') && t.includes('"dhcp"')), 10_000);
    expect(trap).toContain('.1.3.6.1.3.7460.1.8.4.0 = STRING: "head1"');
    expect(trap).toContain('.1.3.6.1.3.7460.1.8.5.0 = STRING: "head2"');
  });

  it('shows the quorum device and sends haOscarQuorumDeviceLost / Regained when its vote goes and comes back', async () => {
    const q = await lab.snmp('snmpget', '127.0.0.1', ['-Oqv'], ['HA-OSCAR-MIB::haOscarClusterQuorumDevice.0', 'HA-OSCAR-MIB::haOscarClusterQuorumVotes.0']);
    expect(q.stdout.trim().split('\n')).toEqual(['voting', '3']);
    cluster.state.qdeviceVoting = false;
    const lost = await waitFor('haOscarQuorumDeviceLost trap', async () => lab.traps().find((t) => t.includes('.1.3.6.1.3.7460.0.8')), 10_000);
    expect(lost).toContain('.1.3.6.1.3.7460.1.8.1.0 = STRING: "head2"');
    expect(lost).toMatch(/quorum device vote lost on head2: 2 votes, quorate/);
    await waitFor('notVoting in the MIB', async () => (await lab.snmp('snmpget', '127.0.0.1', ['-Oqv'], ['HA-OSCAR-MIB::haOscarClusterQuorumDevice.0'])).stdout.trim() === 'notVoting', 10_000, 200);
    expect(logs.some((l) => l.includes('quorum device vote lost on head2'))).toBe(true);
    cluster.state.qdeviceVoting = true;
    const back = await waitFor('haOscarQuorumDeviceRegained trap', async () => lab.traps().find((t) => t.includes('.1.3.6.1.3.7460.0.9')), 10_000);
    expect(back).toMatch(/quorum device votes again on head2: 3 votes/);
    // one of each: a steady state sends nothing more
    await new Promise((r) => setTimeout(r, 1_000));
    expect(lab.traps().filter((t) => /\.1\.3\.6\.1\.3\.7460\.0\.[89]\b/.test(t)).length).toBe(2);
  });

  it('Counter64 goes through snmpd exactly (2^64-1)', async () => {
    agent.record = { ...agent.record, total: '18446744073709551615' };
    cluster.state.epoch++; // same state: no move, the total stays
    await waitFor('2^64-1', async () => {
      const c = await lab.snmp('snmpget', '127.0.0.1', ['-Oqv'], ['HA-OSCAR-MIB::haOscarClusterFailovers.0']);
      return c.stdout.trim() === '18446744073709551615';
    }, 10_000, 200);
  });

  it('re-attaches within seconds after snmpd restarts', async () => {
    const sessions = agent.subagent.sessions;
    await lab.stopSnmpd();
    await lab.startSnmpd();
    const t0 = Date.now();
    await waitFor('re-registration', async () => {
      const r = await lab.snmp('snmpget', '127.0.0.1', ['-Oqv'], ['HA-OSCAR-MIB::haOscarClusterName.0']);
      return r.stdout.includes('oscar-heads');
    }, 15_000, 200);
    expect(agent.subagent.sessions).toBeGreaterThan(sessions);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(logs.some((l) => l.includes('re-registered'))).toBe(true);
  });
});

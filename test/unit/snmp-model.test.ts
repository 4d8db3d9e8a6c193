// Cluster state -> HA-OSCAR-MIB rows, the failover record, and the refresh policy
// (crm_mon only when the CIB epoch moved; never per SNMP request).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCrmMon, parseCibConfig, type Runner } from '../../src/pacemaker/crm-mon';
import { parseCfgtool } from '../../src/pacemaker/corosync';
import { buildSnapshot, emptyRecord, SERVICE_STATE, NODE_STATE } from '../../src/snmp/model';
import { buildMib, OBJECT_TYPES } from '../../src/snmp/mib-def';
import { HaOscarAgent } from '../../src/snmp/subagent';

const fx = (p: string) => readFileSync(join(__dirname, '..', 'fixtures', p), 'utf8');

describe('snapshot', () => {
  it('maps odd states to rows', async () => {
    const { snapshot: s } = buildSnapshot({ status: await parseCrmMon(fx('crm_mon/odd-states.xml')), now: 1000 });
    expect(s.cluster).toMatchObject({ quorum: 2, dc: 'head1', nodesConfigured: 4, nodesOnline: 2, resourcesFailed: 1, failovers: 0n });
    expect(s.nodes.map((n) => [n.name, n.state, n.isDc, n.health])).toEqual([
      ['head1', NODE_STATE.standby, 1, 1], ['head2', NODE_STATE.unclean, 2, 1], ['head3', NODE_STATE.pending, 2, 1], ['head4', NODE_STATE.maintenance, 2, 3]]);
    const byName = Object.fromEntries(s.services.map((v) => [v.name, v]));
    expect(byName.nfs.state).toBe(SERVICE_STATE.failed); // failed stop on the unclean node
    expect(byName.nfs.activeNode).toBe('head2');
    expect(byName.dhcp).toMatchObject({ state: SERVICE_STATE.stopped, activeNode: '' });
    expect(byName.tftp.state).toBe(SERVICE_STATE.stopped); // still starting
    expect(byName.snmp.state).toBe(SERVICE_STATE.notConfigured);
    const nfs = s.resources.find((r) => r.id === 'nfsserver')!;
    expect(nfs).toMatchObject({ failed: 1, managed: 2, failCount: 1_000_000, node: 'head2' });
    expect(s.raid).toEqual([{ nodeIndex: 4, index: 1, node: 'head4', array: 'md0', state: 'inactive', degraded: 1 }]);
  });

  it('counts service moves, keeps the node while a service is stopped, and wraps Counter64', async () => {
    const config = await parseCibConfig(fx('crm_mon/cib-config.xml'));
    const a = buildSnapshot({ status: await parseCrmMon(fx('crm_mon/two-heads.xml')), config, now: 100 });
    expect(a.moves).toEqual([]);
    expect(a.snapshot.services[0]).toMatchObject({ name: 'dhcp', activeNode: 'head1', vips: '192.0.2.10' });
    const b = buildSnapshot({ status: await parseCrmMon(fx('crm_mon/head1-lost.xml')), config, record: a.record, now: 200 });
    expect(b.moves.map((m) => `${m.service}:${m.from}->${m.to}`)).toEqual(['dhcp:head1->head2', 'tftp:head1->head2', 'ntp:head1->head2', 'nfs:head1->head2']);
    expect(b.snapshot.cluster).toMatchObject({ failovers: 4n, lastFailover: 200 });
    expect(b.snapshot.services[0]).toMatchObject({ failovers: 1, lastFailover: 200 });
    // the record keeps the node the service left (the alert agent's previous node, issue 7)
    expect(a.record.services.dhcp).toEqual({ node: 'head1', failovers: 0, last: 0 }); // first seen: no previous node
    expect(b.record.services.dhcp).toEqual({ node: 'head2', failovers: 1, last: 200, from: 'head1' });
    const stopped = buildSnapshot({ status: await parseCrmMon(fx('crm_mon/odd-states.xml')), record: b.record, now: 300 });
    expect(stopped.moves.map((m) => m.service)).toEqual([]); // nfs still on head2, the others stopped
    const back = buildSnapshot({ status: await parseCrmMon(fx('crm_mon/two-heads.xml')), record: stopped.record, now: 400 });
    expect(back.moves.map((m) => m.service)).toEqual(['dhcp', 'tftp', 'ntp', 'nfs']);
    const wrap = buildSnapshot({ status: await parseCrmMon(fx('crm_mon/head1-lost.xml')), record: { ...back.record, total: '18446744073709551615' }, now: 500 });
    expect(wrap.record.total).toBe('18446744073709551619');
    expect(wrap.snapshot.cluster.failovers).toBe(3n);
  });

  it('service sets as the generator writes them: VIPs through colocation constraints', async () => {
    const config = await parseCibConfig(fx('crm_mon/sets-config.xml'));
    expect(config.colocated['dhcpd4'].sort()).toEqual(['tftpd', 'vip-main-ipv4', 'vip-main-ipv6']);
    expect(config.colocated['nfsserver']).toEqual(['vip-storage-ipv4']); // the -INFINITY one does not count
    const { snapshot } = buildSnapshot({ status: await parseCrmMon(fx('crm_mon/sets-status.xml')), config });
    expect(snapshot.services.map((v) => [v.name, v.state, v.activeNode, v.vips])).toEqual([
      ['dhcp', SERVICE_STATE.running, 'head1', '192.0.2.20,2001:db8::20'],
      ['tftp', SERVICE_STATE.running, 'head1', '192.0.2.20,2001:db8::20'],
      ['ntp', SERVICE_STATE.notConfigured, '', ''],
      ['nfs', SERVICE_STATE.running, 'head2', '192.0.2.30'],
      ['snmp', SERVICE_STATE.notConfigured, '', ''],
    ]);
    expect(snapshot.cluster.name).toBe('oscar-sets');
  });

  it('links: cfgtool for Corosync links, the linkmon attribute as row 100', async () => {
    const { snapshot } = buildSnapshot({ status: await parseCrmMon(fx('crm_mon/two-heads.xml')), cfgtool: parseCfgtool(fx('snmp/cfgtool-two-links.txt')) });
    expect(snapshot.links.map((l) => `${l.node}/${l.number}=${l.status}/${l.source}`)).toEqual([
      'head1/1=1/1', 'head1/2=1/1', 'head1/100=1/2', 'head2/1=1/1', 'head2/2=2/1', 'head2/100=4/2']);
  });

  it('clips strings to the MIB\'s SIZE and builds a Mib that holds every object type', async () => {
    const status = await parseCrmMon(fx('crm_mon/two-heads.xml'));
    status.resources[0].lastFailure = 'é'.repeat(300);
    const { snapshot } = buildSnapshot({ status });
    expect(Buffer.byteLength(snapshot.resources[0].lastFailure)).toBeLessThanOrEqual(255);
    const mib = buildMib(snapshot);
    for (const o of OBJECT_TYPES) expect(mib.lookup(o), o).toBeTruthy();
  });

  it('an empty record starts at zero', () => {
    expect(emptyRecord()).toEqual({ total: '0', last: 0, services: {} });
  });
});

describe('refresh policy', () => {
  it('runs crm_mon only when the CIB epoch changes, and keeps the last data when it fails', async () => {
    let epoch = 1;
    let crmMon = 0;
    let broken = false;
    const runner: Runner = async (cmd, args) => {
      const ok = (stdout: string) => ({ code: 0, stdout, stderr: '', timedOut: false });
      if (cmd === 'cibadmin') return ok(args.includes('--no-children') ? `<cib epoch="${epoch}" num_updates="0" admin_epoch="0"/>` : fx('crm_mon/cib-config.xml'));
      if (cmd === 'crm_mon') { crmMon++; return broken ? { code: 102, stdout: '', stderr: 'crm_mon: Error: cluster is not available on this node', timedOut: false } : ok(fx('crm_mon/two-heads.xml')); }
      return { code: 1, stdout: '', stderr: 'no', timedOut: false };
    };
    const logs: string[] = [];
    const agent = new HaOscarAgent({ master: '/nonexistent-dv7', runner, localNode: 'head1', log: (m) => logs.push(m), mdstatPath: '/nonexistent-dv7' });
    await agent.refresh(true);
    await agent.refresh();
    await agent.refresh();
    expect(crmMon).toBe(1);
    const before = agent.mib;
    epoch++;
    await agent.refresh();
    expect(crmMon).toBe(2);
    expect(agent.mib).not.toBe(before); // a new snapshot is swapped in whole
    broken = true;
    epoch++;
    await agent.refresh();
    expect(agent.snapshot.nodes).toHaveLength(2); // last good data kept
    expect(logs).toContain('cannot read cluster state: crm_mon: exit 102: crm_mon: Error: cluster is not available on this node');
  });
});

// What Pacemaker's own scheduler (crm_simulate) does with the generated
// configuration: where the sets start, where they go when a head fails or
// turns unhealthy, and how many start steps a failover takes with resource
// sets compared with a plain group.
import { it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseStringPromise } from 'xml2js';
import { describeWith } from '../helpers/prereq';
import { runOk } from '../../src/service/run';
import { writeFileAtomic } from '../../src/service/atomic';
import { loadDescription, buildConfig, renderFullCib, type ClusterConfig } from '../../src/crm/index';
import { asGroups } from '../../src/crm/model';

const root = join(__dirname, '..', '..');
let tmp = '';
let n = 0;
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'dv4-sim-')); });
afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

interface Sim { placement: Map<string, string>; graph: string }

/** Run crm_simulate on a CIB text; returns where each resource ends up, and the transition graph. */
async function simulate(cib: string, args: string[] = []): Promise<Sim & { cib: string }> {
  const i = n++;
  const input = join(tmp, `in-${i}.xml`); const out = join(tmp, `out-${i}.xml`); const graph = join(tmp, `graph-${i}.xml`);
  writeFileAtomic(input, cib);
  await runOk('crm_simulate', ['-x', input, '-S', '-O', out, '-G', graph, ...args], { timeoutMs: 60_000 });
  const after = readFileSync(out, 'utf8');
  const r = await runOk('crm_mon', ['--one-shot', '--output-as=xml', '--inactive'], { env: { CIB_file: out } });
  const mon = await parseStringPromise(r.stdout);
  const placement = new Map<string, string>();
  const walk = (o: any) => {
    for (const res of o?.resource ?? []) {
      if (!res.node?.[0]) continue;
      const nodes = [...(placement.get(res.$.id)?.split(',') ?? []), ...res.node.map((x: any) => x.$.name)];
      placement.set(res.$.id, [...new Set(nodes)].sort().join(','));
    }
    for (const c of o?.clone ?? []) walk(c);
    for (const g of o?.group ?? []) walk(g);
  };
  walk(mon['pacemaker-result'].resources?.[0]);
  return { placement, graph: readFileSync(graph, 'utf8'), cib: after };
}

/** The start actions of a transition graph, by level: level k starts wait for k-1 earlier starts. */
async function startLevels(graphXml: string): Promise<string[][]> {
  const g = await parseStringPromise(graphXml);
  const deps = new Map<string, string[]>();
  const starts = new Map<string, string>();
  for (const s of g.transition_graph.synapse ?? []) {
    for (const kind of ['rsc_op', 'pseudo_event', 'crm_event']) {
      for (const a of s.action_set[0][kind] ?? []) {
        const inputs: string[] = [];
        for (const t of s.inputs?.[0]?.trigger ?? []) for (const k of ['rsc_op', 'pseudo_event', 'crm_event']) for (const x of t[k] ?? []) inputs.push(x.$.id);
        deps.set(a.$.id, inputs);
        // fence devices (stonith class: fence-HEAD, fence-delay) are not service steps; where the
        // scheduler happens to place them differs between the two configurations
        if (kind === 'rsc_op' && a.$.operation === 'start' && a.primitive[0].$.class !== 'stonith') starts.set(a.$.id, a.primitive[0].$.id);
      }
    }
  }
  const memo = new Map<string, number>();
  const level = (id: string): number => {
    if (memo.has(id)) return memo.get(id)!;
    memo.set(id, 0);
    const v = Math.max(0, ...(deps.get(id) ?? []).map(level)) + (starts.has(id) ? 1 : 0);
    memo.set(id, v);
    return v;
  };
  const out: string[][] = [];
  for (const [id, rsc] of starts) { const l = level(id); (out[l - 1] ??= []).push(rsc); }
  return out.map((l) => (l ?? []).sort());
}

function cibOf(cfg: ClusterConfig, attrs: Record<string, Record<string, string>> = {}): string {
  let cib = renderFullCib(cfg);
  for (const [node, kv] of Object.entries(attrs)) {
    const id = cfg.nodes.find((x) => x.uname === node)!.id;
    const nv = Object.entries(kv).map(([k, v]) => `<nvpair id="status-${id}-${k.replace(/[^A-Za-z0-9-]/g, '')}" name="${k}" value="${v}"/>`).join('');
    cib = cib.replace(new RegExp(`(<node_state id="${id}"[^>]*)/>`), `$1><transient_attributes id="${id}"><instance_attributes id="status-${id}">${nv}</instance_attributes></transient_attributes></node_state>`);
  }
  return cib;
}

describeWith({ bins: ['crm_simulate', 'crm_mon'], packages: ['pacemaker-cli-utils'] }, 'the scheduler and the generated configuration', () => {
  it('active-standby: everything starts on one head; fencing devices never on the head they fence', async () => {
    const cfg = buildConfig(loadDescription(join(root, 'examples', 'active-standby-pdu.yaml')));
    const { placement } = await simulate(cibOf(cfg));
    const svc = ['vip-oscar-ipv4', 'vip-oscar-ipv6', 'dhcpd4', 'dhcpd6', 'tftpd', 'ntpd', 'nfsserver', 'snmpd', 'statesync'];
    for (const r of svc) expect(placement.get(r), r).toBe('head1');
    expect(placement.get('fence-head1')).toBe('head2');
    expect(placement.get('fence-head2')).toBe('head1');
  });

  it('active-active: each set on its preferred head; a failed head\'s set moves to its peer, the other set stays put', async () => {
    const cfg = buildConfig(loadDescription(join(root, 'examples', 'active-active.yaml')));
    const boot = ['vip-boot-ipv4', 'vip-boot-ipv6', 'dhcpd4', 'dhcpd6', 'tftpd'];
    const data = ['vip-data-ipv4', 'vip-data-ipv6', 'nfsserver', 'ntpd', 'snmpd'];
    const up = await simulate(cibOf(cfg));
    for (const r of boot) expect(up.placement.get(r), r).toBe('head1');
    for (const r of data) expect(up.placement.get(r), r).toBe('head2');
    // two devices for head1 (dual power supplies), none of them on head1
    expect(up.placement.get('fence-head1')).toBe('head2');
    expect(up.placement.get('fence-head1-2')).toBe('head2');

    const f1 = await simulate(up.cib, ['--node-fail', 'head1']);
    for (const r of [...boot, ...data]) expect(f1.placement.get(r), r).toBe('head2');
    expect(f1.graph).toMatch(/operation="stonith" operation_key="stonith-head1-reboot"/);
    const moved1 = (await startLevels(f1.graph)).flat();
    for (const r of data) expect(moved1, `${r} must not restart`).not.toContain(r);

    const f2 = await simulate(up.cib, ['--node-fail', 'head2']);
    for (const r of [...boot, ...data]) expect(f2.placement.get(r), r).toBe('head1');
    const moved2 = (await startLevels(f2.graph)).flat();
    for (const r of boot) expect(moved2, `${r} must not restart`).not.toContain(r);
  });

  it('health: a head that loses the service network, or whose RAID turns red, gives up its services (monitors and fencing stay)', async () => {
    const cfg = buildConfig(loadDescription(join(root, 'examples', 'active-standby-pdu.yaml')));
    const svc = ['vip-oscar-ipv4', 'vip-oscar-ipv6', 'dhcpd4', 'dhcpd6', 'tftpd', 'ntpd', 'nfsserver', 'snmpd', 'statesync'];
    const link = await simulate(cibOf(cfg, { head1: { 'ha-oscar-link': '0' }, head2: { 'ha-oscar-link': '1' } }));
    for (const r of svc) expect(link.placement.get(r), r).toBe('head2');
    const raid = await simulate(cibOf(cfg, { head1: { '#health-ha-oscar-raid': 'red' } }));
    for (const r of svc) expect(raid.placement.get(r), r).toBe('head2');
    expect(raid.placement.get('fence-head2')).toBe('head1');
    expect(raid.placement.get('raidmon')).toBe('head1,head2');
    expect(raid.placement.get('linkmon')).toBe('head1,head2');
    // both unhealthy in the link sense: nothing runs anywhere (no -INFINITY node is "less bad")
    const both = await simulate(cibOf(cfg, { head1: { 'ha-oscar-link': '0' }, head2: { 'ha-oscar-link': '0' } }));
    for (const r of svc) expect(both.placement.get(r), r).toBeUndefined();
  });

  it('failover with resource sets takes 2 start steps (VIPs, then all services at once); a group takes one per member', async () => {
    const cfg = buildConfig(loadDescription(join(root, 'examples', 'active-standby-pdu.yaml')));
    const setsUp = await simulate(cibOf(cfg));
    const sets = await startLevels((await simulate(setsUp.cib, ['--node-fail', 'head1'])).graph);
    expect(sets).toEqual([
      ['vip-oscar-ipv4', 'vip-oscar-ipv6'],
      ['dhcpd4', 'dhcpd6', 'nfsserver', 'ntpd', 'snmpd', 'statesync', 'tftpd'],
    ]);
    const grouped = asGroups(cfg);
    const groupUp = await simulate(cibOf(grouped));
    const group = await startLevels((await simulate(groupUp.cib, ['--node-fail', 'head1'])).graph);
    expect(group).toEqual(['vip-oscar-ipv4', 'vip-oscar-ipv6', 'dhcpd4', 'dhcpd6', 'tftpd', 'ntpd', 'nfsserver', 'snmpd', 'statesync'].map((r) => [r]));
    console.log(`failover start steps: resource sets ${sets.length}, group ${group.length}`);
  });
});

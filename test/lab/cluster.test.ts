// The shared lab (test/lab/global-setup.ts): a real two-head cluster, token 1000 ms.
import { beforeAll, expect, inject, it } from 'vitest';
import { describeWith } from '../helpers/prereq';
import { cable, crmMon, exec, loadSpec, powerOn, runChecks, waitOnline, whereIs } from '../../src/lab/lab';
import { corosyncEvents, logOffset, measureFailover } from '../../src/lab/failover';
import { HEADS, peerOf, type LabSpec } from '../../src/lab/spec';
import { sleep } from '../../src/lab/procs';
import { PEER_SILENT } from '../../src/fence/delay';

const need = { root: true, bins: ['corosync', 'pacemakerd', 'crm', 'tini', 'nsenter', 'snmpget'], packages: ['corosync', 'pacemaker', 'crmsh', 'tini', 'util-linux', 'snmp'] };

describeWith(need, 'lab cluster', () => {
  let spec: LabSpec;
  beforeAll(() => {
    const name = inject('labName');
    if (!name) throw new Error(inject('labError') || 'the lab did not come up');
    spec = loadSpec(name);
  });


  it('brings both heads online with a DC', async () => {
    const m = await crmMon(spec);
    expect(m.nodes.filter((n) => n.online).map((n) => n.name).sort()).toEqual(['head1', 'head2']);
    expect(m.dc).toMatch(/^head[12]$/);
  });

  it('serves the VIPs (and every built service) to the client over IPv4 and IPv6', async () => {
    const rs = await runChecks(spec);
    expect(rs.map((r) => r.name)).toEqual(expect.arrayContaining(['vip v4', 'vip v6']));
    expect(rs.filter((r) => !r.ok)).toEqual([]);
    // and nowhere else: the VIPs sit on exactly one head
    const active = await whereIs(spec, 'vip4');
    expect(active).toBeDefined();
    expect(await whereIs(spec, 'vip6')).toBe(active);
  });

  for (const net of ['B', 'A'] as const) {
    it(`keeps membership and VIP location when the active head's link ${net} is cut`, async () => {
      const active = (await whereIs(spec, 'vip4'))!;
      const offs = Object.fromEntries(HEADS.map((h) => [h, logOffset(spec, h)]));
      await cable(spec, active, net, false);
      try {
        await sleep(4_000); // 4 tokens of 1000 ms
        const m = await crmMon(spec, peerOf(active));
        expect(m.nodes.filter((n) => n.online).length).toBe(2);
        expect(await whereIs(spec, 'vip4')).toBe(active);
        for (const h of HEADS) expect(corosyncEvents(spec, h, offs[h]!).memberships, `new memberships on ${h}`).toBe(0);
        if (net === 'B') expect((await runChecks(spec)).filter((r) => !r.ok)).toEqual([]);
      } finally {
        await cable(spec, active, net, true);
      }
      // knet sees the link again before the next cut
      const until = Date.now() + 15_000;
      for (;;) {
        const st = await exec(spec, active, ['corosync-cfgtool', '-s']);
        if (!/disconnected/i.test(st.stdout) && /LINK ID 1/.test(st.stdout)) break;
        if (Date.now() > until) throw new Error(`link ${net} did not come back in corosync-cfgtool -s:\n${st.stdout}`);
        await sleep(250);
      }
      for (const h of HEADS) expect(corosyncEvents(spec, h, offs[h]!).memberships).toBe(0);
    });
  }

  it('moves the VIPs when the active head loses power, and keeps them there when it comes back', async () => {
    const t = await measureFailover(spec, { timeoutMs: 60_000 });
    try {
      expect(t.newActive).toBe(t.survivor);
      for (const c of t.checks) expect(c.ms, `${c.name} answered again`).toBeDefined();
      expect(t.membershipMs).toBeDefined();
      // Fencing first: the survivor asked for the dead head to be fenced, the fencer confirmed it,
      // and no service start began before that confirmation (stonith-enabled=true). Fencing
      // devices are exempt: Pacemaker recovers a device that ran on the lost head at once (it
      // may be what fences it), as the schedulerd log says ("..._stop_0 is implicit").
      expect(t.fenceRequestedMs, 'fencing requested in the survivor\'s pacemaker log').toBeDefined();
      expect(t.fencedMs, 'fencing confirmed in the survivor\'s pacemaker log').toBeDefined();
      const services = t.starts.filter((s) => !s.rsc.startsWith('fence-'));
      expect(services.map((s) => s.rsc)).toContain('vip4');
      for (const s of services) expect(s.initiatedMs!, `${s.rsc} start began after the fencing`).toBeGreaterThanOrEqual(t.fencedMs!);
      console.log(`failover: membership ${t.membershipMs} ms; fencing requested ${t.fenceRequestedMs} ms, confirmed ${t.fencedMs} ms; ${t.checks.map((c) => `${c.name} ${c.ms} ms`).join(', ')}; fence_haoscar_delay: ${t.fenceDelay}`);
      // a dead head answers on none of its six addresses: fence_haoscar_delay let the fencing go
      // on at once (the split-brain delay is for a head that still answers, fence.test.ts)
      expect(t.fenceDelay, 'fence_haoscar_delay\'s reason in the survivor\'s log').toMatch(new RegExp(`^${t.active} ${PEER_SILENT}: .*; no delay`));
    } finally {
      await powerOn(spec, t.active); // the next files need both heads, whatever failed above
    }
    await waitOnline(spec, HEADS, 90_000);
    await sleep(3_000); // give the scheduler time to (wrongly) move things back
    expect(await whereIs(spec, 'vip4')).toBe(t.survivor);
    expect(await whereIs(spec, 'vip6')).toBe(t.survivor);
    expect((await runChecks(spec)).filter((r) => !r.ok)).toEqual([]);
  });
});

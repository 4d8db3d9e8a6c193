// Fencing in the lab: the heads fence each other with stonith:fence_haoscar through the lab
// PDU (src/lab/fence.ts). Leaves the lab healthy: both heads online, cables in.
import { describe, expect, inject, it } from 'vitest';
import { cable, crmMon, exec, initOf, isPoweredOn, loadSpec, powerOn, waitOnline, waitServices, whereIs } from '../../src/lab/lab';
import { PDU_BOOT_DELAY_MS, fencingOn, pduEvents } from '../../src/lab/fence';
import { sleep } from '../../src/lab/procs';
import { HEADS, VIP4, nodeDir, type NodeName } from '../../src/lab/spec';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const labName = inject('labName');
const labError = inject('labError');
const other = (h: NodeName): NodeName => (h === 'head1' ? 'head2' : 'head1');

async function until(what: string, ms: number, fn: () => Promise<boolean> | boolean): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    try { if (await fn()) return Date.now() - t0; } catch { /* not yet */ }
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms / 1000} s`);
    await sleep(200);
  }
}

// No skip: a lab that did not come up is a failure here, as in cluster.test.ts.
describe('lab fencing (fence_haoscar through the lab PDU)', () => {
  it('the lab is up with fencing', () => {
    expect(labError).toBe('');
    expect(labName).not.toBe('');
    expect(fencingOn(loadSpec(labName))).toBe(true);
  });

  it('stonith devices run, each away from the head it fences; stonith-enabled=true', async () => {
    await until('fence devices started', 60_000, async () => {
      const m = await crmMon(labName);
      return HEADS.every((h) => { const r = m.resources.find((x) => x.id === `fence-${h}`); return r?.role === 'started' && r.nodes[0] === other(h); });
    });
    const r = await exec(labName, 'head1', ['crm_attribute', '--type', 'crm_config', '--name', 'stonith-enabled', '--query', '--quiet']);
    expect(r.stdout.trim()).toBe('true');
    const l = await exec(labName, 'head1', ['stonith_admin', '--list-installed']);
    expect(l.stdout).toContain('fence_haoscar');
  }, 90_000);

  // Flaky before (3 of 9 runs), two causes read in the lab's logs:
  //  - head2 came back ~2 s after the PDU's off/on, before the fencer had broadcast the reboot's
  //    result, and shut its pacemaker down for good ("We were allegedly just fenced"). The lab PDU
  //    now boots a head like a server (PDU_BOOT_DELAY_MS).
  //  - under load the reboot took longer than the token: the DC saw head2 vanish ("Stonith/shutdown
  //    of node head2 was not expected") and queued its OWN fencing of head2, with the cluster's
  //    stonith-action, behind the manual one. With the lab's stonith-action=off that left head2
  //    off. That is Pacemaker's behaviour for a manual reboot, so the test runs it the way an
  //    admin would on such a cluster: with stonith-action=reboot (Pacemaker's default) for its
  //    duration, so that a follow-up fencing reboots head2 again instead of switching it off.
  it('stonith_admin --reboot head2 (from head1) power-cycles head2 through the PDU; it rejoins and stays', { timeout: 300_000 }, async () => {
    const before = initOf(loadSpec(labName), 'head2');
    expect(before).toBeDefined();
    const n0 = pduEvents(loadSpec(labName)).length;
    const action = (v: string) => exec(labName, 'head1', ['crm_attribute', '--type', 'crm_config', '--name', 'stonith-action', '--update', v]);
    expect((await action('reboot')).code).toBe(0);
    try {
      const r = await exec(labName, 'head1', ['stonith_admin', '--reboot', 'head2', '--timeout', '90'], { timeoutMs: 120_000 });
      expect(r.code, r.stderr).toBe(0);
      const ev = pduEvents(loadSpec(labName)).slice(n0).filter((e) => e.outlet === 2).map((e) => e.event);
      expect(ev).toEqual(expect.arrayContaining(['off', 'now-off', 'on', 'now-on']));
      await until('head2 powered on', 60_000, () => isPoweredOn(labName, 'head2'));
      expect(initOf(loadSpec(labName), 'head2')!.pid).not.toBe(before!.pid);
      await waitOnline(labName, HEADS, 150_000);
      // stonith_admin returned after the fencer finalized the reboot (its result is broadcast by
      // then); a follow-up fencing by the DC, if any, ends with head2 online again
      await waitOnline(labName, HEADS, 150_000); // a follow-up fencing by the DC, if any, is over
      await sleep(3000);
      const own = await crmMon(labName, 'head2');
      expect(own.nodes.filter((n) => n.online).map((n) => n.name).sort()).toEqual(['head1', 'head2']);
      const log = readFileSync(join(nodeDir(loadSpec(labName), 'head2'), 'var-log', 'pacemaker', 'pacemaker.log'), 'utf8');
      expect(log).not.toContain('allegedly just fenced');
      // it waited like a server booting before its cluster stack started
      expect(readFileSync(join(nodeDir(loadSpec(labName), 'head2'), 'init.log'), 'utf8')).toContain(`cluster stack in ${PDU_BOOT_DELAY_MS} ms`);
      // head1 was never switched
      expect(pduEvents(loadSpec(labName)).slice(n0).some((e) => e.outlet === 1 && e.event !== 'now-on')).toBe(false);
    } finally {
      await action('off');
    }
  });

  it('split brain (active head cut from nets A and B): exactly one head is fenced, the VIPs run on the survivor only', async () => {
    const spec = loadSpec(labName);
    await waitOnline(spec, HEADS, 120_000);
    // both heads' OWN views: a head whose pacemaker stopped still looks online for a moment from the other
    await until('each head sees both heads online', 120_000, async () => {
      for (const h of HEADS) {
        const m = await crmMon(spec, h);
        if (!HEADS.every((x) => m.nodes.find((n) => n.name === x)?.online)) return false;
      }
      return true;
    });
    // a head that just rejoined (the reboot test before) gets its resources re-probed: wait
    // until the VIP has settled on one head rather than reading it once
    let active: NodeName | undefined;
    await until('vip4 started on a head', 60_000, async () => { active = await whereIs(spec, 'vip4'); return active !== undefined; });
    expect(active).toBeDefined();
    const victim = active!;
    const survivor = other(victim);
    const n0 = pduEvents(spec).length;
    // The client watches the VIP during the whole split: no duplicate replies, one MAC.
    const watch = exec(spec, 'client', ['ping', '-n', '-i', '0.2', '-w', '60', VIP4], { timeoutMs: 70_000 });
    await sleep(1000);
    const t0 = Date.now();
    await cable(spec, victim, 'A', false);
    await cable(spec, victim, 'B', false);
    const tFenced = await until(`${victim} fenced`, 90_000, () => !isPoweredOn(spec, victim));
    const tVip = await until('VIP answers from the survivor', 90_000, async () => (await exec(spec, 'client', ['ping', '-n', '-c', '1', '-W', '1', VIP4])).code === 0);
    console.log(`split brain: ${victim} fenced ${(tFenced / 1000).toFixed(1)} s after the cut, VIP answering ${((tVip + tFenced) / 1000).toFixed(1)} s after (t0 ${new Date(t0).toISOString()})`);
    expect(await whereIs(spec, 'vip4')).toBe(survivor);
    expect(isPoweredOn(spec, survivor)).toBe(true);
    const ev = pduEvents(spec).slice(n0).filter((e) => e.from || e.event === 'now-off');
    // The PDU switched exactly one outlet off: the victim's, and nobody switched the survivor.
    expect(ev.filter((e) => e.event === 'now-off').map((e) => e.name)).toEqual([victim]);
    expect(ev.some((e) => e.name === survivor)).toBe(false);
    const w = await watch;
    expect(w.stdout).not.toContain('DUP!');
    const neigh = await exec(spec, 'client', ['ip', 'neigh', 'show', VIP4]);
    expect(neigh.stdout.trim().split('\n').filter(Boolean).length).toBeLessThanOrEqual(1);
    // Restore: cables in (the port of a powered-off head stays down until power-on), power on, both online.
    await cable(spec, victim, 'A', true).catch(() => undefined);
    await cable(spec, victim, 'B', true).catch(() => undefined);
    await powerOn(spec, victim);
    await waitOnline(spec, HEADS, 120_000);
    await waitServices(spec, 120_000).catch(() => undefined);
    expect(await whereIs(spec, 'vip4')).toBe(survivor);
  }, 400_000);
});

// The quorum device in the lab (issue 24): its own lab, brought up with `--quorum-device`:
// corosync-qnetd on the management net M (src/lab/qdevice.ts), corosync-qdevice on both heads,
// no two_node, no-quorum-policy=stop, and fencing without the heuristic and delay devices.
// The shared lab (global-setup.ts) runs the same faults without a device (fence.test.ts).
// Leaves nothing: its lab is torn down in afterAll.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { crmMon, down, exec, missingPrereqs, powerOff, powerOn, up, waitOnline, waitServices, whereIs } from '../../src/lab/lab';
import { measureFailover, pacemakerLog } from '../../src/lab/failover';
import { pduEvents } from '../../src/lab/fence';
import { QDEVICE_BINS, QNETD_ADDR, qnetdLog, qnetdTool, qnetdVotes, startQnetd, stopQnetd } from '../../src/lab/qdevice';
import { sleep } from '../../src/lab/procs';
import { parseQuorumtool } from '../../src/pacemaker/corosync';
import { HEADS, nodeId, peerOf, VIP4, makeSpec, type LabSpec, type NodeName } from '../../src/lab/spec';
import { readFrom, restore, sizeOf, splitBrain, until } from './split-brain';

const spec: LabSpec = makeSpec(`t${inject('labRunId') || 'xxxx'}q`, { token: 1000, quorumDevice: true });
let upError = '';

/** corosync-quorumtool -s on a head (parsed as the subagent does): quorate, total votes, whether the device votes. */
async function quorum(h: NodeName): Promise<{ quorate: boolean; total: number; qdevice: boolean; text: string }> {
  const text = (await exec(spec, h, ['corosync-quorumtool', '-s'], { timeoutMs: 10_000 })).stdout;
  const q = parseQuorumtool(text);
  return { quorate: q.quorate, total: q.totalVotes, qdevice: q.device === 'voting', text };
}

/**
 * The device's last decision in qnetd's log (from the offset taken before the split): a NACK to the
 * cut head, answered by its corosync-qdevice, no vote to it after that, and only then the ACK to
 * the survivor. qnetd's record, not the cut head's: the survivor may switch the cut head off
 * before its pacemaker gets to log "Quorum lost" (seen in CI: switched off 0.3 s after its corosync left the primary component).
 */
function expectDeviceVote(qlog: string, survivor: NodeName, victim: NodeName): void {
  const ev = qnetdVotes(qlog, spec.name);
  const seen = ev.map((e) => `${e.event} ${e.nodeId}${e.vote ? ` ${e.vote}` : ''}`).join(', ');
  let nack = -1;
  ev.forEach((e, i) => { if (e.event === 'sent' && e.nodeId === nodeId(victim) && e.vote === 'NACK') nack = i; });
  expect(nack, `a NACK to ${victim} in qnetd's log (votes: ${seen})`).toBeGreaterThanOrEqual(0);
  const after = ev.slice(nack + 1);
  expect(after.filter((e) => e.event === 'sent' && e.nodeId === nodeId(victim)), `no vote to ${victim} after the NACK (votes: ${seen})`).toEqual([]);
  const reply = after.findIndex((e) => e.event === 'replied' && e.nodeId === nodeId(victim));
  const ack = after.findIndex((e) => e.event === 'sent' && e.nodeId === nodeId(survivor) && e.vote === 'ACK');
  expect(reply, `${victim} answered the NACK (votes: ${seen})`).toBeGreaterThanOrEqual(0);
  expect(ack, `the ACK to ${survivor} after that answer (votes: ${seen})`).toBeGreaterThan(reply);
}

async function vipAnswers(): Promise<boolean> {
  return (await exec(spec, 'client', ['ping', '-n', '-c', '1', '-W', '1', VIP4], { timeoutMs: 5_000 })).code === 0;
}

beforeAll(async () => {
  const miss = missingPrereqs(QDEVICE_BINS);
  if (miss) { upError = miss; return; }
  await down(spec.name);
  try {
    await up(spec, { say: (l) => console.log(`[lab ${spec.name}] ${l}`), keepLogs: process.env.HA_OSCAR_LAB_KEEP_LOGS });
  } catch (e) { upError = `lab up --quorum-device failed: ${e instanceof Error ? e.message : String(e)}`; }
}, 400_000);

afterAll(async () => {
  const problems = await down(spec.name, { say: (l) => console.log(`[lab ${spec.name}] ${l}`), keepLogs: process.env.HA_OSCAR_LAB_KEEP_LOGS });
  expect(problems).toEqual([]);
}, 120_000);

// No skip: a missing corosync-qnetd or a lab that did not come up is a failure.
describe('lab with a quorum device (corosync-qnetd on net M, corosync-qdevice on both heads)', () => {
  it('is up: 3 votes, the device votes on both heads, qnetd sees both; no fence delay, no-quorum-policy=stop', async () => {
    expect(upError).toBe('');
    for (const h of HEADS) {
      const q = await quorum(h);
      expect(q.quorate, q.text).toBe(true);
      expect(q.total, q.text).toBe(3);
      expect(q.qdevice, q.text).toBe(true);
      const t = await exec(spec, h, ['corosync-qdevice-tool', '-s'], { timeoutMs: 10_000 });
      expect(t.stdout).toMatch(/State:\s+Connected/);
      expect(t.stdout).toMatch(/Heuristics result:\s+Pass/);
    }
    const l = await qnetdTool(spec, ['-l']);
    expect(l.out).toContain(`Cluster "${spec.name}"`);
    expect(l.out.match(/Node ID [12]:/g)?.length, l.out).toBe(2);
    const conf = (await exec(spec, 'head1', ['cat', '/etc/corosync/corosync.conf'])).stdout;
    expect(conf).not.toMatch(/two_node/);
    expect(conf).toContain(`host: ${QNETD_ADDR.v4}`);
    const prop = await exec(spec, 'head1', ['crm_attribute', '--type', 'crm_config', '--name', 'no-quorum-policy', '--query', '--quiet']);
    expect(prop.stdout.trim()).toBe('stop');
    const cib = (await exec(spec, 'head1', ['cibadmin', '--query', '--scope', 'resources'])).stdout;
    expect(cib).toContain('id="fence-head1"');
    expect(cib).not.toContain('fence_haoscar_delay');
    expect(cib).not.toContain('fence_heuristics_ping');
  }, 60_000);

  it('power-off of the active head: the survivor keeps quorum through the device and fences at once; every service answers from it', async () => {
    expect(upError).toBe('');
    const active = (await whereIs(spec, 'vip4'))!;
    const survivor = peerOf(active);
    const off = sizeOf(pacemakerLog(spec, survivor));
    const t = await measureFailover(spec, { timeoutMs: 180_000 });
    const log = readFrom(pacemakerLog(spec, survivor), off);
    console.log(`[qdevice] power-off of ${active}: membership ${t.membershipMs} ms, fencing requested ${t.fenceRequestedMs} ms, fenced ${t.fencedMs} ms; ` +
      `${t.checks.map((c) => `${c.name} ${c.ms ?? 'n/a'} ms`).join(', ')}; load ${readFileSync('/proc/loadavg', 'utf8').split(' ')[0]}`);
    expect(t.active).toBe(active);
    expect(log).toMatch(/Quorum retained \| membership=\d+ members=1/);
    expect(log).not.toMatch(/Quorum lost/);
    expect(log).toMatch(new RegExp(`Operation 'off' targeting ${active} by ${survivor} for .*: OK`));
    expect(t.fencedMs, 'the survivor fenced the dead head').toBeDefined();
    expect(t.checks.filter((c) => c.ms === undefined).map((c) => c.name), 'services that never answered').toEqual([]);
    expect(await whereIs(spec, 'vip4')).toBe(survivor);
    const q = await quorum(survivor);
    expect(q.quorate && q.total === 2 && q.qdevice, q.text).toBe(true);
    await powerOn(spec, active);
    await waitOnline(spec, HEADS, 180_000);
  }, 400_000);

  // The cut head still reaches qnetd on net M, so both halves ask for the vote: ffsplit gives it
  // to the half whose qdevice heuristic (ping of the client on net A) passes, although the cut
  // head is the active one and may have the lowest node id.
  it('split brain, ACTIVE head cut from A and B (still on M): the device votes for the head that reaches the client; the cut head loses quorum and is fenced; the VIP never on both', async () => {
    expect(upError).toBe('');
    const qOff = sizeOf(qnetdLog(spec));
    const pmOff = new Map(HEADS.map((h) => [h, sizeOf(pacemakerLog(spec, h))]));
    const r = await splitBrain(spec, 'active');
    try {
      expect(r.victim).toBe(r.active);
      const victimLog = readFrom(pacemakerLog(spec, r.victim), pmOff.get(r.victim)!);
      // the device voted against the cut head, which lost quorum and never asked for fencing
      expectDeviceVote(readFrom(qnetdLog(spec), qOff), r.survivor, r.victim);
      expect(victimLog).not.toMatch(/Quorum retained \| membership=\d+ members=1/);
      expect(victimLog).not.toMatch(new RegExp(`Requesting fencing \\S+ of node ${r.survivor}`));
      expect(r.survivorLog).toMatch(/Quorum retained \| membership=\d+ members=1/);
      expect(r.survivorLog).toMatch(new RegExp(`Operation 'off' targeting ${r.victim} by ${r.survivor} for .*: OK`));
      // qnetd heard the cut head's failed heuristic
      expect(readFrom(qnetdLog(spec), qOff)).toMatch(/heuristics = Fail/);
      await waitServices(spec, 180_000);
      const m = await crmMon(spec, r.survivor);
      const started = m.resources.filter((x) => x.role === 'started' && !/^fence-/.test(x.id) && x.id !== 'radvd');
      expect(started.length).toBeGreaterThan(0);
      expect(started.filter((x) => x.nodes[0] !== r.survivor).map((x) => x.id)).toEqual([]);
    } finally {
      await restore(r); // the next tests need both heads, whatever failed above
    }
    expect(await whereIs(spec, 'vip4')).toBe(r.survivor);
  }, 400_000);

  it('split brain, PASSIVE head cut from A and B (still on M): the device votes for the active head; the passive loses quorum and is fenced; the VIPs never leave the active head', async () => {
    expect(upError).toBe('');
    const qOff = sizeOf(qnetdLog(spec));
    const pmOff = new Map(HEADS.map((h) => [h, sizeOf(pacemakerLog(spec, h))]));
    const r = await splitBrain(spec, 'passive');
    try {
      expect(r.victim).not.toBe(r.active);
      const victimLog = readFrom(pacemakerLog(spec, r.victim), pmOff.get(r.victim)!);
      expectDeviceVote(readFrom(qnetdLog(spec), qOff), r.active, r.victim);
      expect(victimLog).not.toMatch(/Quorum retained \| membership=\d+ members=1/);
      expect(victimLog).not.toMatch(new RegExp(`Requesting fencing \\S+ of node ${r.active}`));
      expect(r.survivorLog).toMatch(new RegExp(`Operation 'off' targeting ${r.victim} by ${r.active} for .*: OK`));
      expect(r.holders.get(r.victim) ?? 0, 'samples with a VIP on the cut passive head').toBe(0);
      expect([...r.macs]).toEqual([r.macOf.get(r.active)]);
    } finally {
      await restore(r);
    }
    expect(await whereIs(spec, 'vip4')).toBe(r.active);
  }, 400_000);

  it('qnetd lost: nothing moves, both heads stay quorate on 2 of 3 votes, and corosync-qdevice says it lost the device', async () => {
    expect(upError).toBe('');
    await waitOnline(spec, HEADS, 120_000);
    await waitServices(spec, 120_000);
    // the head restored by the split-brain test may still be starting its clone instances and fence devices
    const settled = await exec(spec, 'head1', ['crm_resource', '--wait', '--timeout', '120s'], { timeoutMs: 130_000 });
    expect(settled.code, `crm_resource --wait: ${settled.stderr}`).toBe(0);
    const active = (await whereIs(spec, 'vip4'))!;
    const before = (await crmMon(spec)).resources.filter((x) => x.role === 'started').map((x) => `${x.id}@${x.nodes.join(',')}`).sort();
    const n0 = pduEvents(spec).length;
    await stopQnetd(spec);
    // the device's vote goes after its timeout (1.83 s at token 1000): wait until both heads count 2 votes
    await until('both heads without the device vote', 60_000, async () => {
      for (const h of HEADS) { const q = await quorum(h); if (q.qdevice || q.total !== 2 || !q.quorate) return false; }
      return true;
    });
    await sleep(5_000);
    for (const h of HEADS) {
      const t = await exec(spec, h, ['corosync-qdevice-tool', '-s'], { timeoutMs: 10_000 });
      expect(t.stdout, `${h}: corosync-qdevice-tool -s`).not.toMatch(/State:\s+Connected/);
    }
    const after = (await crmMon(spec)).resources.filter((x) => x.role === 'started').map((x) => `${x.id}@${x.nodes.join(',')}`).sort();
    expect(after).toEqual(before);
    expect(await whereIs(spec, 'vip4')).toBe(active);
    expect(await vipAnswers()).toBe(true);
    expect(pduEvents(spec).slice(n0).filter((e) => e.event === 'off' || e.event === 'now-off')).toEqual([]);
  }, 180_000);

  // The documented trade-off (docs/config.md "Quorum device"): without qnetd the two heads hold
  // 2 of 3 votes; when one of them goes too, the other has 1 of 3 and stops its services.
  it('qnetd lost, then the passive head powered off: the active head has 1 of 3 votes, loses quorum and stops the services; qnetd back: it fences and serves again', async () => {
    expect(upError).toBe('');
    const active = (await whereIs(spec, 'vip4'))!;
    const passive = peerOf(active);
    const off = sizeOf(pacemakerLog(spec, active));
    await powerOff(spec, passive);
    await until(`${active} without quorum`, 60_000, async () => !(await quorum(active)).quorate);
    await until('the VIP stops answering', 60_000, async () => !(await vipAnswers()));
    await until(`${active} stopped every service`, 120_000, async () => (await crmMon(spec, active)).resources
      .filter((x) => x.role === 'started' && x.nodes.includes(active) && !/^fence-/.test(x.id)).length === 0);
    let log = readFrom(pacemakerLog(spec, active), off);
    expect(log).toMatch(/Quorum lost/);
    expect(log).not.toMatch(new RegExp(`Requesting fencing .* of node ${passive}`));
    // the device comes back: the lone head gets its vote, fences the dead head and serves again
    await startQnetd(spec);
    await until(`${active} quorate again through the device`, 90_000, async () => { const q = await quorum(active); return q.quorate && q.qdevice; });
    await waitServices(spec, 180_000);
    log = readFrom(pacemakerLog(spec, active), off);
    expect(log).toMatch(new RegExp(`Operation 'off' targeting ${passive} by ${active} for .*: OK`));
    await powerOn(spec, passive);
    await waitOnline(spec, HEADS, 180_000);
  }, 400_000);
});

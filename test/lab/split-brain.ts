// A split brain in the lab, shared by fence.test.ts (fence delay) and qdevice.test.ts (quorum
// device): one head is cut from nets A and B while it still reaches the PDU (and the qnetd) on
// the management net M. The client pings both VIPs throughout; a sampler records which heads
// hold a VIP and which MAC answers for VIP4. Checks common to every split are asserted here.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { cable, crmMon, exec, isPoweredOn, loadSpec, powerOn, waitOnline, waitServices, whereIs } from '../../src/lab/lab';
import { PDU_ADDR, pduEvents } from '../../src/lab/fence';
import { sleep } from '../../src/lab/procs';
import { HEADS, peerOf, VIP4, VIP6, nodeDir, type LabSpec, type NodeName } from '../../src/lab/spec';


/** Poll fn until true; ms it took. Past the bound, the error names what it waited for and the last error seen. */
export async function until(what: string, ms: number, fn: () => Promise<boolean> | boolean): Promise<number> {
  const t0 = Date.now();
  let last = '';
  for (;;) {
    try { if (await fn()) return Date.now() - t0; last = ''; } catch (e) { last = e instanceof Error ? e.message : String(e); }
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms / 1000} s${last ? ` (last: ${last})` : ''}`);
    await sleep(200);
  }
}

export interface Split {
  spec: ReturnType<typeof loadSpec>; active: NodeName; victim: NodeName; survivor: NodeName;
  /** ms from the cut: the victim switched off; the VIP answering the client again (active cut) */
  tFenced: number; tVip?: number;
  sent4: number; lost4: number; sent6: number; lost6: number;
  /** per head: samples in which it held a VIP; overlaps: samples with a VIP on both heads */
  holders: Map<NodeName, number>; overlaps: number;
  /** MACs the client's neighbour entry for VIP4 had during the split; each head's eth0 MAC */
  macs: Set<string>; macOf: Map<NodeName, string>;
  /** the victim's pacemaker log lines about fencing written after the cut */
  victimFenceLog: string[];
  /** the survivor's pacemaker log written after the cut */
  survivorLog: string;
}

const pingCount = (out: string): [number, number] => {
  const m = /(\d+) packets transmitted, (\d+) received/.exec(out);
  return m ? [Number(m[1]), Number(m[2])] : [0, 0];
};
export const pmLog = (spec: ReturnType<typeof loadSpec>, h: NodeName) => join(nodeDir(spec, h), 'var-log', 'pacemaker', 'pacemaker.log');
export const coroLog = (spec: ReturnType<typeof loadSpec>, h: NodeName) => join(nodeDir(spec, h), 'var-log', 'corosync', 'corosync.log');
export const sizeOf = (f: string) => { try { return statSync(f).size; } catch { return 0; } };
export const readFrom = (f: string, off: number) => { try { return readFileSync(f).subarray(off).toString('utf8'); } catch { return ''; } };

/** How long the pings and the sampler go on after the outcome. */
const SETTLE_MS = 10_000;

/** The client pings dst every 0.2 s, in rounds of 3 s, until go() turns false (at most 120 s): sent, received, every round's output. */
async function pingRounds(spec: LabSpec, dst: string, go: () => boolean): Promise<{ sent: number; got: number; out: string }> {
  const r = { sent: 0, got: 0, out: '' };
  const t0 = Date.now();
  while (go() && Date.now() - t0 < 120_000) {
    const p = await exec(spec, 'client', ['ping', '-n', '-i', '0.2', '-w', '3', dst], { timeoutMs: 10_000 });
    const [sent, got] = pingCount(p.stdout);
    if (sent === 0) throw new Error(`ping ${dst} from the client sent nothing: ${p.stderr.trim() || p.stdout.trim()}`);
    r.sent += sent; r.got += got; r.out += p.stdout;
  }
  return r;
}

export async function splitBrain(spec: LabSpec, cut: 'active' | 'passive'): Promise<Split> {
  await waitOnline(spec, HEADS, 120_000);
  // both heads' OWN views: a head whose pacemaker stopped still looks online for a moment from the other
  await until('each head sees both heads online', 120_000, async () => {
    for (const h of HEADS) {
      const m = await crmMon(spec, h);
      if (!HEADS.every((x) => m.nodes.find((n) => n.name === x)?.online)) return false;
    }
    return true;
  });
  // a head that just rejoined gets its resources re-probed: wait until the VIPs have settled on one head
  let active: NodeName | undefined;
  await until('vip4 and vip6 started on one head', 120_000, async () => {
    active = await whereIs(spec, 'vip4');
    return active !== undefined && (await whereIs(spec, 'vip6')) === active;
  });
  await waitServices(spec, 120_000);
  const victim = cut === 'active' ? active! : peerOf(active!);
  const survivor = peerOf(victim);
  const macOf = new Map<NodeName, string>();
  for (const h of HEADS) macOf.set(h, (await exec(spec, h, ['cat', '/sys/class/net/eth0/address'])).stdout.trim());
  const n0 = pduEvents(spec).length;
  const logOff = new Map(HEADS.map((h) => [h, { pm: sizeOf(pmLog(spec, h)), coro: sizeOf(coroLog(spec, h)) }]));

  // The client pings both VIPs during the whole split, in 3-s rounds until SETTLE_MS after the
  // outcome (the victim off and, for an active cut, the VIP answering from the survivor); a
  // sampler reads which heads hold a VIP (their eth0) and which MAC the client has for VIP4, every ~0.5 s.
  let pinging = true;
  const ping4 = pingRounds(spec, VIP4, () => pinging);
  const ping6 = pingRounds(spec, VIP6, () => pinging);
  const pings = Promise.all([ping4, ping6]);
  pings.catch(() => undefined); // awaited below; a failure before that is not an unhandled rejection
  const holders = new Map<NodeName, number>();
  const macs = new Set<string>();
  let overlaps = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const held = await Promise.all(HEADS.map(async (h) => {
        if (!isPoweredOn(spec, h)) return false;
        const r = await exec(spec, h, ['ip', '-o', 'addr', 'show', 'dev', 'eth0'], { timeoutMs: 5_000 }).catch(() => undefined);
        return !!r && r.code === 0 && (r.stdout.includes(` ${VIP4}/`) || r.stdout.includes(` ${VIP6}/`));
      }));
      HEADS.forEach((h, i) => { if (held[i]) holders.set(h, (holders.get(h) ?? 0) + 1); });
      if (held.every(Boolean)) overlaps++;
      const n = await exec(spec, 'client', ['ip', 'neigh', 'show', VIP4], { timeoutMs: 5_000 }).catch(() => undefined);
      const mac = /lladdr ([0-9a-f:]{17})/.exec(n?.stdout ?? '')?.[1];
      if (mac) macs.add(mac);
      await sleep(500);
    }
  })();
  let t0 = 0;
  let viaM: Awaited<ReturnType<typeof exec>> | undefined;
  let tFenced = 0;
  let tVip: number | undefined;
  try {
    await sleep(1000);
    t0 = Date.now();
    await cable(spec, victim, 'A', false);
    await cable(spec, victim, 'B', false);
    // a real race: the cut head still reaches the PDU over the management net
    viaM = await exec(spec, victim, ['ping', '-n', '-c', '1', '-W', '2', PDU_ADDR.v4], { timeoutMs: 10_000 }).catch(() => undefined);
    tFenced = await until(`${victim} fenced`, 120_000, () => !isPoweredOn(spec, victim));
    if (cut === 'active') {
      tVip = tFenced + await until('VIP answers from the survivor', 90_000, async () => (await exec(spec, 'client', ['ping', '-n', '-c', '1', '-W', '1', VIP4])).code === 0);
    }
    await sleep(SETTLE_MS);
  } finally {
    // also when a wait above failed: nothing the split started outlives it
    pinging = false;
    sampling = false;
    await Promise.all([sampler, pings.catch(() => undefined)]);
  }
  const [p4, p6] = await pings;
  const [sent4, got4] = [p4.sent, p4.got];
  const [sent6, got6] = [p6.sent, p6.got];
  const victimFenceLog = readFrom(pmLog(spec, victim), logOff.get(victim)!.pm).split('\n')
    .filter((l) => /fence|stonith/i.test(l) && /heuristic|fence-head|Operation|returned|Fail/i.test(l)).slice(0, 40);
  const r: Split = {
    spec, active: active!, victim, survivor, tFenced, tVip, sent4, lost4: sent4 - got4, sent6, lost6: sent6 - got6,
    holders, overlaps, macs, macOf, victimFenceLog, survivorLog: readFrom(pmLog(spec, survivor), logOff.get(survivor)!.pm),
  };
  console.log(`split brain (${cut} ${victim} cut from A and B at ${new Date(t0).toISOString()}): fenced ${(tFenced / 1000).toFixed(1)} s after the cut` +
    `${tVip !== undefined ? `, VIP answering from ${survivor} ${(tVip / 1000).toFixed(1)} s after it` : ''}; client pings lost: IPv4 ${r.lost4}/${sent4}, IPv6 ${r.lost6}/${sent6};` +
    ` VIP samples per head ${JSON.stringify(Object.fromEntries(holders))}, on both ${overlaps}; MACs for VIP4 ${[...macs].join(' ')}; load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  console.log(`${victim}'s fencing log after the cut:\n${victimFenceLog.join('\n')}`);

  // checks common to both: it was a race (the victim reached the PDU), both heads saw the split,
  // exactly one outlet went off (the victim's), nobody touched the survivor, never a VIP on both heads
  expect(viaM?.code, `${victim} reaches the PDU over net M after the cut`).toBe(0);
  for (const h of HEADS) expect(readFrom(coroLog(spec, h), logOff.get(h)!.coro), `${h} saw the split`).toMatch(/Members left: \[?\d/);
  const ev = pduEvents(spec).slice(n0);
  expect(ev.filter((e) => e.event === 'now-off').map((e) => e.name)).toEqual([victim]);
  expect(ev.some((e) => e.name === survivor && e.event !== 'now-on')).toBe(false);
  expect(isPoweredOn(spec, survivor)).toBe(true);
  expect(overlaps, 'samples with a VIP on both heads').toBe(0);
  expect(p4.out).not.toContain('DUP!');
  expect(p6.out).not.toContain('DUP!');
  return r;
}

/** Cables in (the ports of a powered-off head stay down until power-on), power on, both online. */
export async function restore(r: Split): Promise<void> {
  await cable(r.spec, r.victim, 'A', true).catch(() => undefined);
  await cable(r.spec, r.victim, 'B', true).catch(() => undefined);
  await powerOn(r.spec, r.victim);
  await waitOnline(r.spec, HEADS, 150_000);
  await waitServices(r.spec, 120_000).catch(() => undefined);
}

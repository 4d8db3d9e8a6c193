// Bring the shared lab back to two online heads before a file that needs both: a failed file
// before it (the fence test's known flakes) can leave a head powered off, or running with its
// Pacemaker stopped ("We were allegedly just fenced"). Only power operations, as an admin would.
import { crmMon, isPoweredOn, powerOff, powerOn, waitOnline } from '../../src/lab/lab';
import { HEADS, type LabSpec, type NodeName } from '../../src/lab/spec';

async function onlineHeads(spec: LabSpec): Promise<NodeName[]> {
  for (const h of HEADS) {
    if (!isPoweredOn(spec, h)) continue;
    try {
      const m = await crmMon(spec, h);
      return m.nodes.filter((n) => n.online).map((n) => n.name as NodeName);
    } catch { /* this head's Pacemaker does not answer: ask the other */ }
  }
  return [];
}

/** Returns what it had to do ('' when the lab was healthy). */
export async function healLab(spec: LabSpec, say: (l: string) => void): Promise<string> {
  const done: string[] = [];
  for (const h of HEADS) {
    if (isPoweredOn(spec, h)) continue;
    say(`${h} was powered off (left so by an earlier test file): powering it on`);
    await powerOn(spec, h);
    done.push(`powered ${h} on`);
  }
  try {
    await waitOnline(spec, HEADS, 180_000);
    return done.join(', ');
  } catch { /* a head is on but not in the cluster: power-cycle it */ }
  const on = await onlineHeads(spec);
  for (const h of HEADS.filter((x) => !on.includes(x))) {
    say(`${h} is powered on but not online (its Pacemaker stopped?): power-cycling it`);
    await powerOff(spec, h);
    await powerOn(spec, h);
    done.push(`power-cycled ${h}`);
  }
  await waitOnline(spec, HEADS, 240_000);
  return done.join(', ');
}

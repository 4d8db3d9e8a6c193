// The lab's fencing: the lab PDU (src/lab/pdu) runs as a lab process in the switch
// namespace, with its addresses on the management net M only (203.0.113.250 and
// 2001:db8:c::250, bridge <lab>-brm), like a real PDU or BMC on an out-of-band network: a head
// cut from nets A and B still reaches it, so a split brain is a real fence race.
// Outlet 1 = head1, outlet 2 = head2. It switches outlets with the lab's own powerOff/powerOn
// (in-process: `lab: <name>` in its config) and reads each outlet's state from the lab's
// records, so a head powered off or on by `lab power-off/-on` reads the same on the PDU.
// The heads fence each other through it with stonith:fence_haoscar (method=snmp), each level
// led by fence_heuristics_ping pinging the client on net A (a head cut from the compute nodes'
// net fences nobody, so its peer wins the race), then fence_haoscar_delay (the split-brain
// delay, only while the head to be fenced still answers ping).
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../service/atomic';
import { runOk } from '../service/run';
import { record, sleep, spawnDetached } from './procs';
import { delayDevice, fencingLevels, heuristicDevice } from '../crm/model';
import { HEURISTIC } from '../crm/agents';
import type { Head, Heuristics } from '../crm/describe';
import { parseAddr } from '../service/ip';
import { fencingTopology, primitive } from '../crm/render-crm';
import type { LabSpec, NetName, NodeName } from './spec';
import { NET, NETS, addr4, addr6, bridgeOf, netnsOf, nodeId } from './spec';
import type { LabState } from './state';
import { writeState } from './state';

/** The PDU's addresses, on the management net M (bridge <lab>-brm) only. */
export const PDU_ADDR = { v4: `${NET.M.v4prefix}250`, v6: `${NET.M.v6prefix}250` } as const;
/**
 * The fencing heuristic of the lab's own configuration (the same as fencing.heuristics in
 * examples/lab*.yaml, checked by test/unit/crm-lab.test.ts): ping the client, the compute
 * nodes' side of net A, ONCE: the generator's default of 3 pings 1 s apart costs ~2 s on every
 * fencing, which every failover after a power-off waits for (examples/lab*.yaml say more).
 */
export const LAB_HEURISTICS: Heuristics = { ...HEURISTIC.defaults, count: 1, good: 1, ping: [addr4('client', 'A')] };
export const PDU_PORT = 161;
export const PDU_OUTLETS: readonly NodeName[] = ['head1', 'head2'];
/**
 * A head the PDU switches on waits this long before it starts corosync: a real server spends
 * far longer in firmware and boot. Without it a head power-cycled by `stonith_admin --reboot`
 * rejoined within ~2 s, BEFORE the fencer had broadcast the reboot's result; the fencer then
 * told the new instance it had just been fenced ("We were allegedly just fenced by head1"),
 * and pacemaker on it shut down and stayed down (seen in the lab: the flaky reboot and split
 * brain tests). It was 10 s until the fencing levels got two devices (fence-heuristic, then the
 * PDU): Pacemaker then runs a reboot as 'off' on every device of the level, then 'on' on every
 * device, and the reboot is finalized only after fence_haoscar's separate, verified 'on'. In one
 * lab run (load ~10) that 'on' took 22 s, head2 started its cluster stack 10 s after its outlet
 * came on, joined before the reboot was finalized and never completed the controller join
 * ("Only 1 of 2 active cluster nodes fully joined"). 30 s covers that; a real server's
 * firmware and boot take longer still.
 */
export const PDU_BOOT_DELAY_MS = 30_000;
/**
 * Delay of fencing against the head that runs more resources while it still answers ping (it
 * keeps them in a split brain): fence_haoscar_delay's priority_delay, as fencing.delay.priority
 * in examples/lab*.yaml. A head that answers on none of its addresses is fenced at once.
 */
export const PRIORITY_FENCING_DELAY_S = 5;

/** The heads with every address they have (nets A, B and M), as the description generator sees them. */
export function labHeads(): Head[] {
  return PDU_OUTLETS.map((h) => ({
    name: h, nodeid: nodeId(h),
    addresses: Object.fromEntries(NETS.map((n: NetName) => [n.toLowerCase(), { ipv4: parseAddr(addr4(h, n))!, ipv6: parseAddr(addr6(h, n))! }])),
  }));
}

export const pduBin = (spec: LabSpec): string => join(spec.repo, 'dist', 'ha-oscar-lab-pdu');
export const fenceBin = (spec: LabSpec): string => join(spec.repo, 'dist', 'fence_haoscar');
const secretFile = (spec: LabSpec): string => join(spec.stateDir, 'pdu.community');
export const pduConfigFile = (spec: LabSpec): string => join(spec.stateDir, 'pdu.yaml');
export const pduLogFile = (spec: LabSpec): string => join(spec.stateDir, 'pdu.log');

/** Fencing is on when both bundles are built (dist/fence_haoscar, dist/ha-oscar-lab-pdu). */
export function fencingAvailable(spec: LabSpec): boolean {
  return existsSync(pduBin(spec)) && existsSync(fenceBin(spec));
}
/** The lab PDU was started for this lab (its community exists). */
export function fencingOn(spec: LabSpec): boolean { return existsSync(secretFile(spec)); }

/**
 * Start the lab PDU in the switch's network namespace; recorded in st.pdu as soon as it exists.
 * `nsenter --net`, not `ip netns exec`: the PDU makes network namespaces when it powers a head
 * on, and those must be in the host's mount namespace (ip netns exec gives a private one).
 */
export async function startLabPdu(spec: LabSpec, st: LabState): Promise<void> {
  const sw = netnsOf(spec.name, 'sw');
  await runOk('ip', ['-n', sw, '-batch', '-'], {
    timeoutMs: 30_000,
    input: `addr add ${PDU_ADDR.v4}/${NET.M.v4len} dev ${bridgeOf(spec.name, 'M')}\naddr add ${PDU_ADDR.v6}/${NET.M.v6len} dev ${bridgeOf(spec.name, 'M')} nodad\n`,
  });
  const community = randomBytes(12).toString('hex');
  writeFileAtomic(secretFile(spec), community + '\n', { mode: 0o600 });
  // JSON is YAML: the config holds the community, so 0600 and never argv.
  const cfg = {
    port: PDU_PORT, addresses: [PDU_ADDR.v4, PDU_ADDR.v6], communities: [community],
    outlets: [...PDU_OUTLETS], lab: spec.name, rebootDelayMs: 1000, hookTimeoutMs: 60_000, bootDelayMs: PDU_BOOT_DELAY_MS,
  };
  writeFileAtomic(pduConfigFile(spec), JSON.stringify(cfg, null, 2) + '\n', { mode: 0o600 });
  const pid = spawnDetached('nsenter', [`--net=/run/netns/${sw}`, '--', process.execPath, pduBin(spec), pduConfigFile(spec)], pduLogFile(spec));
  const rec = record(pid);
  if (rec) { st.pdu = rec; writeState(spec, st); }
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    if (pduEvents(spec).some((e) => e.event === 'listening')) return;
    if (!rec || record(pid)?.start !== rec.start) break;
    await sleep(50);
  }
  throw new Error(`the lab PDU did not start: see ${pduLogFile(spec)}`);
}

export interface PduLogLine { event: string; time?: string; outlet?: number; name?: string; detail?: string; from?: string }
/** The PDU's event log (one JSON object per line of pdu.log). */
export function pduEvents(spec: LabSpec): PduLogLine[] {
  let text = '';
  try { text = readFileSync(pduLogFile(spec), 'utf8'); } catch { return []; }
  const out: PduLogLine[] = [];
  for (const l of text.split('\n')) {
    if (!l.startsWith('{')) continue;
    try { out.push(JSON.parse(l) as PduLogLine); } catch { /* partial line */ }
  }
  return out;
}

/**
 * The heads' stonith devices: fence-<head> fences <head> through its outlet (over net M) and
 * may not run on <head>; fence-heuristic (fence_heuristics_ping, the description generator's
 * own primitive) leads each head's fencing level, so a head that cannot ping the client fences
 * nobody; then fence-delay (fence_haoscar_delay, the generator's own primitive): in a split
 * brain, where the target still answers ping on net M, fencing of the head that runs more
 * resources waits 5 s, so the active head wins a pure heartbeat split and keeps the services;
 * a head cut from net A loses even when it is the active one. A powered-off head answers
 * nowhere and is fenced at once.
 * stonith-action=off: a fenced head stays off until `lab power-on` (as after `lab power-off`).
 */
export function labFenceCrm(spec: LabSpec): string {
  const community = readFileSync(secretFile(spec), 'utf8').trim();
  const lines: string[] = [];
  PDU_OUTLETS.forEach((h, i) => {
    lines.push(`primitive fence-${h} stonith:fence_haoscar params method=snmp ip=${PDU_ADDR.v4} ` +
      `community=${community} snmp_version=2c pcmk_host_map="${h}:${i + 1}" pcmk_host_list=${h} ` +
      'power_timeout=30 login_timeout=3 pcmk_reboot_timeout=90 pcmk_off_timeout=60 op monitor interval=60s timeout=30s');
    lines.push(`location fence-${h}-not-on-self fence-${h} -inf: ${h}`);
  });
  // With the quorum device (src/lab/qdevice.ts) only the half holding its vote fences, and the
  // vote already went by the same ping of the client (qdevice heuristics): no heuristic device,
  // no delay device, so a head that is simply dead is fenced at once.
  if (spec.quorumDevice) return lines.join('\n') + '\n';
  lines.push(primitive(heuristicDevice(LAB_HEURISTICS)));
  lines.push(primitive(delayDevice(labHeads(), { priorityDelay: `${PRIORITY_FENCING_DELAY_S}s` })!));
  lines.push(fencingTopology(PDU_OUTLETS.flatMap((h) => fencingLevels(h, [`fence-${h}`], LAB_HEURISTICS, true))));
  return lines.join('\n') + '\n';
}

/** Cluster properties set (crm_attribute, cib-bootstrap-options) after the devices are loaded. */
export const FENCE_PROPS: Record<string, string> = {
  'stonith-action': 'off', 'stonith-timeout': '90s', 'stonith-enabled': 'true',
};

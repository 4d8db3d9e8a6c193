// Failover measurement: power off the active head, then time (from the power-off)
//  - corosync's own detection on the survivor (its log, hires timestamps): token loss
//    ("A processor failed") and the new membership ("Members left"),
//  - the first answer of every lab service check, run from the client.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { exec, powerOff, whereIs, type Say } from './lab';
import { sleep } from './procs';
import { labChecks, type ClientCheck } from './services';
import type { LabSpec, NodeName } from './spec';
import { nodeDir, peerOf } from './spec';

export interface Timeline {
  active: NodeName;
  survivor: NodeName;
  /** ms from power-off to the survivor's corosync logging the token loss / the new membership. */
  tokenLostMs?: number;
  membershipMs?: number;
  checks: { name: string; ms?: number }[];
  /** Per resource, from the survivor's pacemaker log: start initiated / start finished (ms since power-off). */
  starts: { rsc: string; initiatedMs?: number; doneMs?: number }[];
  /** Where the VIPs went (should be the survivor). */
  newActive?: NodeName;
  /** From the survivor's pacemaker log (ms since power-off): its controller asked for the dead
   * head to be fenced / the fencer confirmed it. Between the two: the fencing level
   * (fence_heuristics_ping, fence_haoscar_delay, the PDU); nothing may start before the
   * confirmation. */
  fenceRequestedMs?: number;
  fencedMs?: number;
  /** fence_haoscar_delay's reason, as the survivor's fencer logged it (why it waited or not). */
  fenceDelay?: string;
}

const corosyncLog = (spec: LabSpec, node: NodeName): string => join(nodeDir(spec, node), 'var-log', 'corosync', 'corosync.log');
export const pacemakerLog = (spec: LabSpec, node: NodeName): string => join(nodeDir(spec, node), 'var-log', 'pacemaker', 'pacemaker.log');

export function sizeOf(f: string): number { try { return statSync(f).size; } catch { return 0; } }

/** Start times of resources in a node's pacemaker log after a byte offset (epoch ms). */
export function pacemakerStarts(spec: LabSpec, node: NodeName, fromOffset: number): Map<string, { initiated?: number; done?: number }> {
  const out = new Map<string, { initiated?: number; done?: number }>();
  const f = pacemakerLog(spec, node);
  if (!existsSync(f)) return out;
  const text = readFileSync(f).subarray(fromOffset).toString('utf8');
  for (const line of text.split('\n')) {
    let m = /Initiating start operation (\S+)_start_0/.exec(line);
    if (m) { const e = out.get(m[1]!) ?? {}; e.initiated ??= corosyncTime(line); out.set(m[1]!, e); continue; }
    m = /Result of start operation for (\S+) on \S+: ok/.exec(line);
    if (m) { const e = out.get(m[1]!) ?? {}; e.done ??= corosyncTime(line); out.set(m[1]!, e); }
  }
  return out;
}

/** The survivor's fencing of a node in its pacemaker log after a byte offset (epoch ms). */
export function pacemakerFencing(spec: LabSpec, node: NodeName, target: NodeName, fromOffset: number): { requested?: number; confirmed?: number; delay?: string } {
  const f = pacemakerLog(spec, node);
  const out: { requested?: number; confirmed?: number; delay?: string } = {};
  if (!existsSync(f)) return out;
  const text = readFileSync(f).subarray(fromOffset).toString('utf8');
  for (const line of text.split('\n')) {
    if (out.requested === undefined && new RegExp(`Requesting fencing \\(\\w+\\) of node ${target}\\b`).test(line)) out.requested = corosyncTime(line);
    // The fencer's own completion (finalize_op) comes first. The controller's "Peer ... was
    // terminated" is logged by its notification handler, which can run after the fencing
    // callback has already initiated the starts (CI: vip4 initiated 40 ms before that line).
    if (out.confirmed === undefined && (new RegExp(`Operation '\\w+' targeting ${target} by \\S+ for \\S+: OK`).test(line)
      || new RegExp(`Peer ${target} was terminated \\(\\w+\\) by .*: OK`).test(line))) out.confirmed = corosyncTime(line);
    // pacemaker-fenced logs an agent's stderr: "fence_haoscar_delay[PID] stderr: [ WARNING: <why> ]"
    const d = out.delay === undefined ? new RegExp(`fence_haoscar_delay\\[\\d+\\] stderr: \\[ WARNING: (${target} .*?) \\]`).exec(line) : null;
    if (d) out.delay = d[1];
  }
  return out;
}

/** Parse "Nov 25 14:59:09.927 ..." (corosync hires timestamps, local time). */
export function corosyncTime(line: string, year = new Date().getFullYear()): number | undefined {
  const m = /^(\w{3}) +(\d+) (\d\d:\d\d:\d\d(?:\.\d+)?)/.exec(line);
  if (!m) return undefined;
  const t = new Date(`${m[1]} ${m[2]} ${year} ${m[3]}`).getTime();
  return Number.isNaN(t) ? undefined : t;
}

export interface CorosyncEvents { tokenLost?: number; membership?: number; memberships: number }

/** Scan the corosync log of a node from a byte offset for failure/membership events. */
export function corosyncEvents(spec: LabSpec, node: NodeName, fromOffset: number): CorosyncEvents {
  const f = corosyncLog(spec, node);
  const ev: CorosyncEvents = { memberships: 0 };
  if (!existsSync(f)) return ev;
  const text = readFileSync(f).subarray(fromOffset).toString('utf8');
  for (const line of text.split('\n')) {
    if (/A processor failed, forming new configuration/.test(line) && ev.tokenLost === undefined) ev.tokenLost = corosyncTime(line);
    if (/A new membership .* was formed/.test(line)) {
      ev.memberships++;
      if (/Members left/.test(line) && ev.membership === undefined) ev.membership = corosyncTime(line);
    }
  }
  return ev;
}

export function logOffset(spec: LabSpec, node: NodeName): number {
  try { return statSync(corosyncLog(spec, node)).size; } catch { return 0; }
}

/** Wait (from the client) for a check to answer; ms since t0, or undefined after timeoutMs. */
export async function firstAnswer(spec: LabSpec, c: ClientCheck, t0: number, timeoutMs: number): Promise<number | undefined> {
  const until = t0 + timeoutMs;
  // A waiting ping also ends on an ICMP error (e.g. the neighbour entry FAILED while the VIP
  // was nowhere): start it again until it gets its reply or the time is up.
  while (c.waitArgv && Date.now() < until) {
    const r = await exec(spec, 'client', c.waitArgv, { timeoutMs: until - Date.now() + 5_000 });
    if (r.code === 0) return Date.now() - t0;
  }
  while (Date.now() < until) {
    const r = await exec(spec, 'client', c.pollArgv ?? c.argv, { timeoutMs: c.timeoutMs ?? 10_000 });
    if (r.code === 0) return Date.now() - t0;
    await sleep(50);
  }
  return undefined;
}

/** opts.checks: what the client waits for (default: the lab's own checks; the peer's, src/lab/peer.ts). */
export async function measureFailover(spec: LabSpec, opts: { say?: Say; timeoutMs?: number; checks?: ClientCheck[] } = {}): Promise<Timeline> {
  const active = await whereIs(spec, 'vip4');
  if (!active) throw new Error('the VIPs run nowhere: cannot measure a failover');
  const survivor: NodeName = peerOf(active);
  const off = logOffset(spec, survivor);
  const pmOff = sizeOf(pacemakerLog(spec, survivor));
  const checks = opts.checks ?? labChecks(spec);
  opts.say?.(`power-off of the active head ${active}`);
  const t0 = await powerOff(spec, active);
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const times = await Promise.all(checks.map((c) => firstAnswer(spec, c, t0, timeoutMs)));
  // corosync logs the new membership before any resource moves; give the log a moment to flush.
  let ev = corosyncEvents(spec, survivor, off);
  for (let i = 0; i < 20 && ev.membership === undefined; i++) { await sleep(100); ev = corosyncEvents(spec, survivor, off); }
  const st = pacemakerStarts(spec, survivor, pmOff);
  const fence = pacemakerFencing(spec, survivor, active, pmOff);
  const starts = [...st.entries()].map(([rsc, e]) => ({ rsc, initiatedMs: e.initiated !== undefined ? e.initiated - t0 : undefined, doneMs: e.done !== undefined ? e.done - t0 : undefined }));
  let newActive: NodeName | undefined;
  try { newActive = await whereIs(spec, 'vip4'); } catch { /* reported as unknown */ }
  return {
    active, survivor, newActive,
    tokenLostMs: ev.tokenLost !== undefined ? ev.tokenLost - t0 : undefined,
    membershipMs: ev.membership !== undefined ? ev.membership - t0 : undefined,
    checks: checks.map((c, i) => ({ name: c.name, ms: times[i] })),
    starts,
    fenceRequestedMs: fence.requested !== undefined ? fence.requested - t0 : undefined,
    fencedMs: fence.confirmed !== undefined ? fence.confirmed - t0 : undefined,
    fenceDelay: fence.delay,
  };
}

export const fmt = (ms: number | undefined): string => (ms === undefined ? '   n/a' : `${(ms / 1000).toFixed(2).padStart(6)} s`);

export function printTimeline(t: Timeline, say: Say): void {
  say(`failover timeline (from the power-off of ${t.active}; corosync/pacemaker times from ${t.survivor}'s logs):`);
  const ev: [number | undefined, string][] = [
    [t.tokenLostMs, 'corosync: token lost (a processor failed)'],
    [t.membershipMs, `corosync: new membership without ${t.active}`],
    [t.fenceRequestedMs, `pacemaker: fencing of ${t.active} requested`],
    [t.fencedMs, `pacemaker: ${t.active} fenced (confirmed; starts may begin)`],
  ];
  for (const r of t.starts) ev.push([r.initiatedMs, `pacemaker: start of ${r.rsc} begins`], [r.doneMs, `pacemaker: ${r.rsc} started`]);
  for (const c of t.checks) ev.push([c.ms, `client: ${c.name} answers${c.ms === undefined ? ' -- NOT within the timeout' : ''}`]);
  ev.sort((a, b) => (a[0] ?? Infinity) - (b[0] ?? Infinity));
  for (const [ms, what] of ev) say(`  ${fmt(ms)}  ${what}`);
  say(`  services now on: ${t.newActive ?? 'unknown'}`);
  if (t.fenceDelay) say(`  fence_haoscar_delay: ${t.fenceDelay}`);
}

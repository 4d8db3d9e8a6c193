// Failover benchmark (npm run bench:failover -> scripts/bench-failover.mjs -> `ha-oscar lab bench`).
import { cpus, loadavg } from 'node:os';
import { cable, down, exec, powerOn, up, waitOnline, waitServices, whereIs, type Say } from './lab';
import { corosyncEvents, logOffset, measureFailover, type Timeline } from './failover';
import { loadPeer, peerChecks } from './peer';
import { PEER_SILENT } from '../fence/delay';
import { sleep } from './procs';
import type { ClientCheck } from './services';
import { HEADS, peerOf, VIP4, type LabSpec, type NetName, type NodeName } from './spec';

export interface Stat { name: string; n: number; median?: number; max?: number; missed: number }
export interface CutResult { what: string; sent: number; received: number; lost: number; memberships: number }
/** One configuration's power-offs. */
export interface RunsResult { runs: Timeline[]; stats: Stat[]; load: number[] }
/** One service (client check) side by side: medians from the power-off and after "fenced", ha-oscar and the peer. */
export interface SideBySide { check: string; haoscar?: number; haoscarAfterFenced?: number; peer?: number; peerAfterFenced?: number; ratio?: number }
export interface BenchResult extends RunsResult {
  token: string; cuts: CutResult[];
  /** With --peer: the same power-offs against the bare resource-agents peer (src/lab/peer.ts). */
  peer?: RunsResult; sideBySide?: SideBySide[];
  /** With --quorum-device: the same power-offs on a lab with the quorum device (src/lab/qdevice.ts), no fence delay. */
  qdevice?: RunsResult;
}

export function stat(name: string, xs: (number | undefined)[]): Stat {
  const v = xs.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  const mid = v.length ? (v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2) : undefined;
  return { name, n: v.length, median: mid, max: v.length ? v[v.length - 1] : undefined, missed: xs.length - v.length };
}

/** checks: what must answer (default: the lab's own checks). */
export async function settle(spec: LabSpec, checks?: ClientCheck[]): Promise<void> {
  await waitOnline(spec, HEADS, 120_000);
  await waitServices(spec, 120_000, checks);
  // knet links up on both heads before the next experiment
  const until = Date.now() + 30_000;
  for (const h of HEADS) {
    for (;;) {
      const r = await exec(spec, h, ['corosync-cfgtool', '-s']);
      if (!/disconnected/.test(r.stdout)) break;
      if (Date.now() > until) break;
      await sleep(200);
    }
  }
  await sleep(1_000);
}

async function linkCut(spec: LabSpec, node: NodeName, net: NetName, label: string, holdMs: number): Promise<CutResult> {
  const offs = Object.fromEntries(HEADS.map((h) => [h, logOffset(spec, h)]));
  const secs = Math.ceil((holdMs + 2_000) / 1000);
  const ping = exec(spec, 'client', ['ping', '-n', '-q', '-i', '0.05', '-w', String(secs), VIP4], { timeoutMs: (secs + 10) * 1000 });
  await sleep(1_000);
  await cable(spec, node, net, false);
  await sleep(holdMs);
  await cable(spec, node, net, true);
  const r = await ping;
  const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  const sent = Number(m?.[1] ?? 0);
  const received = Number(m?.[2] ?? 0);
  await settle(spec);
  const memberships = HEADS.reduce((a, h) => a + corosyncEvents(spec, h, offs[h]!).memberships, 0);
  return { what: label, sent, received, lost: sent - received, memberships };
}

/** runs power-offs of the active head, each followed by power-on and settle; checks as measureFailover. */
async function powerOffs(spec: LabSpec, runs: number, say: Say, label: string, checks?: ClientCheck[]): Promise<RunsResult> {
  const token = spec.token ? `${spec.token} ms` : 'default';
  const out: Timeline[] = [];
  const load: number[] = [];
  for (let i = 1; i <= runs; i++) {
    load.push(loadavg()[0]!);
    const t = await measureFailover(spec, { checks });
    out.push(t);
    say(`  ${label}run ${i}/${runs} (token ${token}): ${t.active} off -> membership ${fmtS(t.membershipMs)}; fenced ${fmtS(t.fencedMs)}; ` +
      t.checks.map((c) => `${c.name} ${fmtS(c.ms)}`).join(', '));
    await powerOn(spec, t.active);
    await settle(spec, checks);
  }
  return { runs: out, stats: statsOf(out), load };
}

export async function bench(spec: LabSpec, runs: number, say: Say, opts: { peer?: boolean; qdevice?: boolean } = {}): Promise<BenchResult> {
  const token = spec.token ? `${spec.token} ms` : 'default';
  await down(spec.name);
  await up(spec, { say: (l) => say(`  [up] ${l.trim()}`) });
  const cuts: CutResult[] = [];
  let own: RunsResult;
  let peer: RunsResult | undefined;
  let qdevice: RunsResult | undefined;
  try {
    own = await powerOffs(spec, runs, say, opts.peer ? 'ha-oscar ' : '');
    const active = (await whereIs(spec, 'vip4'))!;
    const passive: NodeName = peerOf(active);
    cuts.push(await linkCut(spec, active, 'B', `active head ${active}, link B cut 5 s`, 5_000));
    cuts.push(await linkCut(spec, passive, 'A', `passive head ${passive}, link A cut 5 s`, 5_000));
    cuts.push(await linkCut(spec, active, 'A', `active head ${active}, link A cut 5 s (VIP's own net: loss expected)`, 5_000));
    if (opts.peer) {
      say('  switching to the bare resource-agents peer (src/lab/peer.ts)');
      await loadPeer(spec, say);
      const checks = peerChecks(spec);
      await settle(spec, checks);
      peer = await powerOffs(spec, runs, say, 'peer ', checks);
    }
    if (opts.qdevice) {
      // a lab of its own: the quorum device changes corosync.conf (no two_node) and the fencing
      await down(spec.name);
      const q: LabSpec = { ...spec, quorumDevice: true };
      say('  a new lab with the quorum device (corosync-qnetd on net M, no fence delay: src/lab/qdevice.ts)');
      await up(q, { say: (l) => say(`  [up] ${l.trim()}`) });
      await settle(q);
      qdevice = await powerOffs(q, runs, say, 'quorum device ');
    }
  } finally {
    await down(spec.name);
  }
  return { token, ...own, cuts, ...(peer ? { peer, sideBySide: sideBySide(own, peer) } : {}), ...(qdevice ? { qdevice } : {}) };
}

const afterFenced = (t: Timeline, ms: number | undefined): number | undefined =>
  (ms !== undefined && t.fencedMs !== undefined ? ms - t.fencedMs : undefined);

function statsOf(out: Timeline[]): Stat[] {
  const names = out[0]?.checks.map((c) => c.name) ?? [];
  return [
    stat('corosync: token lost', out.map((t) => t.tokenLostMs)),
    stat('corosync: new membership', out.map((t) => t.membershipMs)),
    stat('pacemaker: fencing requested', out.map((t) => t.fenceRequestedMs)),
    stat('pacemaker: dead head fenced', out.map((t) => t.fencedMs)),
    // Fencing devices left out: Pacemaker recovers those at once, and the log offsets catch
    // some of their earlier starts (noise, not part of the failover).
    ...[...new Set(out.flatMap((t) => t.starts.map((x) => x.rsc)))].filter((rsc) => !rsc.startsWith('fence-')).flatMap((rsc) => [
      stat(`pacemaker: ${rsc} start begun`, out.map((t) => t.starts.find((x) => x.rsc === rsc)?.initiatedMs)),
      stat(`pacemaker: ${rsc} started`, out.map((t) => t.starts.find((x) => x.rsc === rsc)?.doneMs)),
    ]),
    ...names.map((n) => stat(`${n} answers`, out.map((t) => t.checks.find((c) => c.name === n)?.ms))),
    stat('all services answer', out.map(allAnswer)),
    stat('all services, after fenced', out.map((t) => afterFenced(t, allAnswer(t)))),
  ];
}

/** Per check the peer has: medians from the power-off and after "fenced", and ha-oscar / peer (from the power-off). */
export function sideBySide(own: RunsResult, peer: RunsResult): SideBySide[] {
  const names = peer.runs[0]?.checks.map((c) => c.name) ?? [];
  const med = (r: RunsResult, n: string, fromFenced: boolean) =>
    stat(n, r.runs.map((t) => { const ms = t.checks.find((c) => c.name === n)?.ms; return fromFenced ? afterFenced(t, ms) : ms; })).median;
  const rows = [...names, 'all services'].map((n): SideBySide => {
    const pick = (r: RunsResult, fromFenced: boolean) => (n === 'all services'
      ? stat(n, r.runs.map((t) => { const a = allAnswerOf(t, names); return fromFenced ? afterFenced(t, a) : a; })).median
      : med(r, n, fromFenced));
    const row: SideBySide = { check: n, haoscar: pick(own, false), haoscarAfterFenced: pick(own, true), peer: pick(peer, false), peerAfterFenced: pick(peer, true) };
    if (row.haoscar !== undefined && row.peer) row.ratio = row.haoscar / row.peer;
    return row;
  });
  return rows;
}

/** The last of the named checks to answer in a run (undefined when one never did). */
const allAnswerOf = (t: Timeline, names: string[]): number | undefined => {
  const ms = names.map((n) => t.checks.find((c) => c.name === n)?.ms);
  return ms.every((x) => x !== undefined) ? Math.max(...(ms as number[])) : undefined;
};

export const allAnswer = (t: Timeline): number | undefined =>
  t.checks.every((c) => c.ms !== undefined) ? Math.max(...t.checks.map((c) => c.ms!)) : undefined;

const fmtS = (ms: number | undefined): string => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(2)} s`);

export function printBench(r: BenchResult, say: Say): void {
  printRuns(r, r.token, say, r.peer || r.qdevice ? 'ha-oscar (fence delay device): ' : '');
  for (const c of r.cuts) say(`  ${c.what}: client->VIP pings ${c.sent} sent, ${c.lost} lost; membership changes ${c.memberships}`);
  if (r.qdevice) {
    printRuns(r.qdevice, r.token, say, 'ha-oscar with the quorum device (no fence delay): ');
    say(`\nfence delay device vs quorum device, token ${r.token}: median seconds from the power-off`);
    say(`  ${'what'.padEnd(34)} ${'fence delay'.padStart(11)} ${'qdevice'.padStart(11)}`);
    for (const st of r.stats) {
      const q = r.qdevice.stats.find((x) => x.name === st.name);
      say(`  ${st.name.padEnd(34)} ${fmtS(st.median).padStart(11)} ${fmtS(q?.median).padStart(11)}`);
    }
  }
  if (!r.peer || !r.sideBySide) return;
  printRuns(r.peer, r.token, say, 'bare resource-agents peer: ');
  say(`\nside by side, token ${r.token}: median seconds from the power-off / after "fenced"; ratio ha-oscar / peer (from the power-off)`);
  say(`  ${'service'.padEnd(14)} ${'ha-oscar'.padStart(17)} ${'peer'.padStart(17)}  ratio`);
  const pair = (a?: number, b?: number) => `${fmtS(a)} / ${fmtS(b)}`.padStart(17);
  for (const x of r.sideBySide) say(`  ${x.check.padEnd(14)} ${pair(x.haoscar, x.haoscarAfterFenced)} ${pair(x.peer, x.peerAfterFenced)}  ${x.ratio === undefined ? 'n/a' : x.ratio.toFixed(2)}`);
}

function printRuns(r: RunsResult, token: string, say: Say, label: string): void {
  say(`\n${label}token ${token}: ${r.runs.length} power-offs of the active head (times from the power-off)`);
  say(`  ${'what'.padEnd(34)} ${'median'.padStart(8)} ${'max'.padStart(8)}  n`);
  for (const s of r.stats) say(`  ${s.name.padEnd(34)} ${fmtS(s.median).padStart(8)} ${fmtS(s.max).padStart(8)}  ${s.n}${s.missed ? ` (${s.missed} never answered)` : ''}`);
  const det = r.stats.find((s) => s.name === 'corosync: new membership')?.median;
  const all = r.stats.find((s) => s.name === 'all services answer')?.median;
  if (det !== undefined && all !== undefined) {
    say(`  target full-service median <= detection + 1 s: ${fmtS(all)} vs ${fmtS(det + 1000)} -> ${all <= det + 1000 ? 'met' : 'NOT met'}`);
  }
  const req = r.stats.find((s) => s.name === 'pacemaker: fencing requested')?.median;
  const fenced = r.stats.find((s) => s.name === 'pacemaker: dead head fenced')?.median;
  const after = r.stats.find((s) => s.name === 'all services, after fenced')?.median;
  if (det !== undefined && req !== undefined && fenced !== undefined && after !== undefined) {
    say(`  where the time goes (medians): detection ${fmtS(det)}, until fencing is requested ${fmtS(req - det)}, ` +
      `fencing (every device of the level: heuristic, fence_haoscar_delay, the PDU; the PDU alone with the quorum device) ${fmtS(fenced - req)}, fenced -> every service answers ${fmtS(after)}`);
  }
  const noDelay = r.runs.filter((t) => t.fenceDelay?.includes(PEER_SILENT)).length;
  const other = r.runs.filter((t) => t.fenceDelay && !t.fenceDelay.includes(PEER_SILENT)).map((t) => t.fenceDelay!);
  const missing = r.runs.length - noDelay - other.length;
  if (missing === r.runs.length) say('  fence_haoscar_delay: not in the fencing level (no line in any run)');
  else say(`  fence_haoscar_delay: the dead head answered nowhere, no delay, in ${noDelay} of ${r.runs.length} power-offs` +
    (other.length ? `; otherwise: ${[...new Set(other)].join(' | ')}` : '') + (missing ? `; ${missing} without its line in the log` : ''));
  if (r.load.length) say(`  machine load (1-min average) at the power-offs: ${Math.min(...r.load).toFixed(1)}..${Math.max(...r.load).toFixed(1)} on ${cpus().length} CPUs`);
}

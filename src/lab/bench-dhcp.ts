// `ha-oscar lab bench-dhcp` (npm run bench:dhcp, issue 19 part 4): a PXE boot storm from the
// lab's compute node. perfdhcp (Debian's kea-admin) simulates many clients doing DORA (DHCPv4)
// or SARR (DHCPv6) on net A, against:
//   1. ISC dhcpd under today's agent (the lab's own configuration: one server, on the active head);
//   2. the Kea HA pair in load-balancing (examples/lab-kea-ha.yaml applied: Kea on both heads);
//   3. one Kea: after the failover storm below, the survivor alone in partner-down (it sends no
//      lease updates: what the pair pays for them).
// For each: 4-way exchanges per second (perfdhcp's own figure), drops, and for Kea how many
// exchanges each head answered (Kea's pkt4-ack-sent / pkt6-reply-sent statistics, read on each
// head's control socket). Then a lighter storm (400/s offered per family, v4 and v6 side by side:
// the full storms overload the pair, and the gap would measure that) with a head powered off in the middle: what the
// compute nodes got each second (perfdhcp's -t 1 reports), the longest second-long gap without
// an answer, when the answers were back at the rate before the power-off (against "fenced" in
// the survivor's pacemaker log), and the duplicates: both heads' lease databases (the dead
// head's as it was left on its disk) compared, any address bound to two clients counts.
//
// Sizes: the documentation ranges give net A one /24, so DHCPv4 storms use the lab's 50-address
// pool (192.0.2.150-199) and 50 clients, each asking again and again; DHCPv6 uses 1,000 and
// 10,000 clients on the lab's pool (2001:db8:a::1000-ffff). Needs root; the lab is torn down at the end.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { activeResources, clearConfig, down, exec, execOk, powerOff, up, whereIs, writeFenceSecrets, type Say } from './lab';
import { pacemakerFencing, logOffset } from './failover';
import { duplicates, parseKeaLeases, type Duplicate, type KeaLease } from './kea-leases';
import { sleep } from './procs';
import { HEADS, nodeDir, peerOf, type LabSpec, type NodeName } from './spec';
import { which } from '../service/which';

export type Family = 4 | 6;

/** What perfdhcp printed: the final report, and the -t reports' cumulative counts of the second exchange. */
export interface Perfdhcp {
  /** "Rate: X 4-way exchanges/second" */
  rate?: number;
  /** of the second exchange (REQUEST-ACK, REQUEST-REPLY): sent, received, drops */
  sent: number; received: number; drops: number;
  /** per -t report: cumulative received of the completed exchanges */
  periodic: number[];
}

/**
 * perfdhcp's output. The final report has "Rate: X 4-way exchanges/second" and, per exchange,
 * "***Statistics for: REQUEST-ACK***" (v6 REQUEST-REPLY) with "sent packets", "received packets"
 * and "drops". Each -t report is one line "sent: S/S2; received: R/R2; drops: D/D2 ..." (the
 * second figure of each pair: the second exchange).
 */
export function parsePerfdhcp(out: string): Perfdhcp {
  const rate = /Rate:\s*([\d.]+)\s+4-way exchanges\/second/.exec(out)?.[1];
  const block = /\*\*\*Statistics for: REQUEST-(?:ACK|REPLY)\*\*\*([^]*?)(?:\*\*\*|$)/.exec(out)?.[1] ?? '';
  const num = (re: RegExp) => Number(re.exec(block)?.[1] ?? 0);
  const periodic: number[] = [];
  for (const l of out.split('\n')) {
    const m = /^sent: \d+\/(\d+); received: \d+\/(\d+)/.exec(l.trim());
    if (m) periodic.push(Number(m[2]));
  }
  return { rate: rate === undefined ? undefined : Number(rate), sent: num(/sent packets:\s*(\d+)/), received: num(/received packets:\s*(\d+)/), drops: num(/drops:\s*(\d+)/), periodic };
}

/** Per-interval answers from cumulative counts; the longest run of empty intervals; when (index) the rate came back. */
export function gaps(periodic: number[]): { perInterval: number[]; longestGap: number; gapEnd?: number } {
  const per = periodic.map((c, i) => c - (i ? periodic[i - 1]! : 0));
  let longest = 0;
  let run = 0;
  let gapEnd: number | undefined;
  per.forEach((n, i) => {
    if (n === 0) { run++; if (run > longest) { longest = run; gapEnd = i + 1; } } else run = 0;
  });
  return { perInterval: per, longestGap: longest, gapEnd };
}

export interface StormResult {
  server: string; family: Family; clients: number; offered: number; seconds: number;
  perf: Omit<Perfdhcp, 'periodic'>;
  /** completed exchanges (the second one answered) per second of the test period; perfdhcp's
   * own "Rate" also counts the 1-s wait for the last answers */
  perS: number;
  /** Kea only: exchanges each head answered during the storm (its ACK / REPLY counter). */
  perHead?: Partial<Record<NodeName, number>>;
}

export interface FailoverStormResult {
  family: Family; clients: number; offered: number; victim: NodeName; survivor: NodeName;
  /** s from the start of the storm: the power-off, the survivor's fencing confirmation, and its
   * Kea serving every scope (the agent's takeover line), with the notification's own time */
  offAtS: number; fencedAtS?: number; takeoverAtS?: number; takeoverMs?: number;
  /** answers per second (perfdhcp -t 1) */
  perSecond: number[];
  /** the longest run of seconds without an answer, and the second it ended */
  longestGapS: number; gapEndS?: number;
  /** first second from the power-off on whose answers reach 90 % of the median before it */
  backAtS?: number;
  /** clients holding a lease granted by the survivor after the power-off */
  clientsServedAfterOff: number;
  duplicates: Duplicate[];
}

export interface DhcpBenchResult { storms: StormResult[]; failover: FailoverStormResult[]; load: number[] }

const BASE_MAC = '02:00:5e:10:00:00';
const STORM_S = 15;
/** offered exchanges per second: ISC dhcpd answers ~2,900/s of 3,000 here, so the servers, not perfdhcp, set the figure */
const OFFERED = 3000;
/** examples/lab-kea-ha.yaml's state_dir, /var/lib/ha-oscar/kea4|6: in each head's own /var/lib/ha-oscar (src/lab/nodefs.ts) */
const keaStateDir = (family: Family): string => `kea${family}`;

function perfArgs(family: Family, clients: number, rate: number, seconds: number): string[] {
  // -l eth0: the client's net A port (broadcast DISCOVER, multicast SOLICIT); -t 1: a report every
  // second; -W: wait for the last answers 1 s after the test period
  const a = ['perfdhcp', `-${family}`, '-l', 'eth0', '-r', String(rate), '-R', String(clients), '-p', String(seconds), '-t', '1', '-W', '1000000'];
  if (family === 4) a.push('-b', `mac=${BASE_MAC}`);
  return a;
}

async function perfdhcp(spec: LabSpec, family: Family, clients: number, rate: number, seconds: number): Promise<Perfdhcp & { out: string }> {
  const r = await exec(spec, 'client', perfArgs(family, clients, rate, seconds), { timeoutMs: (seconds + 60) * 1000 });
  // perfdhcp exits 3 when packets were dropped: a figure, not a failure
  if (r.code !== 0 && r.code !== 3) throw new Error(`perfdhcp -${family} exited ${r.code}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  return { ...parsePerfdhcp(r.stdout), out: r.stdout };
}

/** Kea's counter of answers (DHCPACK, v6 REPLY) on a head, over the agent's control socket. */
async function keaAnswers(spec: LabSpec, head: NodeName, family: Family): Promise<number> {
  const sock = `/run/ha-oscar/dhcpd${family}.pid.d/kea${family}-ctrl.sock`;
  const stat = family === 4 ? 'pkt4-ack-sent' : 'pkt6-reply-sent';
  const js = 'const s=require("net").createConnection(process.argv[1],()=>s.write(process.argv[2]));let b="";s.on("data",(d)=>b+=d);s.on("end",()=>console.log(b));s.on("error",(e)=>{console.error(e.message);process.exit(1)})';
  const r = await execOk(spec, head, [process.execPath, '-e', js, sock, JSON.stringify({ command: 'statistic-get', arguments: { name: stat } })], { timeoutMs: 15_000 });
  const v = (JSON.parse(r.stdout) as { arguments?: Record<string, [number, string][]> }).arguments?.[stat]?.[0]?.[0];
  if (typeof v !== 'number') throw new Error(`${head}: Kea's ${stat}: ${r.stdout.trim().slice(0, 200)}`);
  return v;
}

async function storm(spec: LabSpec, server: string, family: Family, clients: number, say: Say, kea: boolean, offered = OFFERED): Promise<StormResult> {
  const before = kea ? await Promise.all(HEADS.map((h) => keaAnswers(spec, h, family))) : [];
  const p = await perfdhcp(spec, family, clients, offered, STORM_S);
  const perHead = kea ? Object.fromEntries(await Promise.all(HEADS.map(async (h, i) => [h, (await keaAnswers(spec, h, family)) - before[i]!]))) : undefined;
  const { periodic: _p, out: _o, ...perf } = p;
  const r: StormResult = { server, family, clients, offered, seconds: STORM_S, perf, perS: Math.round(perf.received / STORM_S), perHead };
  say(`  ${server} DHCPv${family}, ${clients} clients: ${r.perS} exchanges/s, ${perf.received}/${perf.sent} answered, ${perf.drops} dropped` +
    (perHead ? `; per head ${HEADS.map((h) => `${h} ${perHead[h]}`).join(', ')}` : ''));
  return r;
}

const leaseFile = (spec: LabSpec, head: NodeName, family: Family): string =>
  join(nodeDir(spec, head), 'var-lib-ha-oscar', keaStateDir(family), `kea-leases${family}.csv`);
function leasesOf(spec: LabSpec, head: NodeName, family: Family): Map<string, KeaLease> {
  try { return parseKeaLeases(readFileSync(leaseFile(spec, head, family), 'utf8')); } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw e;
  }
}

/** The failover storms: FAILOVER_S seconds each, v4 and v6 side by side, the victim powered off OFF_AT_S seconds in. */
const FAILOVER_S = 40;
const OFF_AT_S = 10;
/** per family, below what the pair answers (the storms above overload it: the gap would measure the overload) */
const FAILOVER_OFFERED = 400;

/**
 * The agent's takeover line in the survivor's pacemaker log (agents/dhcpd.ts notify): when it was
 * written (Kea in partner-down) and how long the notification took, per family.
 */
export function takeovers(log: string): Map<Family, { at: number; ms: number }> {
  const out = new Map<Family, { at: number; ms: number }>();
  const re = /dhcpd\(dhcpd([46])\)\[\d+\]:\s+(\S+Z) INFO: Pacemaker stopped the partner's instance on \S+: Kea serves every scope .* after (\d+) ms/g;
  for (const m of log.matchAll(re)) out.set(Number(m[1]) as Family, { at: Date.parse(m[2]!), ms: Number(m[3]) });
  return out;
}

async function failoverStorms(spec: LabSpec, runs: { family: Family; clients: number }[], victim: NodeName, say: Say): Promise<FailoverStormResult[]> {
  const survivor = peerOf(victim);
  const off = logOffset(spec, survivor);
  const t0 = Date.now();
  const storms = runs.map((x) => perfdhcp(spec, x.family, x.clients, FAILOVER_OFFERED, FAILOVER_S));
  await sleep(OFF_AT_S * 1000);
  const tOff = await powerOff(spec, victim);
  const outs = await Promise.all(storms);
  const fence = pacemakerFencing(spec, survivor, victim, off);
  const took = takeovers(readFileSync(join(nodeDir(spec, survivor), 'var-log', 'pacemaker', 'pacemaker.log')).subarray(off).toString('utf8'));
  const now = Date.now() / 1000;
  const offAtS = (tOff - t0) / 1000;
  const s = (t: number | undefined) => (t === undefined ? undefined : (t - t0) / 1000);
  return runs.map((x, i) => {
    const p = outs[i]!;
    const { perInterval, longestGap, gapEnd } = gaps(p.periodic);
    const before = perInterval.slice(1, Math.floor(offAtS)).sort((a, b) => a - b);
    const median = before.length ? before[Math.floor(before.length / 2)]! : 0;
    const back = perInterval.findIndex((n, j) => j >= Math.ceil(offAtS) && j >= (gapEnd ?? 0) && n >= 0.9 * median);
    const dbs = HEADS.map((h) => leasesOf(spec, h, x.family));
    const survivorDb = dbs[HEADS.indexOf(survivor)]!;
    const servedAfter = new Set([...survivorDb.values()].filter((l) => l.validLifetime > 0 && l.expire - l.validLifetime >= tOff / 1000).map((l) => l.client)).size;
    const tk = took.get(x.family);
    const r: FailoverStormResult = {
      family: x.family, clients: x.clients, offered: FAILOVER_OFFERED, victim, survivor, offAtS, fencedAtS: s(fence.confirmed), takeoverAtS: s(tk?.at), takeoverMs: tk?.ms,
      perSecond: perInterval, longestGapS: longestGap, gapEndS: gapEnd, backAtS: back < 0 ? undefined : back,
      clientsServedAfterOff: servedAfter, duplicates: duplicates(dbs, now),
    };
    say(`  DHCPv${x.family}, ${x.clients} clients: power-off of ${victim} at ${offAtS.toFixed(1)} s, fenced at ${r.fencedAtS?.toFixed(1) ?? 'n/a'} s, ` +
      `Kea on ${survivor} serving every scope at ${r.takeoverAtS?.toFixed(1) ?? 'n/a'} s (${tk?.ms ?? 'n/a'} ms after the notification); answers per second ${perInterval.join(' ')}; ` +
      `longest gap ${longestGap} s (ending at ${gapEnd ?? 'n/a'} s); back at ${r.backAtS ?? 'n/a'} s; ${servedAfter} clients served by ${survivor} after the power-off; ` +
      `${r.duplicates.length} duplicate address(es)`);
    return r;
  });
}

export async function benchDhcp(spec: LabSpec, say: Say, opts: { v6Clients?: number[] } = {}): Promise<DhcpBenchResult> {
  if (!which('perfdhcp')) throw new Error('perfdhcp is not installed: apt-get install kea-admin');
  const v6Clients = opts.v6Clients ?? [1000, 10000];
  const load: number[] = [];
  const storms: StormResult[] = [];
  const failover: FailoverStormResult[] = [];
  await down(spec.name);
  await up(spec, { say: (l) => say(`  [up] ${l.trim()}`) });
  try {
    say('ISC dhcpd (the lab\'s own configuration, one server on the active head)');
    load.push(loadavg()[0]!);
    storms.push(await storm(spec, 'ISC dhcpd', 4, 50, say, false));
    for (const n of v6Clients) storms.push(await storm(spec, 'ISC dhcpd', 6, n, say, false));

    say('Kea HA load-balancing (examples/lab-kea-ha.yaml)');
    await clearConfig(spec, 180_000);
    if (!writeFenceSecrets(spec)) throw new Error('the lab has no PDU secret: fencing is off');
    await execOk(spec, 'head1', [process.execPath, join(spec.repo, 'dist', 'ha-oscar'), 'config', 'apply', join(spec.repo, 'examples', 'lab-kea-ha.yaml')], { timeoutMs: 240_000 });
    const t = Date.now();
    for (;;) {
      const a = await activeResources(spec);
      if (a.filter((x) => x === 'dhcpd4' || x === 'dhcpd6').length === 4 && (await whereIs(spec, 'vip-boot-ipv4'))) break;
      if (Date.now() - t > 240_000) throw new Error(`Kea HA not running on both heads within 240 s (active: ${a.join(' ')})`);
      await sleep(1000);
    }
    await sleep(10_000); // the HA pair's handshake (waiting -> load-balancing)
    load.push(loadavg()[0]!);
    storms.push(await storm(spec, 'Kea HA load-balancing', 4, 50, say, true));
    for (const n of v6Clients) storms.push(await storm(spec, 'Kea HA load-balancing', 6, n, say, true));
    // the split between the heads below the pair's capacity (overloaded, the busier head answers fewer)
    for (const n of v6Clients) storms.push(await storm(spec, 'Kea HA load-balancing', 6, n, say, true, FAILOVER_OFFERED));

    say(`Kea HA load-balancing, head1 powered off ${OFF_AT_S} s into ${FAILOVER_S}-s storms, DHCPv4 and DHCPv6 side by side`);
    load.push(loadavg()[0]!);
    failover.push(...await failoverStorms(spec, [{ family: 4, clients: 50 }, { family: 6, clients: v6Clients[0]! }], 'head1', say));

    // one Kea: the survivor in partner-down sends no lease updates (the pair's figure against it)
    say('one Kea: head2 alone, in partner-down (head1 stays off)');
    load.push(loadavg()[0]!);
    storms.push(await storm(spec, 'one Kea (head2, partner-down)', 4, 50, say, false));
    for (const n of v6Clients) storms.push(await storm(spec, 'one Kea (head2, partner-down)', 6, n, say, false));
  } finally {
    await down(spec.name, { say });
  }
  return { storms, failover, load };
}

export function printDhcpBench(r: DhcpBenchResult, say: Say): number {
  say('\n| server | family | clients | offered/s | exchanges/s | answered / sent | dropped | per head |');
  say('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const s of r.storms) {
    const ph = s.perHead ? HEADS.map((h) => `${h} ${s.perHead![h]}`).join(', ') : '';
    say(`| ${s.server} | v${s.family} | ${s.clients} | ${s.offered} | ${s.perS} | ${s.perf.received} / ${s.perf.sent} | ${s.perf.drops} | ${ph} |`);
  }
  for (const f of r.failover) {
    say(`\nfailover storm, DHCPv${f.family}, ${f.clients} clients, ${f.offered}/s offered: ${f.victim} off at ${f.offAtS.toFixed(1)} s, fenced at ${f.fencedAtS?.toFixed(1) ?? 'n/a'} s, ` +
      `Kea on ${f.survivor} serving every scope at ${f.takeoverAtS?.toFixed(1) ?? 'n/a'} s; ` +
      `longest gap ${f.longestGapS} s; back to the rate before at ${f.backAtS ?? 'n/a'} s; ${f.clientsServedAfterOff} clients served by ${f.survivor} after the power-off; duplicates ${f.duplicates.length}`);
    say(`answers per second: ${f.perSecond.join(' ')}`);
  }
  say(`load at the storms: ${r.load.map((l) => l.toFixed(1)).join(', ')}`);
  return r.failover.some((f) => f.duplicates.length) ? 1 : 0;
}

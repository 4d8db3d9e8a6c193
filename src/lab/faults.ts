// Fault battery (issue 21; npm run faults -> scripts/faults.mjs -> `ha-oscar lab faults`).
// Brings up its own lab, keeps load running on the client throughout (an NFS write stream, DHCP
// leases, ARP/NDP queries for the VIPs), injects faults one after the other, and for each: the
// time until it was detected, until the affected services answer again from the client, what
// was lost, and the outcome. What must hold in every fault (a broken one is a FAILURE row):
// 0 acknowledged NFS writes lost, never two MACs answering for one VIP, never both heads fenced,
// no DHCP address bound to two clients. Writes one table (markdown) to docs/faults.md.
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../service/atomic';
import { run } from '../service/run';
import { allAnswer, settle, stat } from './bench';
import { corosyncEvents, corosyncTime, logOffset, measureFailover, pacemakerFencing, pacemakerLog, sizeOf, type Timeline } from './failover';
import { pduEvents } from './fence';
import { cable, down, exec, initOf, missingPrereqs, powerOff, powerOn, up, waitOnline, whereIs, type Say } from './lab';
import { loadPeer, peerChecks } from './peer';
import { sleep } from './procs';
import { DHCP_STATE, hostLabDir, labChecks, labCrmConfig, NFS_EXPORT, type ClientCheck } from './services';
import { HEADS, peerOf, VIP4, VIP6, nodeDir, sharedDir, type LabSpec, type NodeName } from './spec';

/** One row of the table. Times in ms from the fault. */
export interface FaultRow {
  fault: string;
  detected?: string;
  answers?: string;
  lost: string;
  outcome: string;
  /** Invariants broken during this fault (empty: all held). */
  failures: string[];
}
export interface FaultsResult { date: string; load: string; token: string; commit: string; quick: boolean; only?: string; wallS: number; rows: FaultRow[]; perService: { name: string; median?: number; max?: number; n: number }[] }

const s = (ms: number | undefined): string => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);

// ---- the load on the client -------------------------------------------------------------

interface Write { n: number; t: number; ok: boolean }
interface MacQuery { t: number; vip: string; macs: string[] }
interface Lease { t: number; fam: 4 | 6; mac: string; address?: string }

const FAULTS_DIR = 'faults';
/** What the client's load needs besides the lab (command -> Debian package; .ci/apt.d/faults.txt). */
const LOAD_BINS: Record<string, string> = { arping: 'iputils-arping', ndisc6: 'ndisc6', 'nfs-cp': 'libnfs-utils' };
const CLIENT_MACS = ['02:00:00:fa:00:01', '02:00:00:fa:00:02', '02:00:00:fa:00:03'];

/** Load kept running on the client; every event timed, so each fault reads its own window. */
class Load {
  writes: Write[] = [];
  macs: MacQuery[] = [];
  leases: Lease[] = [];
  private stopped = false;
  private loops: Promise<void>[] = [];
  constructor(private spec: LabSpec) {}

  private get payloadHost(): string { return join(nodeDir(this.spec, 'client'), 'var-lib-ha-oscar', 'faults-payload'); }
  private get exportHost(): string { return join(sharedDir(this.spec), 'export', FAULTS_DIR); }

  start(): void {
    mkdirSync(this.payloadHost, { recursive: true });
    mkdirSync(this.exportHost, { recursive: true, mode: 0o1777 });
    chmodSync(this.exportHost, 0o1777); // the client's root is squashed
    this.loops = [this.nfsLoop(), this.ndpLoop(), this.arpLoop(), this.dhcpLoop()];
  }

  async stop(): Promise<void> { this.stopped = true; await Promise.all(this.loops); }

  private async forever(fn: () => Promise<void>, gapMs: number): Promise<void> {
    while (!this.stopped) {
      const t = Date.now();
      try { if (initOf(this.spec, 'client')) await fn(); } catch { /* recorded as not acknowledged / no answer */ }
      const left = gapMs - (Date.now() - t);
      if (left > 0) await sleep(left);
    }
  }

  /** Numbered writes through NFS (libnfs nfs-cp, NFSv3 on VIP4): exit 0 = acknowledged. */
  private nfsLoop(): Promise<void> {
    let n = 0;
    return this.forever(async () => {
      const i = ++n;
      const name = `w${i}`;
      writeFileAtomic(join(this.payloadHost, name), `write ${i}\n`);
      const r = await exec(this.spec, 'client', ['nfs-cp', `/var/lib/ha-oscar/faults-payload/${name}`, `nfs://${VIP4}${NFS_EXPORT}/${FAULTS_DIR}/${name}`], { timeoutMs: 8_000 });
      this.writes.push({ n: i, t: Date.now(), ok: r.code === 0 });
      rmSync(join(this.payloadHost, name), { force: true });
    }, 300);
  }

  /** Every 100 ms, one neighbour solicitation for VIP6, every answer kept (ndisc6 -m). */
  private ndpLoop(): Promise<void> {
    return this.forever(async () => {
      const r = await exec(this.spec, 'client', ['ndisc6', '-m', '-n', '-r', '1', '-w', '90', VIP6, 'eth0'], { timeoutMs: 5_000 });
      this.macs.push({ t: Date.now(), vip: VIP6, macs: [...new Set([...r.stdout.matchAll(/Target link-layer address: ([0-9A-F:]+)/gi)].map((m) => m[1]!.toLowerCase()))] });
    }, 100);
  }

  /**
   * ARP for VIP4: iputils arping ends at the count of replies or the deadline (whole seconds),
   * so each query waits up to 1 s for a SECOND reply (-c 2 -w 1): one query a second at most,
   * each returning every MAC that answered it.
   */
  private arpLoop(): Promise<void> {
    return this.forever(async () => {
      const r = await exec(this.spec, 'client', ['arping', '-c', '2', '-w', '1', '-I', 'eth0', VIP4], { timeoutMs: 5_000 });
      this.macs.push({ t: Date.now(), vip: VIP4, macs: [...new Set([...r.stdout.matchAll(/reply from \S+ \[([0-9A-F:]+)\]/gi)].map((m) => m[1]!.toLowerCase()))] });
    }, 100);
  }

  /**
   * DHCP: a full lease for one of three client MACs in turn, v4 and v6 alternately, every 3 s
   * (each is a Node process in the client: more often loaded the 2 cores the heads run on).
   */
  private dhcpLoop(): Promise<void> {
    let k = 0;
    return this.forever(async () => {
      const mac = CLIENT_MACS[k % CLIENT_MACS.length]!;
      for (const fam of [k++ % 2 ? 6 : 4] as const) {
        const r = await exec(this.spec, 'client', [process.execPath, join(this.spec.repo, 'dist', 'ha-oscar'), 'lab', '_probe', `lease${fam}`, '--timeout', '3000', mac], { timeoutMs: 20_000 });
        let address: string | undefined;
        try { const j = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { ok?: boolean; address?: string }; if (j.ok) address = j.address; } catch { /* no answer */ }
        this.leases.push({ t: Date.now(), fam, mac, address });
      }
    }, 3_000);
  }

  /** Acknowledged writes in [t0, t1] whose file is gone or wrong on the shared storage. */
  lostWrites(t0: number, t1: number): { acked: number; tried: number; lost: number[] } {
    const w = this.writes.filter((x) => x.t >= t0 && x.t <= t1);
    const lost: number[] = [];
    for (const x of w.filter((y) => y.ok)) {
      let text = '';
      try { text = readFileSync(join(this.exportHost, `w${x.n}`), 'utf8'); } catch { /* lost */ }
      if (text !== `write ${x.n}\n`) lost.push(x.n);
    }
    return { acked: w.filter((x) => x.ok).length, tried: w.length, lost };
  }

  /** Queries in [t0, t1] answered by more than one MAC. */
  twoMacs(t0: number, t1: number): { queries: number; answered: number; dup: MacQuery[] } {
    const q = this.macs.filter((x) => x.t >= t0 && x.t <= t1);
    return { queries: q.length, answered: q.filter((x) => x.macs.length > 0).length, dup: q.filter((x) => x.macs.length > 1) };
  }

  /** Addresses leased (so far, any time) to more than one MAC. */
  doubleLeases(): string[] {
    const by = new Map<string, Set<string>>();
    for (const l of this.leases) if (l.address) by.set(l.address, (by.get(l.address) ?? new Set()).add(l.mac));
    return [...by.entries()].filter(([, m]) => m.size > 1).map(([a, m]) => `${a} -> ${[...m].join(', ')}`);
  }

  leasesIn(t0: number, t1: number): { ok: number; tried: number } {
    const l = this.leases.filter((x) => x.t >= t0 && x.t <= t1);
    return { ok: l.filter((x) => x.address).length, tried: l.length };
  }
}

// ---- the faults --------------------------------------------------------------------------

/** Head daemons and what runs them: the process name, its resources, its client checks (name prefix). */
interface Daemon { proc: string; rscs: string[]; checks: string }
export const DAEMONS: Daemon[] = [
  { proc: 'dhcpd', rscs: ['dhcpd4', 'dhcpd6'], checks: 'dhcp' },
  { proc: 'in.tftpd', rscs: ['tftpd'], checks: 'tftp' },
  { proc: 'chronyd', rscs: ['ntpd'], checks: 'ntp' },
  { proc: 'snmpd', rscs: ['snmpd'], checks: 'snmp' },
  { proc: 'ganesha.nfsd', rscs: ['nfsserver'], checks: 'nfs' },
  { proc: 'rpcbind', rscs: ['nfsserver'], checks: 'nfs' },
];

/**
 * The same daemons in the bare resource-agents peer (src/lab/peer.ts): ocf:heartbeat:dhcpd
 * (DHCPv4 only) and ocf:heartbeat:anything for the others; it has no NFS.
 */
export const PEER_DAEMONS: Daemon[] = [
  { proc: 'dhcpd', rscs: ['peer-dhcpd'], checks: 'dhcp' },
  { proc: 'in.tftpd', rscs: ['peer-tftpd'], checks: 'tftp' },
  { proc: 'chronyd', rscs: ['peer-chronyd'], checks: 'ntp' },
  { proc: 'snmpd', rscs: ['peer-snmpd'], checks: 'snmp' },
];
export const PEER_PREFIX = 'peer: ';

/** Head-local faults (section d), by name. */
const HEAD_FAULTS = ['in.tftpd binary unusable', 'state directory full', 'corrupt generated config', 'pacemaker-controld SIGKILL', 'corosync SIGKILL'] as const;

/** Every fault's name, in the battery's order: what `--only REGEX` is matched against. */
export const FAULT_NAMES: string[] = [
  'power-off',
  ...DAEMONS.flatMap((d) => [`${d.proc} SIGKILL`, `${d.proc} SIGSTOP`]),
  'split brain active', 'split brain passive',
  ...HEAD_FAULTS,
  'snmpd restart during failover',
  ...PEER_DAEMONS.flatMap((d) => [`${PEER_PREFIX}${d.proc} SIGKILL`, `${PEER_PREFIX}${d.proc} SIGSTOP`]),
];

/** Level-10 monitors (a real protocol exchange) next to the lab's level-0 ones, for the resources above. */
async function addDeepMonitors(spec: LabSpec): Promise<void> {
  const rscs = new Set(DAEMONS.flatMap((d) => d.rscs));
  const lines = labCrmConfig(spec).split('\n').filter((l) => { const m = /^primitive (\S+) /.exec(l); return m && rscs.has(m[1]!); })
    .map((l) => `${l} op monitor interval=9s timeout=20s OCF_CHECK_LEVEL=10`);
  const head = HEADS.find((h) => initOf(spec, h))!;
  const r = await exec(spec, head, ['crm', 'configure', 'load', 'update', '-'], { input: lines.join('\n') + '\n', timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`adding level-10 monitors: ${(r.stderr || r.stdout).trim()}`);
}

/** First non-ok result of an operation `op` (monitor, start) for one of rscs in a head's pacemaker log after an offset (epoch ms). */
function monitorFailure(spec: LabSpec, node: NodeName, rscs: string[], fromOffset: number, op = 'monitor'): { at?: number; what?: string } {
  let text = '';
  try { text = readFileSync(pacemakerLog(spec, node)).subarray(fromOffset).toString('utf8'); } catch { return {}; }
  for (const line of text.split('\n')) {
    const m = /Result of (\S+) operation for (\S+) on \S+: (.*)/.exec(line);
    if (m && m[1] === op && rscs.includes(m[2]!) && !/^(ok|Cancelled)\b/.test(m[3]!)) return { at: corosyncTime(line), what: `${m[2]}: ${op === 'monitor' ? '' : `${op} `}${m[3]!.replace(/\s*\|.*$/, '').trim()}` };
    // a hung daemon can hang the monitor itself: the controller logs its time-out, no result line
    const t = /rsc_op \d+: (\S+)_(\S+?)_(\d+) on \S+ timed out/.exec(line);
    if (t && t[2] === op && rscs.includes(t[1]!)) return { at: corosyncTime(line), what: `${t[1]}: ${op}${op === 'monitor' ? ` (interval ${Number(t[3]) / 1000} s)` : ''} timed out` };
  }
  return {};
}

/**
 * The client's checks: the first answer after a check stopped answering (ms from t0, the
 * latest over the checks); 0 when none stopped within quietMs of t0 once isDone() holds.
 */
async function outage(spec: LabSpec, checks: ClientCheck[], t0: number, isDone: () => boolean, timeoutMs: number, quietMs = 15_000): Promise<number | undefined> {
  const res = await Promise.all(checks.map(async (c) => {
    let down = false;
    for (;;) {
      const r = await exec(spec, 'client', c.pollArgv ?? c.argv, { timeoutMs: c.timeoutMs ?? 10_000 });
      if (r.code !== 0) down = true;
      else if (down) return Date.now() - t0;
      else if (isDone() && Date.now() - t0 > quietMs) return 0;
      if (Date.now() - t0 > timeoutMs) return undefined;
      // checks that are Node processes (timeoutMs set: tftp, ntp, dhcp) once a second, not to load the heads' cores
      await sleep(c.timeoutMs && c.timeoutMs > 10_000 ? 1_000 : 200);
    }
  }));
  return res.some((x) => x === undefined) ? undefined : Math.max(0, ...(res as number[]));
}

/** Fenced outlets (PDU 'off'/'reboot' by fencing, not by the battery's own power-offs) since a time. */
function fencedSince(spec: LabSpec, t0: number): string[] {
  return [...new Set(pduEvents(spec).filter((e) => (e.event === 'off' || e.event === 'reboot') && e.time && Date.parse(e.time) >= t0).map((e) => e.name ?? '?'))];
}

/** Until the cluster has no action in flight (crm_resource --wait), at most timeoutS; false when it did not get there. */
async function idle(spec: LabSpec, timeoutS = 120): Promise<boolean> {
  const head = HEADS.find((h) => initOf(spec, h));
  if (!head) return false;
  const r = await exec(spec, head, ['crm_resource', '--wait', `--timeout=${timeoutS}s`], { timeoutMs: (timeoutS + 30) * 1000 });
  return r.code === 0;
}

/**
 * Fail counts cleared after a fault, with the cluster idle before and after. A cleanup while
 * the recovery's transition is still in flight (its new recurring monitors just initiated)
 * cancels those monitors, and the controller then waits for their results until the action
 * timer expires (~80 s in the lab): no monitor runs meanwhile, so a hang injected right after
 * went undetected (the battery's run of 2026-12-07 15:51, snmpd, in.tftpd, ganesha SIGSTOP).
 */
async function cleanup(spec: LabSpec, rscs: string[]): Promise<void> {
  await idle(spec);
  const head = HEADS.find((h) => initOf(spec, h))!;
  for (const r of new Set(rscs)) await exec(spec, head, ['crm_resource', '--cleanup', '--resource', r], { timeoutMs: 30_000 });
  for (const r of new Set(rscs)) await locate(spec, r, 60_000); // re-probed: started again somewhere
  await idle(spec); // the re-probe's transition done: the recurring monitors run again
}

/** Where a resource runs, waiting up to timeoutMs while crm_mon shows it nowhere (re-probed, recovering). */
async function locate(spec: LabSpec, rsc: string, timeoutMs: number): Promise<NodeName | undefined> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const h = await whereIs(spec, rsc).catch(() => undefined);
    if (h || Date.now() > until) return h;
    await sleep(500);
  }
}

/** Poll fn every 500 ms until it holds (true) or timeoutMs has passed (false). */
async function waitUntil(timeoutMs: number, fn: () => Promise<boolean>): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await fn().catch(() => false)) return true;
    if (Date.now() > until) return false;
    await sleep(500);
  }
}

/** HA-OSCAR-MIB::haOscarClusterNodesOnline.0 from the client on VIP4 (numeric OID: no MIB files needed), or undefined. */
async function mibNodesOnline(spec: LabSpec): Promise<number | undefined> {
  const r = await exec(spec, 'client', ['snmpget', '-v2c', '-c', 'public', '-r', '0', '-t', '2', '-On', VIP4, HA_OSCAR_NODES_ONLINE], { timeoutMs: 10_000 });
  const m = r.code === 0 ? /=\s*\w+:\s*(\d+)/.exec(r.stdout) : null;
  return m ? Number(m[1]) : undefined;
}
/** haOscarClusterNodesOnline.0: experimental(1.3.6.1.3).7460 haOscarObjects(1) haOscarCluster(1) 5. */
const HA_OSCAR_NODES_ONLINE = '1.3.6.1.3.7460.1.1.5.0';

/** A subset run (--only) keeps each head's pacemaker log (the lab's state goes at down) in out/faults-only/. */
function keepLogs(spec: LabSpec, say: Say): void {
  const dir = join(spec.repo, 'out', 'faults-only');
  mkdirSync(dir, { recursive: true });
  for (const h of HEADS) {
    try { copyFileSync(pacemakerLog(spec, h), join(dir, `${h}-pacemaker.log`)); } catch (e) { say(`  (no pacemaker log of ${h}: ${(e as NodeJS.ErrnoException).code ?? e})`); }
  }
  say(`  the heads' pacemaker logs: ${dir}`);
}

export interface FaultsOptions {
  quick: boolean; say: Say; rounds?: number;
  /** Run only the faults whose name (FAULT_NAMES) matches. */
  only?: RegExp;
}

export async function faults(spec: LabSpec, opts: FaultsOptions): Promise<FaultsResult> {
  const { say } = opts;
  const wall0 = Date.now();
  const rows: FaultRow[] = [];
  const loads: number[] = [];
  const want = (name: string): boolean => !opts.only || opts.only.test(name);
  if (!FAULT_NAMES.some(want)) throw new Error(`--only ${opts.only}: matches none of: ${FAULT_NAMES.join(', ')}`);
  const miss = missingPrereqs(LOAD_BINS);
  if (miss) throw new Error(miss);
  await down(spec.name);
  await up(spec, { say: (l) => say(`  [up] ${l.trim()}`) });
  const load = new Load(spec);
  let perService: FaultsResult['perService'] = [];
  try {
    await addDeepMonitors(spec);
    await settle(spec);
    load.start();
    await sleep(3_000);
    const doubles = new Set<string>();
    const row = (fault: string, t0: number, r: Omit<FaultRow, 'fault' | 'lost' | 'failures'>, extra: string[] = []): void => {
      const t1 = Date.now();
      loads.push(loadavg()[0]!);
      const w = load.lostWrites(t0, t1);
      const m = load.twoMacs(t0, t1);
      const l = load.leasesIn(t0, t1);
      const fenced = fencedSince(spec, t0);
      const failures = [...extra];
      if (w.lost.length) failures.push(`${w.lost.length} acknowledged NFS writes lost (${w.lost.slice(0, 5).join(', ')})`);
      if (m.dup.length) failures.push(`two MACs for one VIP in ${m.dup.length} queries (${m.dup[0]!.vip}: ${m.dup[0]!.macs.join(' ')})`);
      if (HEADS.every((h) => fenced.includes(h))) failures.push('both heads fenced');
      // each address bound twice is the failure of the fault during which it first showed, not of every later one
      const dl = load.doubleLeases().filter((x) => !doubles.has(x));
      for (const x of dl) doubles.add(x);
      if (dl.length) failures.push(`DHCP address bound to two clients: ${dl.join('; ')}`);
      const x: FaultRow = {
        fault, ...r, failures,
        lost: `NFS ${w.lost.length}/${w.acked} acked (${w.tried - w.acked} unacked); DHCP ${l.ok}/${l.tried} leases; ARP/NDP ${m.answered}/${m.queries} answered, max 1 MAC: ${m.dup.length ? 'NO' : 'yes'}`,
      };
      rows.push(x);
      say(`  ${fault}: detected: ${x.detected ?? 'n/a'}; answers again: ${x.answers ?? 'n/a'}; ${x.outcome}; ${x.lost}${failures.length ? `; FAILURE: ${failures.join('; ')}` : ''}`);
    };

    // (a) NodeFlap: power-off of the active head, again and again (services alternate heads)
    const rounds = want('power-off') ? opts.rounds ?? (opts.quick ? 1 : 20) : 0;
    const tls: Timeline[] = [];
    const f0 = Date.now();
    for (let i = 1; i <= rounds; i++) {
      const t = await measureFailover(spec, { timeoutMs: 90_000 });
      tls.push(t);
      say(`  power-off ${i}/${rounds}: ${t.active} -> ${t.newActive ?? '?'}, membership ${s(t.membershipMs)}, all answer ${s(allAnswer(t))}`);
      await powerOn(spec, t.active);
      await settle(spec);
    }
    const names = tls[0]?.checks.map((c) => c.name) ?? [];
    perService = names.map((n) => stat(n, tls.map((t) => t.checks.find((c) => c.name === n)?.ms)));
    const det = stat('d', tls.map((t) => t.membershipMs));
    const all = stat('a', tls.map(allAnswer));
    const mm = (x: typeof det): string => (rounds > 1 ? `median ${s(x.median)}, max ${s(x.max)}` : s(x.median));
    if (rounds) row(`power-off of the active head (NodeFlap) x${rounds}`, f0, {
      detected: `${mm(det)} (corosync membership)`, answers: `${mm(all)} (every service)${all.missed ? `, ${all.missed} never` : ''}`,
      outcome: `moved to the peer ${tls.filter((t) => t.newActive === t.survivor).length}/${rounds}; head back on and rejoined each time`,
    }, tls.filter((t) => t.newActive !== t.survivor).map((t) => `services not on the survivor after ${t.active} was powered off`));

    // (b) each daemon on the active head: SIGKILL, then SIGSTOP
    const checks = labChecks(spec);
    /** One daemon fault; prefix names the configuration in the row ('' for ha-oscar's). */
    const daemonFault = async (d: Daemon, sig: 'KILL' | 'STOP', cks: ClientCheck[], prefix = ''): Promise<void> => {
      const name = `${prefix}${d.proc} SIG${sig}`;
      const active = await locate(spec, d.rscs[0]!, 60_000);
      const skip = (why: string): void => { rows.push({ fault: name, lost: '', outcome: `not run: ${why}`, failures: [] }); say(`  ${name}: not run: ${why}`); };
      if (!active) { skip(`${d.rscs[0]} runs nowhere`); return; }
      const ps = await exec(spec, active, ['pgrep', '-x', d.proc]);
      const pids = ps.stdout.split(/\s+/).filter((x) => /^\d+$/.test(x));
      if (!pids.length) { skip(`no ${d.proc} process on ${active}`); return; }
      const offs = Object.fromEntries(HEADS.map((h) => [h, sizeOf(pacemakerLog(spec, h))]));
      const t0 = Date.now();
      for (const p of pids) await exec(spec, active, ['kill', '-s', sig, p]);
      let fail: { at?: number; what?: string } = {};
      const detect = (): boolean => {
        if (fail.at === undefined) for (const h of HEADS) { const f = monitorFailure(spec, h, d.rscs, offs[h]!); if (f.at !== undefined) { fail = f; break; } }
        return fail.at !== undefined;
      };
      // SIGSTOP: whether the processes stay stopped (ps state T) until the fault is over; a
      // process continued by someone else is no hang, and the row says so
      let watching = sig === 'STOP';
      let resumed: string | undefined;
      let resumedAt = 0;
      const watcher = (async () => {
        while (watching && resumed === undefined) {
          const r = await exec(spec, active, ['ps', '-o', 'pid=,stat=', '-p', pids.join(',')], { timeoutMs: 5_000 }).catch(() => undefined);
          if (r) {
            const st = new Map(r.stdout.trim().split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/) as [string, string]));
            const off = pids.find((p) => !st.get(p)?.startsWith('T'));
            if (off) { resumedAt = Date.now(); resumed = `${d.proc} (pid ${off}) ${st.has(off) ? `in state ${st.get(off)}` : 'gone'} ${s(resumedAt - t0)} after the SIGSTOP`; }
          }
          await sleep(500);
        }
      })();
      const answers = await outage(spec, cks.filter((c) => c.name.startsWith(d.checks)), t0, detect, 120_000);
      const until = t0 + 90_000;
      while (!detect() && Date.now() < until) await sleep(500);
      watching = false;
      await watcher;
      if (sig === 'STOP') for (const p of pids) await exec(spec, active, ['kill', '-s', 'CONT', p]); // if it is still there
      const now = await locate(spec, d.rscs[0]!, 60_000);
      const service = answers === 0 ? 'kept answering' : answers === undefined ? 'down' : `answered again after ${s(answers)}`;
      const outcome = (fail.at === undefined ? `NOT detected within 90 s (service ${service})`
        : now === active ? `repaired in place on ${active}` : now ? `moved to the peer ${now}` : `${d.rscs[0]} stopped`)
        // (after detection, the recovery's stop continues it: that is no news)
        + (resumed && (fail.at === undefined || resumedAt < fail.at) ? `; no longer stopped before detection: ${resumed}` : '');
      row(`${name} on the active head (${active})`, t0, {
        detected: fail.at !== undefined ? `${s(fail.at - t0)} (${fail.what})` : 'not detected',
        answers: answers === undefined ? 'not within 120 s' : answers === 0 ? 'never stopped' : s(answers),
        outcome,
      });
      await cleanup(spec, d.rscs);
      await settle(spec, cks);
    };
    for (const d of DAEMONS) for (const sig of ['KILL', 'STOP'] as const) if (want(`${d.proc} SIG${sig}`)) await daemonFault(d, sig, checks);

    // (c) split brain: both inter-head links (nets A and B) of one head cut, the PDU (net M) still reachable
    for (const which of ['active', 'passive'] as const) {
      if (!want(`split brain ${which}`)) continue;
      const active = (await whereIs(spec, 'vip4'))!;
      const cut = which === 'active' ? active : peerOf(active);
      const peer = peerOf(cut);
      const offs = Object.fromEntries(HEADS.map((h) => [h, logOffset(spec, h)]));
      const t0 = Date.now();
      await Promise.all([cable(spec, cut, 'A', false), cable(spec, cut, 'B', false)]);
      // a check still answering 30 s after the cut never stopped
      const answers = await outage(spec, checks, t0, () => true, 120_000, 30_000);
      // who survives: wait for the PDU to switch one head off
      let fenced: string[] = [];
      while (Date.now() - t0 < 150_000) { fenced = fencedSince(spec, t0); if (fenced.length) break; await sleep(500); }
      await sleep(5_000);
      fenced = fencedSince(spec, t0);
      const ev = corosyncEvents(spec, peer, offs[peer]!);
      const survivors = HEADS.filter((h) => initOf(spec, h));
      const extra: string[] = [];
      if (survivors.length !== 1) extra.push(`${survivors.length} heads survive (${survivors.join(', ') || 'none'})`);
      const where = await whereIs(spec, 'vip4').catch(() => undefined);
      await Promise.all([cable(spec, cut, 'A', true), cable(spec, cut, 'B', true)]).catch(() => undefined); // a powered-off head's ports come back at power-on
      row(`split brain: ${which} head ${cut} cut from nets A and B (PDU on M reachable)`, t0, {
        detected: `${s(ev.membership !== undefined ? ev.membership - t0 : undefined)} (corosync membership on ${peer})`,
        answers: answers === undefined ? 'not within 120 s' : answers === 0 ? 'never stopped' : s(answers),
        outcome: `fenced: ${fenced.join(', ') || 'none'}; survivor: ${survivors.join(', ')}; services on ${where ?? 'nowhere'}`,
      }, extra);
      for (const h of HEADS) if (!initOf(spec, h)) await powerOn(spec, h);
      await waitOnline(spec, HEADS, 180_000);
      await settle(spec);
    }

    // (d) head-local faults on the active head
    const allRscs = DAEMONS.flatMap((d) => d.rscs);
    /** rsc: the resource the fault is aimed at (outcome: where it runs, or why it runs nowhere); else the services (vip4). */
    const headFault = async (name: (typeof HEAD_FAULTS)[number], label: string, inject: (active: NodeName) => Promise<void>, restore?: (active: NodeName) => Promise<void>, rsc?: string): Promise<void> => {
      if (!want(name)) return;
      const active = (await whereIs(spec, 'vip4'))!;
      const peer = peerOf(active);
      const coro = logOffset(spec, peer);
      const offs = Object.fromEntries(HEADS.map((h) => [h, sizeOf(pacemakerLog(spec, h))]));
      const t0 = Date.now();
      await inject(active);
      const answers = await outage(spec, checks, t0, () => true, 150_000, 30_000);
      await sleep(3_000);
      const fenced = fencedSince(spec, t0);
      const cands: [number | undefined, string][] = [
        [corosyncEvents(spec, peer, coro).membership, `corosync membership on ${peer}`],
        [pacemakerFencing(spec, peer, active, offs[peer]!).requested, `fencing of ${active} requested`],
        ...HEADS.map((h): [number | undefined, string] => { const f = monitorFailure(spec, h, allRscs, offs[h]!); return [f.at, f.what ?? '']; }),
      ];
      const first = cands.filter((c): c is [number, string] => c[0] !== undefined).sort((a, b) => a[0] - b[0])[0];
      const where = await locate(spec, rsc ?? 'vip4', 30_000);
      const why = rsc && !where ? HEADS.map((h) => monitorFailure(spec, h, [rsc], offs[h]!, 'start')).find((f) => f.what)?.what : undefined;
      if (restore && initOf(spec, active)) await restore(active);
      const extra: string[] = [];
      if (HEADS.every((h) => !initOf(spec, h))) extra.push('no head left');
      row(`${label} on the active head (${active})`, t0, {
        detected: first ? `${s(first[0] - t0)} (${first[1]})` : 'not detected',
        answers: answers === undefined ? 'not within 150 s' : answers === 0 ? 'never stopped' : s(answers),
        outcome: `${rsc ? (where === active ? `${rsc} repaired in place on ${active}` : where ? `${rsc} moved to the peer ${where}` : `${rsc} runs nowhere: ${why ?? 'no failed start in the log'}`)
          : where === active ? `services stayed on ${active}` : where ? `moved to the peer ${where}` : 'services run nowhere'}${fenced.length ? `; fenced: ${fenced.join(', ')}` : ''}`,
      }, extra);
      for (const h of HEADS) if (!initOf(spec, h)) await powerOn(spec, h);
      await waitOnline(spec, HEADS, 180_000);
      await cleanup(spec, allRscs);
      await settle(spec);
    };
    const killAll = (proc: string) => async (h: NodeName): Promise<void> => {
      const ps = await exec(spec, h, ['pgrep', '-x', proc]);
      for (const p of ps.stdout.split(/\s+/).filter((x) => /^\d+$/.test(x))) await exec(spec, h, ['kill', '-s', 'KILL', p]);
    };
    // the daemon binary gone: /dev/null bound over it in the head's own mount namespace, then the daemon killed
    await headFault('in.tftpd binary unusable', 'in.tftpd binary unusable (/dev/null over /usr/sbin/in.tftpd) and in.tftpd killed',
      async (h) => { await exec(spec, h, ['mount', '--bind', '/dev/null', '/usr/sbin/in.tftpd']); await killAll('in.tftpd')(h); },
      async (h) => { await exec(spec, h, ['umount', '/usr/sbin/in.tftpd']); });
    // dhcpd4's state directory full: in the active head's own mount namespace, a 256 KiB tmpfs holding a copy of the
    // directory, filled up, bound over it; then dhcpd4 killed (its start must write the lease file there)
    const FULL = '/run/ha-oscar-faults-full';
    let tFull = 0;
    const killDhcpd4 = async (h: NodeName): Promise<void> => {
      const ps = await exec(spec, h, ['ps', '-C', 'dhcpd', '-o', 'pid=,args=']);
      for (const l of ps.stdout.split('\n').filter((x) => /\/dhcpd\.conf\b/.test(x))) await exec(spec, h, ['kill', '-s', 'KILL', l.trim().split(/\s+/)[0]!]);
    };
    await headFault('state directory full', `dhcpd4's state directory (${DHCP_STATE[4]}) full (a 256 KiB tmpfs, filled) and dhcpd4 killed`,
      async (h) => {
        for (const argv of [['mkdir', '-p', FULL], ['mount', '-t', 'tmpfs', '-o', 'size=256k,mode=0755', 'faults-full', FULL],
          ['cp', '-a', `${DHCP_STATE[4]}/.`, FULL], ['mount', '--bind', FULL, DHCP_STATE[4]]]) {
          const r = await exec(spec, h, argv);
          if (r.code !== 0) throw new Error(`state directory full: ${argv.join(' ')}: ${(r.stderr || r.stdout).trim()}`);
        }
        await exec(spec, h, ['dd', 'if=/dev/zero', `of=${FULL}/filler`, 'bs=4k']); // ends at ENOSPC
        const df = await exec(spec, h, ['df', '--output=avail', '-B1', FULL]);
        say(`  state directory full: ${df.stdout.trim().split('\n').pop()} bytes left on the tmpfs`);
        tFull = Date.now();
        await killDhcpd4(h);
      },
      async (h) => {
        // what dhcpd4 did meanwhile: v4 leases granted to the client, and the state directory's files
        const v4 = load.leases.filter((l) => l.fam === 4 && l.t >= tFull);
        const ls = await exec(spec, h, ['ls', '-l', '--time-style=+%T', DHCP_STATE[4]]);
        say(`  state directory full: ${v4.filter((l) => l.address).length}/${v4.length} v4 leases granted while full; ${ls.stdout.trim().split('\n').join(' | ')}`);
        await exec(spec, h, ['umount', '-l', DHCP_STATE[4]]);
        await exec(spec, h, ['umount', '-l', FULL]);
        await killDhcpd4(h); // one started on the tmpfs would keep writing its leases there: restarted on the real directory
      }, 'dhcpd4');
    // a corrupt generated config file: the lab's dhcpd.conf on the active head cut in half with garbage after it, then dhcpd4 killed (start must read it)
    let conf = '';
    const confOf = (h: NodeName): string => join(hostLabDir(spec, h), 'dhcpd.conf');
    await headFault('corrupt generated config', 'dhcpd.conf corrupt (cut in half, garbage appended) and dhcpd4 killed',
      async (h) => {
        conf = readFileSync(confOf(h), 'utf8');
        writeFileAtomic(confOf(h), `${conf.slice(0, conf.length >> 1)}\n}} { not a dhcpd.conf\n`);
        const ps = await exec(spec, h, ['ps', '-C', 'dhcpd', '-o', 'pid=,args=']);
        for (const l of ps.stdout.split('\n').filter((x) => /\/dhcpd\.conf\b/.test(x))) await exec(spec, h, ['kill', '-s', 'KILL', l.trim().split(/\s+/)[0]!]);
      },
      async (h) => { if (conf) writeFileAtomic(confOf(h), conf); }, 'dhcpd4');
    await headFault('pacemaker-controld SIGKILL', 'pacemaker-controld SIGKILL', killAll('pacemaker-controld'));
    await headFault('corosync SIGKILL', 'corosync SIGKILL', killAll('corosync'));

    // (e) snmpd restarted under the SNMP subagent during a failover: the active head powered off;
    // as soon as snmpd runs on the survivor it is restarted there (crm_resource --restart, as an
    // admin would). The survivor's subagent must find the new snmpd by itself (src/snmp: it
    // reconnects; net-snmp's own agent does not), and the HA-OSCAR-MIB answer on the VIP again
    // showing the dead head offline.
    if (want('snmpd restart during failover')) {
      const active = await locate(spec, 'snmpd', 60_000);
      if (!active) rows.push({ fault: 'snmpd restart during failover', lost: '', outcome: 'not run: snmpd runs nowhere', failures: [] });
      else {
        const survivor = peerOf(active);
        const coro = logOffset(spec, survivor);
        const t0 = await powerOff(spec, active);
        const extra: string[] = [];
        let restarted: string | undefined;
        let tRestart: number | undefined;
        let tMib: number | undefined;
        try {
          const where = await waitUntil(90_000, async () => (await whereIs(spec, 'snmpd').catch(() => undefined)) === survivor);
          if (!where) extra.push(`snmpd not started on ${survivor} within 90 s of the power-off`);
          else {
            const r = await exec(spec, survivor, ['crm_resource', '--restart', '--resource', 'snmpd', '--timeout=120s'], { timeoutMs: 150_000 });
            tRestart = Date.now() - t0;
            restarted = r.code === 0 ? `restarted on ${survivor} ${s(tRestart)} after the power-off` : `crm_resource --restart failed (${r.code}): ${(r.stderr || r.stdout).trim().split('\n')[0]}`;
            if (r.code !== 0) extra.push(restarted);
            // the subagent re-registered with the new snmpd, and its data shows one head online
            const ok = await waitUntil(120_000, async () => (await mibNodesOnline(spec)) === 1);
            if (ok) tMib = Date.now() - t0; else extra.push(`HA-OSCAR-MIB did not answer on ${VIP4} with 1 node online within 120 s of the restart (the subagent did not reconnect)`);
          }
        } finally {
          await powerOn(spec, active);
        }
        const ev = corosyncEvents(spec, survivor, coro);
        row(`snmpd restarted on the survivor during a failover (power-off of ${active})`, t0, {
          detected: `${s(ev.membership !== undefined ? ev.membership - t0 : undefined)} (corosync membership on ${survivor})`,
          answers: tMib !== undefined ? `${s(tMib)} (HA-OSCAR-MIB on the VIP, ${active} offline)` : 'not within 120 s',
          outcome: `snmpd ${restarted ?? 'not restarted'}; ${tMib !== undefined ? `the subagent on ${survivor} reconnected by itself ${s(tMib - tRestart!)} after the restart` : 'the subagent did not reconnect'}`,
        }, extra);
        await waitOnline(spec, HEADS, 180_000);
        await settle(spec);
      }
    }

    // (f) the daemon faults again, against the bare resource-agents peer (src/lab/peer.ts), for the side-by-side table
    const peerFaults = PEER_DAEMONS.flatMap((d) => (['KILL', 'STOP'] as const).filter((sig) => want(`${PEER_PREFIX}${d.proc} SIG${sig}`)).map((sig) => ({ d, sig })));
    if (peerFaults.length) {
      say('  switching the lab to the bare resource-agents peer (src/lab/peer.ts)');
      await loadPeer(spec, say, 180_000, { carryLeases: true });
      const pc = peerChecks(spec);
      await settle(spec, pc);
      for (const { d, sig } of peerFaults) await daemonFault(d, sig, pc, PEER_PREFIX);
    }
  } finally {
    await load.stop();
    if (opts.only) keepLogs(spec, say);
    await down(spec.name);
  }
  const git = await run('git', ['-C', spec.repo, 'rev-parse', 'HEAD'], { timeoutMs: 10_000 });
  const commit = git.code === 0 ? git.stdout.trim() : 'unknown';
  return {
    date: new Date().toISOString(), token: spec.token ? `${spec.token} ms` : 'corosync default', commit, quick: opts.quick, only: opts.only ? String(opts.only) : undefined,
    load: `${Math.min(...loads).toFixed(1)}..${Math.max(...loads).toFixed(1)} (1-min average at each fault's end) on ${cpus().length} CPUs`,
    wallS: Math.round((Date.now() - wall0) / 1000), rows, perService,
  };
}

const cell = (x: string | undefined): string => (x ?? '').replace(/\|/g, '\\|');

/** The daemon faults of ha-oscar and of the bare resource-agents peer, one line each (when the peer's ran). */
function sideBySide(r: FaultsResult): string[] {
  const find = (name: string): FaultRow | undefined => r.rows.find((x) => x.fault === name || x.fault.startsWith(`${name} `));
  const lines = PEER_DAEMONS.flatMap((d) => (['KILL', 'STOP'] as const).map((sig) => {
    const name = `${d.proc} SIG${sig}`;
    const peer = find(`${PEER_PREFIX}${name}`);
    if (!peer) return undefined;
    const ours = find(name);
    const col = (x: FaultRow | undefined): string => (x ? `${cell(x.detected ?? 'n/a')} | ${cell(x.answers ?? 'n/a')} | ${cell(x.outcome)}` : 'not run | | ');
    return `| ${name} | ${col(ours)} | ${col(peer)} |`;
  })).filter((x): x is string => x !== undefined);
  if (!lines.length) return [];
  return [
    'Side by side: the same daemon faults on the active head, ha-oscar\'s agents (level-10 protocol monitors) against the bare',
    'resource-agents peer (src/lab/peer.ts: `ocf:heartbeat:dhcpd` for DHCPv4, `ocf:heartbeat:anything` for in.tftpd, chronyd and',
    'snmpd, every monitor a 10-s pid check; no NFS, no DHCPv6). Its rows are in the table above too, prefixed "peer:".',
    '',
    '| fault | ha-oscar: detected | answers again | outcome | peer: detected | answers again | outcome |',
    '|---|---|---|---|---|---|---|',
    ...lines,
    '',
  ];
}

export function faultsMarkdown(r: FaultsResult): string {
  const out = [
    '# Fault battery (`npm run faults`)',
    '',
    'Written by `npm run faults` (scripts/faults.mjs -> `ha-oscar lab faults`, src/lab/faults.ts): its own lab, load on the client',
    'throughout (NFS writes, DHCP leases, ARP/NDP for the VIPs), one fault after the other. Times are from the fault.',
    '"answers": until every affected service answers again from the client (power-off, split brain: every service).',
    '"lost": acknowledged NFS writes not on the shared storage afterwards / acknowledged; DHCP leases got / tried;',
    'ARP (VIP4) and NDP (VIP6) queries answered, and whether every one got at most one MAC.',
    'A FAILURE is a fault that broke one of: 0 acknowledged NFS writes lost, never two MACs for one VIP, never both heads fenced,',
    'no DHCP address bound to two clients.',
    '',
    `- date: ${r.date}${r.quick ? ' (--quick: one round of each fault)' : ''}`,
    ...(r.only ? [`- subset: --only ${r.only} (${r.rows.length} of ${FAULT_NAMES.length} faults)`] : []),
    `- load: ${r.load}`,
    `- token: ${r.token}`,
    `- commit: ${r.commit}`,
    `- wall time of the battery: ${r.wallS} s (lab up and down included)`,
    '',
    '| fault | detected | answers again (client) | lost | outcome |',
    '|---|---|---|---|---|',
    ...r.rows.map((x) => `| ${cell(x.fault)} | ${cell(x.detected)} | ${cell(x.answers)} | ${cell(x.lost)} | ${x.failures.length ? `**FAILURE**: ${cell(x.failures.join('; '))}; ` : ''}${cell(x.outcome)} |`),
    '',
    ...sideBySide(r),
    ...(r.perService.length ? [`Power-off, per service (time until it answers from the client): ${r.perService.map((p) => `${p.name} ${p.n > 1 ? `median ${s(p.median)} max ${s(p.max)}` : s(p.median)}`).join('; ')}.`, ''] : []),
  ];
  return out.join('\n');
}

// `ha-oscar lab bench-snmp` (npm run bench:snmp, second part): ha-oscar's AgentX subagent and
// Debian's pcs-snmp (pcs_snmp_agent: PACEMAKER-PCS-V1-MIB, python3-pyagentx) side by side,
// under the SAME snmpd (the lab's snmpd resource on the active head, reached on the VIP from
// the client), in the same lab cluster: 2 heads and 200 extra resources (ocf:heartbeat:Dummy,
// no recurring monitor). For each subagent:
//  - per-varbind latency of a full snmpbulkwalk of its MIB (the slope between a small and a
//    full walk, so the client's own start-up cancels out; best of N), and one snmpget;
//  - the subagent's CPU per varbind over the full walks, its RSS, its idle CPU over 60 s (own,
//    and its children: our CIB polls, pcs-snmp's pcsd-cli.rb runs);
//  - freshness: from a change in the cluster until the MIB, read on the VIP, shows it:
//    a resource stopped (both), a resource moved (ours only: the PCS MIB has no resource
//    location), the active head powered off (both: nodes online).
// pcs_snmp_agent runs as Debian starts it (its update interval, default 30 s), with one
// change: pyagentx's socket path is set to the lab snmpd's AgentX socket (it is a constant,
// /var/agentx/master, in pyagentx). Both subagents run on both heads, as a site would run them.
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { exec, execOk, initOf, powerOff, up, down, whereIs, type Say } from './lab';
import { HEADS, VIP4, addr4, type LabSpec, type NodeName } from './spec';
import { AGENTX_SOCKET } from './services';
import { sleep } from './procs';
import { signalRunning } from '../service/run';

export const OURS_OID = '1.3.6.1.3.7460.1';
export const PCS_OID = '1.3.6.1.4.1.32723.100.1';
const P = `${PCS_OID}.1`; // pcmkPcsV1Cluster
const PCS = {
  nodesOnline: `${P}.9.0`, // pcmkPcsV1ClusterPcmkNodesOnlineNum
  stoppedNum: `${P}.19.0`, // pcmkPcsV1ClusterStoppedResourcesNum
  stoppedIds: `${P}.20.0`,
};
const OURS = {
  nodesOnline: `${OURS_OID}.1.5.0`, // haOscarClusterNodesOnline
  resourceId: `${OURS_OID}.3.1.2`, // haOscarResourceId column
  resourceRole: (i: string) => `${OURS_OID}.3.1.4.${i}`,
  resourceNode: (i: string) => `${OURS_OID}.3.1.5.${i}`,
};
const RESOURCES = 200;
const COMMUNITY = 'public';

export interface AgentFigures {
  name: string;
  varbinds: number;
  usPerVarbind: number;
  getMs: number;
  cpuUsPerVarbind: number;
  rssMiB: number;
  /** RssAnon: the private part of RSS (heap, stacks); RssFile is the interpreter's text and libraries, shared with every process that maps them. */
  anonMiB: number;
  idleOwnPct: number;
  idleChildrenPct: number;
  freshStopMs?: number;
  freshMoveMs?: number;
  freshPowerOffMs?: number;
  /** After the power-off: when this MIB answered again at all (snmpd moved, subagent registered). */
  answersAfterPowerOffMs?: number;
}
export interface SnmpBenchResult { runs: number; resources: number; load: number[]; ours: AgentFigures; pcs: AgentFigures }

const HZ = 100;
function ticks(pid: number): { own: number; children: number } {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { own: Number(f[11]) + Number(f[12]), children: Number(f[13]) + Number(f[14]) };
}
const statusMiB = (pid: number, field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const rssMiB = (pid: number): number => statusMiB(pid, 'VmRSS');
const anonMiB = (pid: number): number => statusMiB(pid, 'RssAnon');

/** The host PID of the process in a head whose command line contains `marker` (for /proc figures only, never to kill). */
function findIn(spec: LabSpec, head: NodeName, marker: RegExp): number | undefined {
  const init = initOf(spec, head);
  if (!init) return undefined;
  const ns = readlinkSync(`/proc/${init.pid}/ns/pid`);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readlinkSync(`/proc/${d}/ns/pid`) !== ns) continue;
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (argv.some((a) => marker.test(a))) return Number(d);
    } catch { /* gone */ }
  }
  return undefined;
}

const snmpArgs = (cmd: string, extra: string[]): string[] => [cmd, '-v2c', '-c', COMMUNITY, '-t', '3', '-r', '1', '-On', '-Oe', ...extra, VIP4];

async function walk(spec: LabSpec, oid: string): Promise<{ ms: number; n: number }> {
  const t0 = process.hrtime.bigint();
  const r = await exec(spec, 'client', [...snmpArgs('snmpbulkwalk', ['-Cr25']), oid], { timeoutMs: 60_000 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.code !== 0) throw new Error(`snmpbulkwalk ${oid}: ${(r.stderr || r.stdout).trim().split('\n').pop()}`);
  return { ms, n: r.stdout.split('\n').filter((l) => l.startsWith('.')).length };
}

async function get(spec: LabSpec, oid: string): Promise<string | undefined> {
  const r = await exec(spec, 'client', [...snmpArgs('snmpget', ['-Oqv']), oid], { timeoutMs: 15_000 });
  if (r.code !== 0) return undefined;
  const v = r.stdout.trim();
  return /No Such|No more/.test(v) ? undefined : v.replace(/^"|"$/g, '');
}

/** ms from t0 until pred(value) holds, polling every 100 ms; undefined when not within timeoutMs. */
async function until(t0: number, timeoutMs: number, read: () => Promise<string | undefined>, pred: (v: string | undefined) => boolean): Promise<number | undefined> {
  for (;;) {
    const v = await read().catch(() => undefined);
    if (pred(v)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs) return undefined;
    await sleep(100);
  }
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]!; };
const best = (xs: number[]): number => Math.min(...xs);

/** Start pcs_snmp_agent on a head: Debian's program, pyagentx pointed at the lab snmpd's socket. */
function startPcsAgent(spec: LabSpec, head: NodeName): void {
  const code = `import pyagentx; pyagentx.SOCKET_PATH = ${JSON.stringify(AGENTX_SOCKET)}\nfrom pcs.snmp import pcs_snmp_agent\npcs_snmp_agent.main()`;
  // not awaited: it runs until the lab goes down (its head's PID namespace ends it) or signalRunning
  void exec(spec, head, ['/usr/bin/python3', '-Es', '-c', code, 'ha-oscar-bench-pcs-snmp'], { timeoutMs: 6 * 3600_000 }).catch(() => undefined);
}

async function figuresFor(spec: LabSpec, name: string, pid: number, full: string, small: string, cell: string, runs: number): Promise<AgentFigures> {
  await walk(spec, full); // warm up
  const tf: number[] = []; const ts: number[] = []; const tg: number[] = [];
  let n = 0; let nSmall = 0; let cpu = 0;
  for (let i = 0; i < runs; i++) {
    const c0 = ticks(pid).own;
    const f = await walk(spec, full);
    cpu += ticks(pid).own - c0;
    tf.push(f.ms); n = f.n;
    const s = await walk(spec, small);
    ts.push(s.ms); nSmall = s.n;
    const g0 = process.hrtime.bigint();
    if ((await get(spec, cell)) === undefined) throw new Error(`${name}: snmpget ${cell} got no value`);
    tg.push(Number(process.hrtime.bigint() - g0) / 1e6);
  }
  if (n <= nSmall) throw new Error(`${name}: the full walk (${n}) is not longer than the small one (${nSmall})`);
  return {
    name, varbinds: n, usPerVarbind: ((best(tf) - best(ts)) * 1000) / (n - nSmall), getMs: median(tg),
    cpuUsPerVarbind: (cpu / HZ) * 1e6 / (n * runs), rssMiB: rssMiB(pid), anonMiB: anonMiB(pid), idleOwnPct: 0, idleChildrenPct: 0,
  };
}

export async function benchSnmp(spec: LabSpec, runs: number, say: Say): Promise<SnmpBenchResult> {
  if (!existsSync('/usr/lib/python3/dist-packages/pcs/snmp/pcs_snmp_agent.py')) throw new Error('pcs-snmp is not installed: apt-get install pcs-snmp');
  await up(spec, { say });
  try {
    const active = (await whereIs(spec, 'snmpd')) ?? 'head1';
    say(`adding ${RESOURCES} resources (ocf:heartbeat:Dummy, no recurring monitor) and the ha-oscar alert (refresh trigger)`);
    const dummies = Array.from({ length: RESOURCES }, (_, i) => `primitive bench-d${i} ocf:heartbeat:Dummy`).join('\n');
    // the alert ha-oscar config emits for a site (docs/snmp.md): it pokes the subagent's refresh file
    const alert = `alert ha-oscar-snmp "/usr/share/pacemaker/alerts/alert_haoscar" attributes transport=snmptrap select nodes resources to udp:${addr4('client', 'A')}:162`;
    await execOk(spec, active, ['crm', 'configure', 'load', 'update', '-'], { input: `${dummies}\n`, timeoutMs: 120_000 });
    await execOk(spec, active, ['crm_resource', '--wait', '--timeout=600s'], { timeoutMs: 630_000 });
    // the alert once they run: 600 probes and starts would each run it
    await execOk(spec, active, ['crm', 'configure', 'load', 'update', '-'], { input: `${alert}\n`, timeoutMs: 120_000 });
    for (const h of HEADS) {
      await execOk(spec, h, ['mkdir', '-p', '/var/log/pcsd']);
      startPcsAgent(spec, h);
    }
    // both registered: each MIB answers on the VIP
    const ready = Date.now();
    for (const [what, oid] of [['ha-oscar', OURS.nodesOnline], ['pcs-snmp', PCS.nodesOnline]] as const) {
      if ((await until(ready, 120_000, () => get(spec, oid), (v) => v === '2')) === undefined) throw new Error(`${what}: ${oid} did not read 2 within 120 s`);
    }
    const oursPid = findIn(spec, active, /ha-oscar-snmp-agent$/);
    const pcsPid = findIn(spec, active, /^ha-oscar-bench-pcs-snmp$/);
    if (!oursPid || !pcsPid) throw new Error(`subagent processes not found on ${active} (ha-oscar ${oursPid}, pcs-snmp ${pcsPid})`);
    say(`walking both MIBs from the client, ${runs} runs each (active head ${active})`);
    const ours = await figuresFor(spec, 'ha-oscar', oursPid, OURS_OID, `${OURS_OID}.1`, OURS.resourceNode('1'), runs);
    const pcs = await figuresFor(spec, 'pcs-snmp', pcsPid, PCS_OID, `${P}.1`, PCS.stoppedNum, runs);

    say('idle 60 s');
    const i0 = [ticks(oursPid), ticks(pcsPid)];
    await sleep(60_000);
    const i1 = [ticks(oursPid), ticks(pcsPid)];
    const pct = (a: number, b: number) => ((b - a) / HZ / 60) * 100;
    ours.idleOwnPct = pct(i0[0]!.own, i1[0]!.own); ours.idleChildrenPct = pct(i0[0]!.children, i1[0]!.children);
    pcs.idleOwnPct = pct(i0[1]!.own, i1[1]!.own); pcs.idleChildrenPct = pct(i0[1]!.children, i1[1]!.children);
    ours.rssMiB = rssMiB(oursPid); pcs.rssMiB = rssMiB(pcsPid);
    ours.anonMiB = anonMiB(oursPid); pcs.anonMiB = anonMiB(pcsPid);

    // freshness 1: a resource stopped
    const idx = await resourceIndex(spec, 'bench-d7');
    const stoppedBefore = Number(await get(spec, PCS.stoppedNum));
    const roleBefore = await get(spec, OURS.resourceRole(idx));
    say('freshness: bench-d7 stopped');
    let t0 = Date.now();
    await execOk(spec, active, ['crm_resource', '--resource', 'bench-d7', '--set-parameter', 'target-role', '--meta', '--parameter-value', 'Stopped']);
    [ours.freshStopMs, pcs.freshStopMs] = await Promise.all([
      until(t0, 90_000, () => get(spec, OURS.resourceRole(idx)), (v) => v !== undefined && v !== roleBefore),
      until(t0, 90_000, () => get(spec, PCS.stoppedNum), (v) => Number(v) === stoppedBefore + 1),
    ]);
    await execOk(spec, active, ['crm_resource', '--resource', 'bench-d7', '--delete-parameter', 'target-role', '--meta']);
    await execOk(spec, active, ['crm_resource', '--wait', '--timeout=120s'], { timeoutMs: 150_000 });

    // freshness 2: a resource moved (ours only)
    const idx2 = await resourceIndex(spec, 'bench-d9');
    const nodeBefore = await get(spec, OURS.resourceNode(idx2));
    const target = nodeBefore === 'head1' ? 'head2' : 'head1';
    say(`freshness: bench-d9 moved from ${nodeBefore} to ${target}`);
    t0 = Date.now();
    await execOk(spec, active, ['crm_resource', '--resource', 'bench-d9', '--move', '--node', target]);
    ours.freshMoveMs = await until(t0, 90_000, () => get(spec, OURS.resourceNode(idx2)), (v) => v === target);
    await execOk(spec, active, ['crm_resource', '--resource', 'bench-d9', '--clear']);
    await execOk(spec, active, ['crm_resource', '--wait', '--timeout=120s'], { timeoutMs: 150_000 });

    // freshness 3: the active head powered off (snmpd itself fails over with the VIP)
    say(`freshness: ${active} powered off`);
    t0 = await powerOff(spec, active);
    // when each MIB first answers again on the VIP (snmpd and the subagent back on the survivor),
    // and when it shows one node online
    const watchOff = async (oid: string): Promise<[number | undefined, number | undefined]> => {
      let first: number | undefined;
      const shown = await until(t0, 180_000, () => get(spec, oid), (v) => { if (v !== undefined && first === undefined) first = Date.now() - t0; return v === '1'; });
      return [first, shown];
    };
    [[ours.answersAfterPowerOffMs, ours.freshPowerOffMs], [pcs.answersAfterPowerOffMs, pcs.freshPowerOffMs]] = await Promise.all([watchOff(OURS.nodesOnline), watchOff(PCS.nodesOnline)]);
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
    return { runs, resources: RESOURCES, load, ours, pcs };
  } finally {
    signalRunning('SIGTERM');
    await down(spec.name, { say });
  }
}

/** The haOscarResourceTable index of a resource (walking the id column on the VIP). */
async function resourceIndex(spec: LabSpec, id: string): Promise<string> {
  const r = await exec(spec, 'client', [...snmpArgs('snmpbulkwalk', ['-Cr25']), OURS.resourceId], { timeoutMs: 60_000 });
  for (const l of r.stdout.split('\n')) {
    const m = /\.(\d+) = STRING: "?([^"]*)"?$/.exec(l.trim());
    if (m && m[2] === id) return m[1]!;
  }
  throw new Error(`${id} is not in haOscarResourceTable`);
}

const fmtMs = (ms: number | undefined): string => (ms === undefined ? 'not seen' : `${(ms / 1000).toFixed(2)} s`);

export function printSnmpBench(r: SnmpBenchResult, say: Say): void {
  const { ours: o, pcs: p } = r;
  const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined || b === 0 ? 'n/a' : `${(a / b).toFixed(2)}x`);
  say(`\n== SNMP subagents side by side, same snmpd, lab cluster of 2 heads + ${r.resources} resources, ${r.runs} runs, load ${r.load.join(' ')}`);
  const row = (what: string, a: string, b: string, q: string) => say(`  ${what.padEnd(34)} ${a.padStart(14)} ${b.padStart(14)} ${q.padStart(8)}`);
  row('', 'ha-oscar', 'pcs-snmp', 'ratio');
  row('varbinds in a full walk', String(o.varbinds), String(p.varbinds), '');
  row('per-varbind latency (us)', o.usPerVarbind.toFixed(1), p.usPerVarbind.toFixed(1), ratio(o.usPerVarbind, p.usPerVarbind));
  row('snmpget of one cell (ms, median)', o.getMs.toFixed(1), p.getMs.toFixed(1), ratio(o.getMs, p.getMs));
  row('subagent CPU per varbind (us)', o.cpuUsPerVarbind.toFixed(1), p.cpuUsPerVarbind.toFixed(1), ratio(o.cpuUsPerVarbind, p.cpuUsPerVarbind));
  row('RSS (MiB)', o.rssMiB.toFixed(1), p.rssMiB.toFixed(1), ratio(o.rssMiB, p.rssMiB));
  row('... of it private (RssAnon, MiB)', o.anonMiB.toFixed(1), p.anonMiB.toFixed(1), ratio(o.anonMiB, p.anonMiB));
  row('idle CPU, own (% of a core)', o.idleOwnPct.toFixed(2), p.idleOwnPct.toFixed(2), ratio(o.idleOwnPct, p.idleOwnPct));
  row('idle CPU, children (%)', o.idleChildrenPct.toFixed(2), p.idleChildrenPct.toFixed(2), ratio(o.idleChildrenPct, p.idleChildrenPct));
  row('freshness: resource stopped', fmtMs(o.freshStopMs), fmtMs(p.freshStopMs), ratio(o.freshStopMs, p.freshStopMs));
  row('freshness: resource moved', fmtMs(o.freshMoveMs), 'no such data', '');
  row('active head off: MIB answers again', fmtMs(o.answersAfterPowerOffMs), fmtMs(p.answersAfterPowerOffMs), ratio(o.answersAfterPowerOffMs, p.answersAfterPowerOffMs));
  row('active head off: MIB shows it', fmtMs(o.freshPowerOffMs), fmtMs(p.freshPowerOffMs), ratio(o.freshPowerOffMs, p.freshPowerOffMs));
  const lag = (x: AgentFigures) => (x.freshPowerOffMs !== undefined && x.answersAfterPowerOffMs !== undefined ? x.freshPowerOffMs - x.answersAfterPowerOffMs : undefined);
  row('  of which stale after answering', fmtMs(lag(o)), fmtMs(lag(p)), ratio(lag(o), lag(p)));
}

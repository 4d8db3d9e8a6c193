// The SNMP subagent in the lab's heads (issue 7). Each head runs ha-oscar-snmp-agent as the
// node init starts it (what the installed systemd unit says, plus --master /run/ha-oscar/agentx);
// snmpd (ocf:ha-oscar:snmpd, the AgentX master) runs on the active head only. From the CLIENT
// node, with net-snmp's own tools: walks over both VIPs, an snmpd crash, a power-off of the
// active head, and the Pacemaker alert agent's traps to an snmptrapd on the client.
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWith } from '../helpers/prereq';
import { healLab } from './heal';
import { crmMon, exec, initOf, isPoweredOn, loadSpec, powerOff, powerOn, waitOnline, waitServices, whereIs } from '../../src/lab/lab';
import { alive, childrenOf, killRecorded, record, sleep, waitGone, type ProcRecord } from '../../src/lab/procs';
import { HEADS, peerOf, MIBDIR, VIP4, VIP6, addr4, nodeDir, type LabSpec, type NodeName } from '../../src/lab/spec';
import { ALERT_STATE_DIR, CLUSTER_GROUP, FAILOVER_RECORD, SPOOL_DIR, SUBAGENT_USER } from '../../src/snmp/paths';
import { serviceFor } from '../../src/pacemaker/oscar-services';

const need = {
  root: true,
  bins: ['corosync', 'pacemakerd', 'tini', 'nsenter', 'snmpwalk', 'snmpget', 'snmptrap', 'snmptrapd', 'cibadmin', 'crm_resource'],
  packages: ['corosync', 'pacemaker', 'tini', 'util-linux', 'snmp', 'snmptrapd', 'pacemaker-cli-utils'],
};
const TARGETS = { v4: `udp:${VIP4}:161`, v6: `udp6:[${VIP6}]:161` } as const;
/** The subagent the node init runs (package or dist/), as pgrep -f sees it. */
const SUBAGENT_RE = 'ha-oscar-snmp-agent .*--master /run/ha-oscar/agentx';
const secs = (ms: number): string => (ms / 1000).toFixed(1);
const load = (): string => `load ${loadavg()[0]!.toFixed(1)} on ${cpus().length} CPUs`;
/** Debian ships no IETF MIBs: ours next to net-snmp's npm copies of the base MIBs. */
const mibArgs = (spec: LabSpec): string[] => ['-M', `${join(spec.repo, 'mib')}:${MIBDIR(spec)}`, '-m', '+HA-OSCAR-MIB'];

interface Walk { ok: boolean; ms: number; varbinds: number; nodes: Map<string, string>; resources: Map<string, { role: string; node: string }>; out: string }

/** snmpwalk of HA-OSCAR-MIB from the client, parsed into the node and resource tables. */
async function walk(spec: LabSpec, target: string, retry: string[] = ['-r', '1', '-t', '3']): Promise<Walk> {
  const t0 = Date.now();
  const r = await exec(spec, 'client', ['snmpwalk', '-v2c', '-c', 'public', ...retry, ...mibArgs(spec), target, 'HA-OSCAR-MIB::haOscarMIB'], { timeoutMs: 60_000 });
  const ms = Date.now() - t0;
  const col = new Map<string, Map<string, string>>();
  let varbinds = 0;
  for (const l of r.stdout.split('\n')) {
    const m = /^HA-OSCAR-MIB::(\w+)\.(\d+) = (?:[\w-]+: )?(.*)$/.exec(l);
    if (!m) continue;
    varbinds++;
    if (!col.has(m[1]!)) col.set(m[1]!, new Map());
    col.get(m[1]!)!.set(m[2]!, m[3]!.trim());
  }
  const c = (name: string): Map<string, string> => col.get(name) ?? new Map();
  const nodes = new Map([...c('haOscarNodeName')].map(([i, name]) => [name, c('haOscarNodeState').get(i) ?? '']));
  const resources = new Map([...c('haOscarResourceId')].map(([i, id]) => [id, { role: c('haOscarResourceRole').get(i) ?? '', node: c('haOscarResourceNode').get(i) ?? '' }]));
  return { ok: r.code === 0 && nodes.size > 0, ms, varbinds, nodes, resources, out: `${r.stdout}${r.stderr}` };
}

/** Poll `probe` until it returns a value, or fail after timeoutMs naming the last state. */
async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, last: () => string = () => ''): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`${what}: not after ${timeoutMs / 1000} s${last() ? ` (last: ${last()})` : ''}`);
    await sleep(250);
  }
}

/** Resources Pacemaker runs, id -> node (crm_mon in a head), besides the stonith devices. */
async function started(spec: LabSpec): Promise<Map<string, string>> {
  const m = await crmMon(spec);
  return new Map(m.resources.filter((r) => r.role === 'started' && r.nodes.length === 1).map((r) => [r.id, r.nodes[0]!]));
}

/** The walk agrees with crm_mon: both heads online, every started resource on its node. */
function matches(w: Walk, mon: Map<string, string>): string | undefined {
  if (!w.ok) return `no walk: ${w.out.split('\n').slice(-2).join(' ')}`;
  for (const h of HEADS) if (w.nodes.get(h) !== 'online(1)') return `${h}: ${w.nodes.get(h) ?? 'no row'}`;
  for (const [id, node] of mon) {
    const r = w.resources.get(id);
    if (!r || r.role !== 'started(1)' || r.node !== node) return `${id}: ${r ? `${r.role} on ${r.node}` : 'no row'}, crm_mon: on ${node}`;
  }
  return undefined;
}

// -- the trap receiver: snmptrapd in the client, recorded and killed by this file --------------
interface Trap { from: string; port: number; trap: string; vars: Record<string, string>; line: string }
const ALERT_ID = `hao-test-snmp-${process.pid}`;
/** The second alert: transport=subagent, through snmpd's trap sink (issue 7, finding 4). */
const ALERT_SA_ID = `${ALERT_ID}-sa`;
/** snmptrapd's ports: alert_haoscar's snmptrap (the alert's recipient) and snmpd's trap2sink. */
const PORT = { snmptrap: 162, snmpd: 1162 } as const;
let trapDir = '';
let trapLog = '';
let trapd: ProcRecord | undefined;
let trapLauncher: ProcRecord | undefined;

function traps(fromByte = 0): Trap[] {
  if (!existsSync(trapLog)) return [];
  const text = readFileSync(trapLog).subarray(fromByte).toString('utf8');
  const out: Trap[] = [];
  for (const line of text.split('\n')) {
    const f = line.split('\t');
    const oid = /\tSNMPv2-MIB::snmpTrapOID\.0 = OID: (\S+)/.exec(line)?.[1];
    if (!oid) continue;
    const vars: Record<string, string> = {};
    for (const x of f.slice(1)) {
      const m = /^HA-OSCAR-MIB::(\w+)\.0 = \w+: (.*)$/.exec(x);
      if (m) vars[m[1]!] = m[2]!.replace(/^"(.*)"$/, '$1');
    }
    // %b: "UDP: [sender]:port->[receiver]:port"
    const port = Number(/->\[[^\]]*\]:(\d+)/.exec(f[0]!)?.[1] ?? 0);
    out.push({ from: f[0]!, port, trap: oid, vars, line });
  }
  return out;
}
const trapTail = (): string => (existsSync(trapLog) ? readFileSync(trapLog, 'utf8').slice(-600) : 'no trap log');
const trapLogSize = (): number => (existsSync(trapLog) ? statSync(trapLog).size : 0);

async function startTrapd(spec: LabSpec): Promise<void> {
  trapDir = mkdtempSync(join(tmpdir(), 'hao-lab-snmptrapd-'));
  trapLog = join(trapDir, 'traps.log');
  const conf = join(trapDir, 'snmptrapd.conf');
  writeFileSync(conf, 'disableAuthorization yes\n');
  const init = initOf(spec, 'client');
  if (!init) throw new Error('the client is powered off');
  const fd = openSync(join(trapDir, 'snmptrapd.out'), 'a');
  // nsenter -p forks: its child is snmptrapd, in the client's PID namespace (so the lab's own
  // teardown would kill it too if this file could not).
  const c = spawn('nsenter', ['-t', String(init.pid), '-m', '-u', '-i', '-n', '-p', '--',
    'snmptrapd', '-f', '-n', '-C', '-c', conf, '-Lf', trapLog, ...mibArgs(spec).slice(0, 2), '-m', 'HA-OSCAR-MIB:SNMPv2-MIB',
    '-F', '%b\\t%v\\n', `udp:${addr4('client', 'A')}:${PORT.snmptrap},udp:${addr4('client', 'A')}:${PORT.snmpd}`], { stdio: ['ignore', fd, fd], env: { ...process.env, SNMP_PERSISTENT_DIR: trapDir } });
  closeSync(fd);
  c.on('error', () => { /* seen below as no child */ });
  trapLauncher = c.pid ? record(c.pid) : undefined;
  trapd = await waitFor('snmptrapd started in the client', 20_000, async () => {
    const kid = c.pid ? childrenOf(c.pid)[0] : undefined;
    return kid ? record(kid) : undefined;
  });
  await waitFor('snmptrapd listening', 30_000, async () => (existsSync(trapLog) && readFileSync(trapLog, 'utf8').includes('NET-SNMP version') ? true : undefined),
    () => (existsSync(join(trapDir, 'snmptrapd.out')) ? readFileSync(join(trapDir, 'snmptrapd.out'), 'utf8').slice(-300) : ''));
}

async function stopTrapd(): Promise<void> {
  const rs = [trapd, trapLauncher].filter((r): r is ProcRecord => !!r);
  if (trapd) killRecorded(trapd, 'SIGTERM');
  if (!(await waitGone(rs, 10_000))) for (const r of rs) killRecorded(r);
  await waitGone(rs, 10_000);
  expect(rs.filter(alive)).toEqual([]);
  if (trapDir) rmSync(trapDir, { recursive: true, force: true });
}

/**
 * The alerts: alert_haoscar as the package installs it, with its DEFAULT state_dir (per node)
 * and failover_record (the subagent's record on the node): one to the client's snmptrapd with
 * snmptrap, one through the subagent (transport=subagent: the spool, AgentX, snmpd's trap2sink).
 */
function alertXml(): string {
  const nv = (id: string, n: string, v: string): string => `<nvpair id="${id}-${n.replace(/_/g, '-')}" name="${n}" value="${v}"/>`;
  const select = '<select><select_nodes/><select_resources/></select>';
  return `<alert id="${ALERT_ID}" path="/usr/share/pacemaker/alerts/alert_haoscar">${select}`
    + `<recipient id="${ALERT_ID}-to" value="udp:${addr4('client', 'A')}:${PORT.snmptrap}"/></alert>`
    + `<alert id="${ALERT_SA_ID}" path="/usr/share/pacemaker/alerts/alert_haoscar">`
    + `<instance_attributes id="${ALERT_SA_ID}-ia">${nv(ALERT_SA_ID, 'transport', 'subagent')}</instance_attributes>${select}</alert>`;
}

describeWith(need, 'lab SNMP: HA-OSCAR-MIB from the client', () => {
  let spec: LabSpec;
  let alertHead: NodeName | undefined;

  beforeAll(async () => {
    const name = inject('labName');
    if (!name) throw new Error(inject('labError') || 'the lab did not come up');
    spec = loadSpec(name);
    // A failed file before this one may have left a head off or out of the cluster.
    await healLab(spec, (l) => console.log(`[snmp] ${l}`));
    await waitServices(spec, 240_000);
    await startTrapd(spec);
    // a trap from a head reaches it (the path the alert agent uses)
    const head = HEADS.find((h) => isPoweredOn(spec, h))!;
    const sent = await exec(spec, head, ['snmptrap', '-v2c', '-c', 'public', `udp:${addr4('client', 'A')}:162`, '', '1.3.6.1.3.7460.0.3', '1.3.6.1.3.7460.1.8.1.0', 's', 'trap-path-check']);
    expect(sent.code, sent.stderr).toBe(0);
    await waitFor('a test trap at the client', 30_000, async () => (traps().some((t) => t.trap === 'HA-OSCAR-MIB::haOscarNodeJoined' && t.vars.haOscarNotifyNode === 'trap-path-check') ? true : undefined), trapTail);
    // snmpd's trap sink for the subagent's notifications: the client's second port (a new
    // parameter restarts snmpd in place)
    const sink = await exec(spec, head, ['crm_resource', '--resource', 'snmpd', '--set-parameter', 'trap_sink', '--parameter-value', `udp:${addr4('client', 'A')}:${PORT.snmpd}`]);
    expect(sink.code, sink.stderr).toBe(0);
    const has = (await exec(spec, head, ['cibadmin', '--query', '--scope', 'alerts'])).code === 0;
    const r = has
      ? await exec(spec, head, ['cibadmin', '--create', '--scope', 'alerts', '--xml-text', alertXml()])
      : await exec(spec, head, ['cibadmin', '--create', '--scope', 'configuration', '--xml-text', `<alerts>${alertXml()}</alerts>`]);
    expect(r.code, r.stderr).toBe(0);
    alertHead = head;
    // The new parameter restarts snmpd: the tests below start from a running one. The cluster
    // must have done the restart, not only scheduled it: a check that snmpd is started can still
    // see the old one when the DC is busy (after a file that powered a head off and on, it first
    // probes every resource on the returning head; CI saw snmpd stopped under the first test).
    // crm_resource --wait computes the pending actions from the live CIB itself.
    const settled = await exec(spec, head, ['crm_resource', '--wait', '--timeout=240s'], { timeoutMs: 270_000 });
    expect(settled.code, `crm_resource --wait: ${settled.stderr}`).toBe(0);
    await waitFor('snmpd started again with trap_sink', 240_000, async () => ((await started(spec)).has('snmpd') ? true : undefined));
    await waitServices(spec, 240_000);
  }, 900_000);

  afterAll(async () => {
    if (!spec) return;
    // leave the lab as found: heads on and online, the alert and its state gone, no failcount
    await healLab(spec, (l) => console.log(`[snmp] ${l}`));
    const head = HEADS.find((h) => isPoweredOn(spec, h))!;
    if (alertHead) {
      for (const id of [ALERT_ID, ALERT_SA_ID]) {
        const d = await exec(spec, head, ['cibadmin', '--delete', '--scope', 'alerts', '--xml-text', `<alert id="${id}"/>`]);
        expect(d.code, d.stderr).toBe(0);
      }
    }
    await exec(spec, head, ['crm_resource', '--resource', 'snmpd', '--delete-parameter', 'trap_sink']);
    // the alerts' per-node state (the package's directory stays)
    for (const h of HEADS) if (isPoweredOn(spec, h)) await exec(spec, h, ['find', ALERT_STATE_DIR, '-mindepth', '1', '-delete']);
    // the cleanup only with the cluster idle (deleting trap_sink restarts snmpd): a cleanup while
    // the restart's new monitors are in flight cancels them, and the controller then waits ~80 s
    // for their results, monitoring nothing (src/lab/faults.ts cleanup())
    await exec(spec, head, ['crm_resource', '--wait', '--timeout=120s'], { timeoutMs: 150_000 });
    await exec(spec, head, ['crm_resource', '--cleanup', '--resource', 'snmpd'], { timeoutMs: 60_000 });
    await exec(spec, head, ['crm_resource', '--wait', '--timeout=120s'], { timeoutMs: 150_000 });
    await stopTrapd();
    await waitServices(spec, 240_000);
    expect((await exec(spec, head, ['cibadmin', '--query', '--xpath', `//alert[starts-with(@id, '${ALERT_ID}')]`])).code).not.toBe(0);
    expect((await exec(spec, head, ['cibadmin', '--query', '--xpath', `//primitive[@id='snmpd']//nvpair[@name='trap_sink']`])).code).not.toBe(0);
  }, 900_000);

  for (const [fam, target] of Object.entries(TARGETS)) {
    it(`snmpwalk over ${fam} (${target}) shows both heads online and every resource on its node`, async () => {
      const mon = await started(spec);
      // the lab's resources are there (a walk of nothing must not pass)
      expect([...mon.keys()]).toEqual(expect.arrayContaining(['vip4', 'vip6', 'snmpd', 'dhcpd4', 'nfsserver']));
      let w: Walk | undefined;
      let why = '';
      // the subagent polls the CIB every 2 s: give a just-finished action time to show
      await waitFor(`walk over ${fam} matching crm_mon`, 60_000, async () => {
        w = await walk(spec, target);
        why = matches(w, await started(spec)) ?? '';
        return why ? undefined : true;
      }, () => why);
      console.log(`[snmp] walk over ${fam}: ${w!.varbinds} varbinds of HA-OSCAR-MIB in ${w!.ms} ms (snmpwalk run in the client, nsenter included; ${load()})`);
    });
  }

  it('snmpd killed on the active head: Pacemaker restarts it, the subagent reconnects and the MIB answers again', async () => {
    const active = (await whereIs(spec, 'snmpd'))!;
    expect(active).toMatch(/^head[12]$/);
    const pid = (await exec(spec, active, ['cat', '/run/ha-oscar/snmpd.pid'])).stdout.trim();
    expect((await exec(spec, active, ['cat', `/proc/${pid}/comm`])).stdout.trim()).toBe('snmpd');
    const agentPid = (await exec(spec, active, ['pgrep', '-f', SUBAGENT_RE])).stdout.trim();
    expect(agentPid).toMatch(/^\d+$/);
    const agentLog = join(nodeDir(spec, active), 'var-log', 'ha-oscar-snmp-agent.out');
    const logFrom = statSync(agentLog).size;
    const trapsFrom = trapLogSize();
    const get = ['snmpget', '-v2c', '-c', 'public', '-r', '0', '-t', '1', ...mibArgs(spec), TARGETS.v4, 'SNMPv2-MIB::sysUpTime.0', 'HA-OSCAR-MIB::haOscarClusterNodesOnline.0'];
    const t0 = Date.now();
    expect((await exec(spec, active, ['kill', '-KILL', pid])).code).toBe(0);
    let snmpdBack = 0;
    let last = '';
    const mibBack = await waitFor('HA-OSCAR-MIB answering again after the snmpd kill', 180_000, async () => {
      const r = await exec(spec, 'client', get, { timeoutMs: 20_000 });
      last = r.stdout.trim().replace(/\n/g, ' | ');
      if (/sysUpTime\.0 = Timeticks/.test(r.stdout) && !snmpdBack) snmpdBack = Date.now() - t0;
      return /haOscarClusterNodesOnline\.0 = Gauge32: 2/.test(r.stdout) ? Date.now() - t0 : undefined;
    }, () => last);
    // a new snmpd, the same subagent process: it reconnected (net-snmp's AgentX alone does not)
    const newPid = (await exec(spec, active, ['cat', '/run/ha-oscar/snmpd.pid'])).stdout.trim();
    expect(newPid).not.toBe(pid);
    expect((await exec(spec, active, ['pgrep', '-f', SUBAGENT_RE])).stdout.trim()).toBe(agentPid);
    const said = readFileSync(agentLog).subarray(logFrom).toString('utf8');
    expect(said).toMatch(/AgentX master lost/);
    expect(said).toMatch(/re-registered with \/run\/ha-oscar\/agentx \(session \d+\)/);
    const w = await walk(spec, TARGETS.v4);
    expect(w.ok, w.out).toBe(true);
    console.log(`[snmp] snmpd SIGKILLed on ${active}: snmpd answered again after ${secs(snmpdBack)} s, HA-OSCAR-MIB after ${secs(mibBack)} s `
      + `(subagent reconnect ${secs(mibBack - snmpdBack)} s after snmpd; the first includes Pacemaker's 10 s monitor interval; ${load()})`);
    // the alert told the client's manager about the failed monitor
    const t = await waitFor('haOscarResourceFailedEvent for snmpd at the client', 120_000, async () =>
      traps(trapsFrom).find((x) => x.trap === 'HA-OSCAR-MIB::haOscarResourceFailedEvent' && x.vars.haOscarNotifyResource === 'snmpd'), trapTail);
    expect(t.vars.haOscarNotifyNode).toBe(active);
  }, 600_000);

  it('the subagent SIGKILLed on the active head: the node init starts a new one (Restart=on-failure) and the MIB answers again', async () => {
    const active = (await whereIs(spec, 'snmpd'))!;
    const pgrep = async (): Promise<string> => (await exec(spec, active, ['pgrep', '-f', SUBAGENT_RE])).stdout.trim();
    const old = await pgrep();
    expect(old).toMatch(/^\d+$/);
    const get = ['snmpget', '-v2c', '-c', 'public', '-r', '0', '-t', '1', ...mibArgs(spec), TARGETS.v4, 'HA-OSCAR-MIB::haOscarClusterNodesOnline.0'];
    const t0 = Date.now();
    expect((await exec(spec, active, ['kill', '-KILL', old])).code).toBe(0);
    const fresh = await waitFor('a new subagent process', 60_000, async () => {
      const p = await pgrep();
      return /^\d+$/.test(p) && p !== old ? p : undefined;
    });
    const back = await waitFor('HA-OSCAR-MIB answering from the new subagent', 120_000, async () =>
      (/haOscarClusterNodesOnline\.0 = Gauge32: 2/.test((await exec(spec, 'client', get, { timeoutMs: 20_000 })).stdout) ? Date.now() - t0 : undefined));
    expect(await pgrep()).toBe(fresh);
    console.log(`[snmp] subagent SIGKILLed on ${active}: restarted by the node init (RestartSec 2 s), HA-OSCAR-MIB answering again after ${secs(back)} s (${load()})`);
  }, 300_000);

  it('power-off of the active head, the survivor\'s subagent killed while the failovers wait in its spool: the walk shows the head offline and the resources on the survivor; haOscarFailover reaches the client once per service, through snmptrap and through snmpd', async () => {
    const active = (await whereIs(spec, 'vip4'))!;
    const survivor = peerOf(active);
    const services = [...(await started(spec))].filter(([id, n]) => !id.startsWith('fence-') && n === active).map(([id]) => id);
    expect(services).toEqual(expect.arrayContaining(['vip4', 'vip6', 'snmpd', 'dhcpd4', 'nfsserver']));
    const moved: string[] = [...new Set(services.map((id) => serviceFor(id) as string | undefined).filter((x): x is string => !!x))].sort();
    // The alerts' state is per node (the defaults): the survivor's alert agent never saw these
    // services start on the active head. Its subagent did, and its record says so, readable by
    // hacluster (the user Pacemaker runs alert agents as) although the subagent runs as ha-oscar-snmp.
    const agentPid = (await exec(spec, survivor, ['pgrep', '-f', SUBAGENT_RE])).stdout.trim();
    expect((await exec(spec, survivor, ['ps', '-o', 'user:32=,group:32=', '-p', agentPid])).stdout.trim().split(/\s+/)).toEqual([SUBAGENT_USER, CLUSTER_GROUP]);
    let rec = '';
    await waitFor(`the survivor's record: ${moved.join(', ')} on ${active}`, 60_000, async () => {
      const r = await exec(spec, survivor, ['runuser', '-u', 'hacluster', '--', 'cat', FAILOVER_RECORD]);
      rec = `${r.stdout}${r.stderr}`.trim();
      const svcs = (JSON.parse(r.code === 0 ? r.stdout : '{}') as { services?: Record<string, { node: string }> }).services ?? {};
      return moved.every((m) => svcs[m]?.node === active) ? true : undefined;
    }, () => rec);
    const trapsFrom = trapLogSize();
    // The survivor's subagent is frozen (SIGSTOP) before the power-off, so the failovers the
    // alert agent spools for it (transport=subagent) wait there; once they are all spooled it is
    // SIGKILLed, the node init starts a new one (Restart=on-failure), and that one sends them.
    expect((await exec(spec, survivor, ['kill', '-STOP', agentPid])).code).toBe(0);
    const t0 = await powerOff(spec, active);
    try {
      const spooled = await waitFor(`${moved.length} failovers by snmptrap, and as many waiting in ${survivor}'s spool`, 300_000, async () => {
        const bySnmptrap = new Set(traps(trapsFrom).filter((x) => x.port === PORT.snmptrap && x.trap === 'HA-OSCAR-MIB::haOscarFailover').map((x) => x.vars.haOscarNotifyService));
        if (!moved.every((m) => bySnmptrap.has(m))) return undefined;
        const ls = await exec(spec, survivor, ['find', SPOOL_DIR, '-maxdepth', '1', '-name', '*.json']);
        const files = ls.stdout.split('\n').filter(Boolean);
        return files.length >= moved.length ? files.length : undefined;
      }, trapTail);
      expect((await exec(spec, survivor, ['kill', '-KILL', agentPid])).code).toBe(0);
      const killedAt = Date.now() - t0;
      const fresh = await waitFor('a new subagent on the survivor', 60_000, async () => {
        const p = (await exec(spec, survivor, ['pgrep', '-f', SUBAGENT_RE])).stdout.trim();
        return p && p !== agentPid ? p : undefined;
      });
      expect(fresh).not.toBe(agentPid);
      // the MIB, as the client sees it, until it shows the failover
      let firstAnswer = 0;
      let why = '';
      let w: Walk | undefined;
      const shown = await waitFor('the walk showing the failover', 300_000, async () => {
        // one try of 1 s per poll while nothing answers: finer timing than the default retries
        w = await walk(spec, TARGETS.v4, ['-r', '0', '-t', '1']);
        if (!w.ok) { why = 'no answer'; return undefined; }
        if (!firstAnswer) firstAnswer = Date.now() - t0;
        const dead = w.nodes.get(active);
        if (dead !== 'offline(4)') { why = `${active}: ${dead ?? 'no row'}`; return undefined; }
        if (w.nodes.get(survivor) !== 'online(1)') { why = `${survivor}: ${w.nodes.get(survivor)}`; return undefined; }
        const bad = services.filter((id) => w!.resources.get(id)?.role !== 'started(1)' || w!.resources.get(id)?.node !== survivor);
        why = bad.map((id) => `${id}: ${w!.resources.get(id)?.role} on ${w!.resources.get(id)?.node}`).join(', ');
        return bad.length ? undefined : Date.now() - t0;
      }, () => why);
      const v6 = await walk(spec, TARGETS.v6);
      expect(v6.nodes.get(active)).toBe('offline(4)');
      expect(v6.resources.get('vip4')?.node).toBe(survivor);
      // the notifications, from the survivor's alert agents: node lost by snmptrap, and the
      // failover of every moved service by snmptrap and through the subagent and snmpd
      const lost = await waitFor(`haOscarNodeLost for ${active}`, 300_000, async () => {
        const t = traps(trapsFrom).find((x) => x.port === PORT.snmptrap && x.trap === 'HA-OSCAR-MIB::haOscarNodeLost' && x.vars.haOscarNotifyNode === active);
        return t ? Date.now() - t0 : undefined;
      }, trapTail);
      const failovers = (port: number): Trap[] => traps(trapsFrom).filter((x) => x.port === port && x.trap === 'HA-OSCAR-MIB::haOscarFailover');
      const at: Record<string, Record<string, number>> = { snmptrap: {}, snmpd: {} };
      await waitFor(`haOscarFailover ${active} -> ${survivor} for ${moved.join(', ')} on ports ${PORT.snmptrap} and ${PORT.snmpd}`, 300_000, async () => {
        for (const [via, port] of Object.entries(PORT)) {
          for (const t of failovers(port)) at[via]![t.vars.haOscarNotifyService ?? '?'] ??= Date.now() - t0;
        }
        return Object.values(at).every((m) => moved.every((svc) => m[svc] !== undefined)) ? true : undefined;
      }, () => `${JSON.stringify(at)}; ${trapTail()}`);
      // once each: no second notification of the same move (other resources of a service, the
      // subagent catching up, the spool) in the next 15 s
      await sleep(15_000);
      for (const port of Object.values(PORT)) {
        const got = failovers(port);
        expect(got.map((t) => t.vars.haOscarNotifyService).sort(), `port ${port}`).toEqual(moved);
        for (const t of got) expect(t.vars, t.line).toMatchObject({ haOscarNotifyFromNode: active, haOscarNotifyToNode: survivor });
      }
      expect(failovers(PORT.snmptrap).find((t) => t.vars.haOscarNotifyService === 'snmp')!.vars).toMatchObject({ haOscarNotifyResource: 'snmpd' });
      const secsOf = (m: Record<string, number>): string => moved.map((svc) => `${svc} ${secs(m[svc]!)}`).join(', ');
      console.log(`[snmp] ${survivor}'s subagent frozen before the power-off, killed at ${secs(killedAt)} s with ${spooled} notification(s) in its spool (after every failover by snmptrap); `
        + `the new one sent each once. Power-off of ${active}: the client's walk answered again at ${secs(firstAnswer)} s and showed ${active} offline with every `
        + `service on ${survivor} at ${secs(shown)} s; traps at the client: haOscarNodeLost ${secs(lost)} s; haOscarFailover by snmptrap: ${secsOf(at.snmptrap!)} s; `
        + `through the subagent and snmpd: ${secsOf(at.snmpd!)} s (these two include the frozen subagent; per-node alert state; polling: a walk with one 1 s try, the trap log every 0.25 s; ${load()})`);
    } finally {
      // a failure before the kill must not leave the survivor's subagent frozen
      await exec(spec, survivor, ['kill', '-CONT', agentPid]).catch(() => undefined);
      await powerOn(spec, active);
    }
    await waitOnline(spec, HEADS, 240_000);
    await waitServices(spec, 240_000);
    // and the MIB shows the head back (the services stay on the survivor: stickiness)
    let why = '';
    await waitFor('the walk showing both heads online again', 120_000, async () => {
      const w = await walk(spec, TARGETS.v4);
      why = matches(w, await started(spec)) ?? '';
      return why ? undefined : true;
    }, () => why);
  }, 1_200_000);
});

// The lab: bring up, inspect, power and cable nodes, tear down. Library functions used by
// the CLI (src/cli/lab.ts), the tests, the benchmark and the lab's power switch (src/lab/pdu).
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MARKER_TAG } from '../crm/apply';
import { parseCrmMon, type ResourceRole } from '../pacemaker/crm-mon';
import { writeFileAtomic } from '../service/atomic';
import { describeFailure, run, type RunOptions, type RunResult } from '../service/run';
import { FENCE_PROPS, PDU_ADDR, fencingAvailable, fencingOn, labFenceCrm, startLabPdu } from './fence';
import { makeNodeNet, makeSwitch, delNetns, setPort } from './net';
import { initialCib, makeAuthkey, prepareNodeDirs } from './nodefs';
import { alive, childrenOf, killRecorded, record, sleep, spawnDetached, waitGone, type ProcRecord } from './procs';
import { QDEVICE_BINS, QNETD_ADDR, startQnetd } from './qdevice';
import { labChecks, labCrmConfig, type ClientCheck } from './services';
import type { LabSpec, NetName, NodeName } from './spec';
import { HEADS, LAB_ROOT, NODES, checkName, netnsOf, netsOf, nodeDir, portOf } from './spec';
import { netnsIno, readState, writeState, type LabState } from './state';

export type Say = (line: string) => void;

let abortReason: string | undefined;
/** Ask a running up()/wait to stop at its next checkpoint (Ctrl-C, SIGTERM); up() then tears down. */
export function abort(reason: string): void { abortReason = reason; }
export function checkAbort(): void { if (abortReason) throw new Error(`interrupted (${abortReason})`); }
const quiet: Say = () => { /* silent */ };

/** Commands the lab needs, and the Debian package of each. */
export const LAB_BINS: Record<string, string> = {
  ip: 'iproute2', unshare: 'util-linux', nsenter: 'util-linux', mount: 'mount', tini: 'tini',
  corosync: 'corosync', 'corosync-keygen': 'corosync', 'corosync-cfgtool': 'corosync',
  pacemakerd: 'pacemaker', cibadmin: 'pacemaker-cli-utils', crm_attribute: 'pacemaker-cli-utils',
  crm_mon: 'pacemaker-cli-utils', crm: 'crmsh', ping: 'iputils-ping', snmpget: 'snmp', sysctl: 'procps',
};

function which(bin: string): boolean {
  const path = (process.env.PATH ?? '').split(':');
  // sbin is often missing from a user's PATH, but only where /usr/bin is on it
  const extra = path.includes('/usr/bin') ? ['/usr/sbin', '/sbin'] : [];
  for (const d of [...path, ...extra]) {
    if (d && existsSync(join(d, bin))) return true;
  }
  return false;
}

/** '' when everything is there, else one line naming what is missing and how to install it. */
export function missingPrereqs(extra: Record<string, string> = {}): string {
  const problems: string[] = [];
  if (process.getuid?.() !== 0) problems.push('the lab needs root');
  const bins: Record<string, string> = { ...LAB_BINS, ...extra };
  const gone = Object.keys(bins).filter((b) => !which(b));
  if (gone.length) {
    const pkgs = [...new Set(gone.map((b) => bins[b]))].join(' ');
    problems.push(`missing ${gone.join(', ')}: install with 'apt-get install ${pkgs}' (or 'bash scripts/install-deps')`);
  }
  return problems.join('; ');
}

/** The spec of a lab that is up (lab.json in its state dir). */
export function loadSpec(name: string): LabSpec {
  checkName(name);
  try { return JSON.parse(readFileSync(join(LAB_ROOT, name, 'lab.json'), 'utf8')) as LabSpec; } catch {
    throw new Error(`lab '${name}' is not up (no ${join(LAB_ROOT, name, 'lab.json')}); start it with 'ha-oscar lab up --name ${name}'`);
  }
}
const specOf = (lab: LabSpec | string): LabSpec => (typeof lab === 'string' ? loadSpec(lab) : lab);

function stateOf(spec: LabSpec): LabState {
  const st = readState(spec.stateDir);
  if (!st) throw new Error(`lab '${spec.name}' is not up`);
  return st;
}

export function initOf(spec: LabSpec, node: NodeName): ProcRecord | undefined {
  const r = stateOf(spec).nodes[node]?.init;
  return r && alive(r) ? r : undefined;
}

export function isPoweredOn(lab: LabSpec | string, node: NodeName): boolean {
  return initOf(specOf(lab), node) !== undefined;
}

/** Run argv inside a node (all its namespaces). */
export async function exec(lab: LabSpec | string, node: NodeName, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const spec = specOf(lab);
  const init = initOf(spec, node);
  if (!init) throw new Error(`${node} of lab '${spec.name}' is powered off`);
  if (argv.length === 0) throw new Error('no command given');
  return run('nsenter', ['-t', String(init.pid), '-m', '-u', '-i', '-n', '-p', '--', ...argv], { timeoutMs: 30_000, ...opts });
}

export async function execOk(lab: LabSpec | string, node: NodeName, argv: string[], opts: RunOptions = {}): Promise<RunResult> {
  const r = await exec(lab, node, argv, opts);
  if (r.code !== 0) throw new Error(`${node}: ${describeFailure(argv[0] ?? '', r)}`);
  return r;
}

/** Boot a node: its init under tini as PID 1 of fresh mount/uts/ipc/pid namespaces. */
async function boot(spec: LabSpec, st: LabState, node: NodeName, bootDelayMs = 0): Promise<void> {
  const cli = join(spec.repo, 'dist', 'ha-oscar');
  if (!existsSync(cli)) throw new Error(`${cli} not built: run 'npm run build' (or 'node scripts/build.mjs ha-oscar')`);
  mkdirSync(nodeDir(spec, node), { recursive: true });
  const pid = spawnDetached('ip', ['netns', 'exec', netnsOf(spec.name, node),
    'unshare', '--mount', '--uts', '--ipc', '--pid', '--fork', '--mount-proc', '--propagation', 'private', '--kill-child',
    'tini', '-s', '--', process.execPath, cli, 'lab', '_init', spec.name, node, ...(bootDelayMs > 0 ? [String(bootDelayMs)] : [])],
  join(nodeDir(spec, node), 'init.log'));
  const launcher = record(pid);
  st.nodes[node] = { launcher };
  writeState(spec, st);
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    const kids = childrenOf(pid);
    if (kids.length) {
      const init = record(kids[0]!);
      if (init) { st.nodes[node] = { launcher, init }; writeState(spec, st); return; }
    }
    if (!launcher || !alive(launcher)) break;
    await sleep(10);
  }
  throw new Error(`${node} did not boot: see ${join(nodeDir(spec, node), 'init.log')}`);
}

async function step<T>(say: Say, what: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const r = await Promise.race([fn(), new Promise<never>((_, rej) => {
      timer = setTimeout(() => rej(new Error(`${what}: timed out after ${timeoutMs / 1000} s`)), timeoutMs);
    })]);
    say(`  ${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    return r;
  } finally { clearTimeout(timer); }
}

export interface UpOptions { say?: Say; loadConfig?: boolean; /** on failure, copy the logs here first (see down) */ keepLogs?: string }

/** Bring the whole lab up. On any failure everything it made is torn down, then the error is thrown. */
export async function up(spec: LabSpec, opts: UpOptions = {}): Promise<void> {
  const say = opts.say ?? quiet;
  const miss = missingPrereqs(spec.quorumDevice ? QDEVICE_BINS : {});
  if (miss) throw new Error(miss);
  if (readState(spec.stateDir)) throw new Error(`lab '${spec.name}' already exists (${spec.stateDir}): 'ha-oscar lab down --name ${spec.name}' first`);
  const st: LabState = { name: spec.name, netns: [], nodes: {}, token: spec.token, created: new Date().toISOString(), owner: record(process.pid) };
  mkdirSync(spec.stateDir, { recursive: true, mode: 0o700 });
  writeState(spec, st);
  writeFileAtomic(join(spec.stateDir, 'lab.json'), JSON.stringify(spec, null, 2) + '\n');
  const t0 = Date.now();
  try {
    await step(say, 'network: switch with nets A, B and M, 3 nodes', 30_000, async () => {
      await makeSwitch(spec, st);
      for (const n of NODES) { checkAbort(); await makeNodeNet(spec, st, n); }
    });
    checkAbort();
    if (fencingAvailable(spec)) {
      await step(say, `lab PDU (fencing) on ${PDU_ADDR.v4} and ${PDU_ADDR.v6} (management net M)`, 30_000, () => startLabPdu(spec, st));
    } else say('  no fencing: dist/fence_haoscar or dist/ha-oscar-lab-pdu not built (stonith-enabled stays false)');
    checkAbort();
    if (spec.quorumDevice) {
      await step(say, `quorum device: corosync-qnetd on ${QNETD_ADDR.v4} (management net M, TLS off)`, 30_000, () => startQnetd(spec, st));
    }
    await step(say, 'cluster files: authkey, corosync.conf, initial cib.xml', 30_000, async () => {
      const key = await makeAuthkey(spec);
      const cib = await initialCib(spec);
      for (const n of NODES) await prepareNodeDirs(spec, n, cib, key);
    });
    await step(say, 'boot head1, head2, client', 20_000, async () => { for (const n of NODES) { checkAbort(); await boot(spec, st, n); } });
    await step(say, 'both heads online', 90_000, () => waitOnline(spec, HEADS));
    if (opts.loadConfig !== false) {
      checkAbort();
      await step(say, 'cluster configuration loaded', 60_000, () => loadConfig(spec));
      // 180 s: at load 35-41 on 2 cores the services took longer than 90 s to answer (lab tests)
      await step(say, 'every service answers from the client', 180_000, () => waitServices(spec, 180_000));
    }
    say(`lab '${spec.name}' up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    say(`lab up failed: ${msg}; tearing down`);
    await down(spec.name, { say, keepLogs: opts.keepLogs });
    throw new Error(msg);
  }
}

/** Load (update) the lab's crm configuration: the lab services, plus spec.extraConfig. */
export async function loadConfig(lab: LabSpec | string): Promise<void> {
  const spec = specOf(lab);
  const head = HEADS.find((h) => initOf(spec, h));
  if (!head) throw new Error('no head is powered on');
  let text = labCrmConfig(spec);
  // The lab's stonith devices (src/lab/fence.ts), when the lab PDU runs.
  if (fencingOn(spec)) text += '\n' + labFenceCrm(spec);
  // The PDU community as a CIB secret too, for the lab descriptions (examples/lab*.yaml, community: lrm://).
  writeFenceSecrets(spec);
  if (spec.extraConfig) text += '\n' + readFileSync(spec.extraConfig, 'utf8');
  writeFileAtomic(join(spec.stateDir, 'crm.conf'), text, { mode: 0o600 });
  await execOk(spec, head, ['crm', 'configure', 'load', 'update', '-'], { input: text, timeoutMs: 60_000 });
  // With the quorum device the half that loses its vote must give up the VIPs at once (as the
  // generator writes it: src/crm/model.ts)
  if (spec.quorumDevice) await execOk(spec, head, ['crm_attribute', '--type', 'crm_config', '--name', 'no-quorum-policy', '--update', 'stop'], { timeoutMs: 30_000 });
  if (fencingOn(spec)) {
    for (const [k, v] of Object.entries(FENCE_PROPS)) {
      await execOk(spec, head, ['crm_attribute', '--type', 'crm_config', '--name', k, '--update', v], { timeoutMs: 30_000 });
    }
  }
}

export interface MonNode { name: string; online: boolean }
export interface MonResource { id: string; agent: string; role: ResourceRole; nodes: string[]; failed: boolean; active: boolean }
export interface Mon { nodes: MonNode[]; resources: MonResource[]; dc?: string }

/** crm_mon --output-as=xml from a node, parsed (src/pacemaker/crm-mon.ts) into what the lab needs. */
export async function crmMon(lab: LabSpec | string, node?: NodeName, timeoutMs = 10_000): Promise<Mon> {
  const spec = specOf(lab);
  const n = node ?? HEADS.find((h) => initOf(spec, h));
  if (!n) throw new Error('no head is powered on');
  const r = await exec(spec, n, ['crm_mon', '--output-as=xml'], { timeoutMs });
  if (!r.stdout.includes('<pacemaker-result')) throw new Error(`${n}: ${describeFailure('crm_mon', r)}`);
  const st = await parseCrmMon(r.stdout);
  return {
    nodes: st.nodes.map((x) => ({ name: x.name, online: x.state === 'online' || x.state === 'standby' || x.state === 'maintenance' })),
    resources: st.resources.map((x) => ({ id: x.id, agent: x.agent, role: x.role, nodes: x.nodes, failed: x.failed, active: x.active })),
    dc: st.dc || undefined,
  };
}

export async function waitOnline(lab: LabSpec | string, want: readonly NodeName[], timeoutMs = 90_000): Promise<void> {
  const spec = specOf(lab);
  const until = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const m = await crmMon(spec, want.find((h) => initOf(spec, h)));
      const on = m.nodes.filter((n) => n.online).map((n) => n.name);
      if (m.dc && want.every((w) => on.includes(w))) return;
      last = `online: ${on.join(', ') || 'none'}`;
    } catch (e) { last = e instanceof Error ? e.message : String(e); }
    checkAbort();
    if (Date.now() > until) throw new Error(`heads not online after ${timeoutMs / 1000} s (${last})`);
    await sleep(250);
  }
}

/** Which head runs a resource (undefined when stopped). */
export async function whereIs(lab: LabSpec | string, rsc = 'vip4'): Promise<NodeName | undefined> {
  const m = await crmMon(lab);
  const r = m.resources.find((x) => x.id === rsc && x.role === 'started');
  return r?.nodes[0] as NodeName | undefined;
}

export interface CheckResult { name: string; ok: boolean }
export async function runChecks(lab: LabSpec | string, checks?: ClientCheck[]): Promise<CheckResult[]> {
  const spec = specOf(lab);
  const cs = checks ?? labChecks(spec);
  return Promise.all(cs.map(async (c) => ({ name: c.name, ok: (await exec(spec, 'client', c.argv, { timeoutMs: c.timeoutMs ?? 10_000 })).code === 0 })));
}

/** Until every check answers from the client (checks: the lab's own, or another configuration's). */
export async function waitServices(lab: LabSpec | string, timeoutMs = 90_000, checks?: ClientCheck[]): Promise<void> {
  const spec = specOf(lab);
  const until = Date.now() + timeoutMs;
  for (;;) {
    const rs = await runChecks(spec, checks);
    const bad = rs.filter((r) => !r.ok).map((r) => r.name);
    if (bad.length === 0) return;
    checkAbort();
    if (Date.now() > until) throw new Error(`no answer from the client for: ${bad.join(', ')}`);
    await sleep(250);
  }
}

/** Power loss: the node's switch ports go down and its init is SIGKILLed (with every process of the node). */
export async function powerOff(lab: LabSpec | string, node: NodeName): Promise<number> {
  const spec = specOf(lab);
  const st = stateOf(spec);
  const rec = st.nodes[node];
  const t0 = Date.now();
  await Promise.all(netsOf(node).map((n) => setPort(spec, node, n, false)));
  const procs = [rec?.init, rec?.launcher].filter((r): r is ProcRecord => !!r);
  for (const r of procs) killRecorded(r);
  if (!(await waitGone(procs, 10_000))) throw new Error(`${node}: processes still alive 10 s after SIGKILL`);
  st.nodes[node] = {};
  writeState(spec, st);
  return t0;
}

/**
 * Power on: a fresh network namespace (no stale addresses), cables in, boot. Disks (per-node
 * dirs) persist. bootDelayMs: the node is up (its init answers) but starts its cluster stack
 * only after this long, like a server's firmware and boot (the lab PDU uses it: PDU_BOOT_DELAY_MS).
 */
export async function powerOn(lab: LabSpec | string, node: NodeName, opts: { bootDelayMs?: number } = {}): Promise<void> {
  const spec = specOf(lab);
  const st = stateOf(spec);
  if (initOf(spec, node)) throw new Error(`${node} is already powered on`);
  const ns = netnsOf(spec.name, node);
  const rec = st.netns.find((n) => n.name === ns);
  if (rec && netnsIno(ns) !== undefined && rec.ino !== undefined && netnsIno(ns) !== rec.ino) {
    throw new Error(`network namespace ${ns} is not the one this lab made; not touching it`);
  }
  // The old cables first, by name, from the switch side (deleting one end of a veth deletes
  // both, synchronously): the kernel cleans a deleted netns up asynchronously, and under load
  // its veths outlived `ip netns del` by over 10 s, so re-creating them failed ("File exists").
  const sw = netnsOf(spec.name, 'sw');
  for (const n of netsOf(node)) await run('ip', ['-n', sw, 'link', 'del', portOf(spec.name, node, n)], { timeoutMs: 30_000 });
  const err = await delNetns(ns);
  if (err) throw new Error(err);
  const until = Date.now() + 60_000;
  for (;;) {
    const left = await Promise.all(netsOf(node).map((n) => run('ip', ['-n', sw, 'link', 'show', portOf(spec.name, node, n)], { timeoutMs: 5_000 })));
    if (left.every((r) => r.code !== 0)) break;
    if (Date.now() > until) throw new Error(`${node}: its old switch ports are still there 60 s after power-off`);
    await sleep(50);
  }
  await makeNodeNet(spec, st, node);
  await boot(spec, st, node, opts.bootDelayMs);
}

/** Unplug (up=false) or plug in (up=true) one of a node's cables. */
export async function cable(lab: LabSpec | string, node: NodeName, net: NetName, up: boolean): Promise<void> {
  await setPort(specOf(lab), node, net, up);
}

/**
 * Labs whose name matches and whose recorded owner process is gone: leftovers of a killed test
 * run. (A lab made by `ha-oscar lab up` outlives its owner on purpose: match test names only.)
 */
export function orphanLabs(names: RegExp): string[] {
  let all: string[] = [];
  try { all = readdirSync(LAB_ROOT); } catch { return []; }
  return all.filter((n) => names.test(n)).filter((n) => {
    const st = readState(join(LAB_ROOT, n));
    return st?.owner !== undefined && !alive(st.owner);
  });
}

/** Copy a lab's logs (PDU log, each node's init.log and /var/log) into dir/<name>-<time>. */
function keepLogs(stateDir: string, dir: string): string | undefined {
  try {
    const to = join(dir, `${basename(stateDir)}-${new Date().toISOString().replace(/[:.]/g, '')}`);
    mkdirSync(to, { recursive: true });
    for (const f of ['pdu.log', 'qnetd.log', 'crm.conf', 'state.json']) if (existsSync(join(stateDir, f))) cpSync(join(stateDir, f), join(to, f));
    for (const n of NODES) {
      const d = join(stateDir, 'nodes', n);
      if (!existsSync(d)) continue;
      if (existsSync(join(d, 'init.log'))) cpSync(join(d, 'init.log'), join(to, n, 'init.log'), { recursive: true });
      if (existsSync(join(d, 'var-log'))) cpSync(join(d, 'var-log'), join(to, n, 'var-log'), { recursive: true });
    }
    return to;
  } catch { return undefined; }
}

/**
 * Tear down, ONLY from the lab's records: SIGKILL each recorded process that is still the
 * same process (start time checked), delete each recorded netns that is still the one made
 * (inode checked), then the state dir. Never throws for a missing piece; returns problems.
 */
export async function down(name: string, opts: { say?: Say; keepLogs?: string } = {}): Promise<string[]> {
  const say = opts.say ?? quiet;
  checkName(name);
  const stateDir = join(LAB_ROOT, name);
  const st = readState(stateDir);
  if (!st) { say(`lab '${name}' is not up`); return []; }
  const problems: string[] = [];
  if (opts.keepLogs) {
    const kept = keepLogs(stateDir, opts.keepLogs);
    if (kept) say(`lab logs kept in ${kept}`);
  }
  // The PDU first: it powers nodes on and off, so the node records are read after it is gone.
  if (st.pdu) {
    killRecorded(st.pdu);
    if (!(await waitGone([st.pdu], 10_000))) problems.push(`lab PDU still alive: ${st.pdu.pid}`);
    Object.assign(st, readState(stateDir) ?? {});
  }
  const procs: ProcRecord[] = [];
  if (st.pdu) procs.push(st.pdu);
  if (st.qnetd) procs.push(st.qnetd);
  for (const n of Object.values(st.nodes)) for (const r of [n?.init, n?.launcher]) if (r) procs.push(r);
  for (const r of procs) killRecorded(r);
  if (!(await waitGone(procs, 10_000))) problems.push(`processes still alive: ${procs.filter(alive).map((p) => p.pid).join(' ')}`);
  for (const ns of [...st.netns].reverse()) {
    const ino = netnsIno(ns.name);
    if (ino === undefined) continue;
    if (ns.ino !== undefined && ino !== ns.ino) { problems.push(`${ns.name} is not the namespace this lab made; left alone`); continue; }
    const err = await delNetns(ns.name);
    if (err) problems.push(err);
  }
  if (problems.length === 0) rmSync(stateDir, { recursive: true, force: true });
  for (const p of problems) say(`lab down: ${p}`);
  say(`lab '${name}' is down${problems.length ? ' (with problems above; state kept in ' + stateDir + ')' : ''}`);
  return problems;
}

// ---- cluster descriptions in the lab (ha-oscar config apply; test/lab/config.test.ts) ----

/** The lab's stonith devices' ids (fence-<head>): the lab's own and a cluster description's. */
const FENCE_IDS = HEADS.map((h) => `fence-${h}`);

/**
 * The lab PDU's community as a Pacemaker CIB secret, for descriptions whose fence devices say
 * `community: lrm://` (examples/lab*.yaml): /var/lib/pacemaker/lrm/secrets/fence-<head>/community
 * (value + newline) and community.sign (its MD5, hex + newline; what cibsecret(8) writes), in
 * each head's own /var/lib/pacemaker, root only. The community itself never enters the CIB.
 * Nothing is written when the lab runs without its PDU.
 */
export function writeFenceSecrets(lab: LabSpec | string): boolean {
  const spec = specOf(lab);
  if (!fencingOn(spec)) return false;
  const community = readFileSync(join(spec.stateDir, 'pdu.community'), 'utf8').trim();
  const sign = createHash('md5').update(community).digest('hex');
  for (const head of HEADS) {
    const secrets = join(nodeDir(spec, head), 'var-lib-pacemaker', 'lrm', 'secrets');
    for (const id of FENCE_IDS) {
      mkdirSync(join(secrets, id), { recursive: true, mode: 0o700 });
      writeFileAtomic(join(secrets, id, 'community'), `${community}\n`, { mode: 0o600 });
      writeFileAtomic(join(secrets, id, 'community.sign'), `${sign}\n`, { mode: 0o600 });
    }
  }
  return true;
}

/** Resources crm_mon shows active (primitives, clone instances, orphans being stopped), by id. */
export async function activeResources(lab: LabSpec | string, node?: NodeName): Promise<string[]> {
  return (await crmMon(lab, node, 15_000)).resources.filter((r) => r.active).map((r) => r.id);
}

/**
 * Take every resource out of the cluster: the lab's own configuration (loadConfig) or what a
 * cluster description loaded. Deletes the constraints, fencing levels, alerts and resources,
 * and the lab's rsc_defaults set fence-priority; cluster properties stay. Pacemaker stops the
 * deleted resources (orphans), all at once and with the default 20 s timeout: on a loaded
 * machine a stop can time out, and with the stonith devices gone that blocks instead of
 * fencing, so a failed orphan is cleaned up (crm_resource --cleanup: probed again, stopped
 * again) rather than waiting for failure-timeout. Returns when crm_mon shows none active.
 * loadConfig() brings the lab's own configuration back.
 */
export async function clearConfig(lab: LabSpec | string, timeoutMs = 180_000): Promise<void> {
  const spec = specOf(lab);
  const head = HEADS.find((h) => initOf(spec, h));
  if (!head) throw new Error('no head is powered on');
  const cib = (args: string[], missingOk = false) => exec(spec, head, ['cibadmin', ...args], { timeoutMs: 30_000 }).then((r) => {
    // cibadmin exits 105 (No such device or address) when the object to delete does not exist
    if (r.code !== 0 && !(missingOk && r.code === 105)) throw new Error(`${head}: ${describeFailure('cibadmin', r)}`);
  });
  // constraints first: a constraint must never name a resource that is gone
  await cib(['--replace', '--scope', 'constraints', '--xml-text', '<constraints/>']);
  await cib(['--delete', '--xml-text', '<fencing-topology/>'], true);
  await cib(['--delete', '--xml-text', '<alerts/>'], true);
  await cib(['--replace', '--scope', 'resources', '--xml-text', '<resources/>']);
  await cib(['--delete', '--xml-text', '<meta_attributes id="fence-priority"/>'], true);
  // `config apply`'s marker: what it listed is gone (a stale one would let a later apply remove the lab's own objects)
  await cib(['--delete', '--xml-text', `<tag id="${MARKER_TAG}"/>`], true);
  await waitInactive(spec, head, () => false, timeoutMs);
}

/**
 * Until crm_mon on head shows no active resource but those keep() accepts (deleted resources
 * stopped as orphans). A failed orphan is cleaned up (crm_resource --cleanup) every 15 s, see
 * clearConfig.
 */
export async function waitInactive(spec: LabSpec, head: NodeName, keep: (id: string) => boolean, timeoutMs = 180_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  let left: string[] = [];
  let cleaned = Date.now();
  for (;;) {
    try {
      const rs = (await crmMon(spec, head, 15_000)).resources.filter((r) => !keep(r.id));
      left = rs.filter((r) => r.active).map((r) => r.id);
      if (left.length === 0) return;
      const failed = [...new Set(rs.filter((r) => r.failed).map((r) => r.id))];
      if (failed.length && Date.now() - cleaned > 15_000) {
        for (const id of failed) await exec(spec, head, ['crm_resource', '--cleanup', '--resource', id], { timeoutMs: 30_000 });
        cleaned = Date.now();
      }
    } catch (e) { left = [e instanceof Error ? e.message : String(e)]; }
    checkAbort();
    if (Date.now() > until) throw new Error(`resources still active ${timeoutMs / 1000} s after they were deleted: ${left.join(', ')}`);
    await sleep(500);
  }
}

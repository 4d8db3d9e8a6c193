// fence_haoscar_delay: the split-brain delay of a two-head cluster, applied only when it is needed.
//
// Pacemaker's priority-fencing-delay (and pcmk_delay_max) wait on EVERY fencing of the head
// that runs the services, also when that head has simply lost power: the survivor then waits
// the whole delay before it may start anything (5.4 s of the lab's failover, issue 18).
// The delay only matters in a split brain, where the peer is alive and races to fence us.
// This pseudo device goes in each head's fencing level before the real device (after
// fence_heuristics_ping when there is one) and decides at the moment of fencing:
//
//   - the target answers ping on none of its addresses (every network it has: the corosync
//     links, the services' net, the management net; all pinged at once, sub-second): it is
//     down, or cut off from every network and so unable to reach a PDU or BMC itself. No delay.
//   - the target answers: a real race. The head that runs more resources (fence devices not
//     counted; crm_mon of this node's partition) must win, so fencing OF it waits
//     `priority_delay`; fencing of the lighter head does not wait; equal weight (active-active)
//     waits a random 0..`tie_delay_max`.
//   - this node cannot tell (ping cannot run or fails with an error on an address that did not
//     answer; crm_mon or crm_node fails): the safe side. The target counts as answering, and
//     unknown weights mean `priority_delay`.
//
// It never switches power: on/status/monitor/list succeed without touching anything.
import { isIP } from 'node:net';
import { type Options, type OptSpec, seconds } from './options.js';
import { COMMON_SPECS, EC, type AgentDef, type Logger, type Io } from './agent.js';
import type { Action } from './metadata.js';
import { run } from '../service/run.js';

const NODE_RE = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,62})$/;

/** Seconds between the probes of one address (ping -i). */
export const PING_INTERVAL_S = 0.1;

export const DELAY_SPECS: OptSpec[] = [
  ...COMMON_SPECS.filter((s) => !['delay', 'power_timeout', 'power_wait', 'retry_on', 'login_timeout'].includes(s.name)),
  { name: 'peers', type: 'string', arg: 'map', required: true, shortdesc: 'Every head and the addresses it answers ping on: head1=ADDR,ADDR;head2=ADDR,ADDR (IPv4 or IPv6)' },
  { name: 'priority_delay', type: 'second', arg: 'seconds', default: '0', shortdesc: 'Wait X seconds before fencing a head that still answers and runs more resources than this one' },
  { name: 'tie_delay_max', type: 'second', arg: 'seconds', default: '0', shortdesc: 'Wait a random 0..X seconds before fencing a head that still answers and runs as many resources as this one' },
  { name: 'ping_count', type: 'integer', arg: 'count', default: '2', shortdesc: `Send X echo requests to each address, ${PING_INTERVAL_S} s apart (one answer is enough)` },
  { name: 'ping_timeout', type: 'second', arg: 'seconds', default: '0.2', shortdesc: 'Wait X seconds (fractions allowed) for an answer after the last request' },
  { name: 'plug', short: 'n', type: 'string', arg: 'id', shortdesc: 'The head to be fenced (passed by Pacemaker)', aliases: ['port'] },
  { name: 'nodename', type: 'string', arg: 'node', hidden: true, shortdesc: 'Node to fence (passed by Pacemaker)' },
];

/** peers=head1=192.0.2.11,2001:db8:a::11;head2=... -> map. Throws a one-line reason. */
export function parsePeers(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const part of text.split(';').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`Failed: peers entry '${part}' is not NAME=ADDRESS[,ADDRESS...]`);
    const name = part.slice(0, eq).trim();
    if (!NODE_RE.test(name)) throw new Error(`Failed: peers: '${name}' is not a node name`);
    if (out.has(name)) throw new Error(`Failed: peers: ${name} is listed twice`);
    const addrs = part.slice(eq + 1).split(',').map((s) => s.trim()).filter(Boolean);
    if (addrs.length === 0) throw new Error(`Failed: peers: ${name} has no address`);
    for (const a of addrs) if (!isIP(a)) throw new Error(`Failed: peers: '${a}' (${name}) is not an IPv4 or IPv6 address`);
    out.set(name, addrs);
  }
  if (out.size === 0) throw new Error('Failed: peers is empty');
  return out;
}

/** How the decision says the target answered nowhere (the lab's timeline and bench look for it). */
export const PEER_SILENT = 'answers on none of its addresses';

/** What the pings found: addresses that answered, and addresses that could not be checked (why). */
export interface Probe { answered: string[]; unknown: { addr: string; why: string }[] }

export interface Weights { target: number; local: number }

export interface Decision { waitS: number; why: string }

/** The decision, from what was found: pure, so every branch is tested without a cluster. */
export function decide(target: string, local: string | undefined, probe: Probe, weights: Weights | undefined,
  o: { priorityDelay: number; tieDelayMax: number; random?: () => number }): Decision {
  if (probe.answered.length === 0 && probe.unknown.length === 0) {
    return { waitS: 0, why: `${target} ${PEER_SILENT}: it is down or cut off from every network; no delay` };
  }
  // answered somewhere, or could not be checked everywhere it stayed silent: counted as alive
  const on = probe.answered.length
    ? `${target} answers on ${probe.answered.join(', ')}`
    : `${target} could not be checked on ${probe.unknown.map((u) => `${u.addr} (${u.why})`).join(', ')}, so it may be alive`;
  if (!weights) return { waitS: o.priorityDelay, why: `${on}, and the resources per head are unknown: priority_delay ${o.priorityDelay} s` };
  const w = `${target} runs ${weights.target} resource(s), ${local ?? 'this node'} ${weights.local}`;
  if (weights.target > weights.local) return { waitS: o.priorityDelay, why: `${on}; ${w}: priority_delay ${o.priorityDelay} s, so that ${target} wins a split brain` };
  if (weights.target < weights.local) return { waitS: 0, why: `${on}; ${w}: no delay, this node keeps its resources` };
  const r = o.tieDelayMax > 0 ? Math.round((o.random ?? Math.random)() * o.tieDelayMax * 1000) / 1000 : 0;
  return { waitS: r, why: `${on}; ${w}: equal, random delay ${r} s (tie_delay_max ${o.tieDelayMax} s)` };
}

/** ping's arguments for one address: `count` requests PING_INTERVAL_S apart, then timeoutS for an answer. */
export function pingArgs(addr: string, count: number, timeoutS: number): string[] {
  return ['-n', '-q', '-c', String(count), '-i', String(PING_INTERVAL_S), '-W', String(timeoutS), addr];
}

/**
 * Ping every address at once (iputils: exit 0 = an answer, 1 = none, anything else = an error).
 * Sub-second: the whole check takes (count - 1) * PING_INTERVAL_S + timeoutS when nobody answers.
 */
export async function probe(addrs: string[], count: number, timeoutS: number, log: Logger): Promise<Probe> {
  const out: Probe = { answered: [], unknown: [] };
  const budgetMs = Math.ceil(((count - 1) * PING_INTERVAL_S + timeoutS) * 1000) + 3000;
  const results = await Promise.all(addrs.map(async (a) => ({ a, r: await run('ping', pingArgs(a, count, timeoutS), { timeoutMs: budgetMs }) })));
  for (const { a, r } of results) {
    log.debug(`ping ${a}: ${r.spawnError ?? `exit ${r.code}`}`);
    if (r.code === 0) out.answered.push(a);
    else if (r.code === 1 && !r.timedOut) continue;
    else out.unknown.push({ addr: a, why: r.spawnError ? `ping cannot run: ${r.spawnError}` : r.timedOut ? 'ping timed out' : (r.stderr.trim().split('\n')[0] || `ping exit ${r.code}`) });
  }
  return out;
}

/** Resources per node of this partition (fence devices not counted), from crm_mon; undefined when unknown. */
export async function weightsOf(target: string, log: Logger): Promise<{ weights?: Weights; local?: string }> {
  const n = await run('crm_node', ['-n'], { timeoutMs: 10_000 });
  const local = n.code === 0 ? n.stdout.trim() : undefined;
  if (!local) { log.warn(`crm_node -n failed: ${(n.stderr || n.spawnError || '').trim().split('\n')[0]}`); return {}; }
  try {
    // loaded only here: a head that answers nowhere (the common case) never pays for it
    const { readCrmMon } = await import('../pacemaker/crm-mon.js');
    const st = await readCrmMon();
    const count = (node: string) => st.resources.filter((x) => x.active && !x.agent.startsWith('stonith:') && x.nodes.includes(node)).length;
    return { weights: { target: count(target), local: count(local) }, local };
  } catch (e) {
    log.warn(`crm_mon: ${(e as Error).message.split('\n')[0]}`);
    return { local };
  }
}

const sleep = (ms: number) => new Promise<void>((r) => { setTimeout(r, ms); });

async function act(action: Action, o: Options, log: Logger, io: Io): Promise<number> {
  const peers = parsePeers(o.peers ?? '');
  if (action === 'list' || action === 'list-status') {
    const sep = o.separator ?? ',';
    for (const p of peers.keys()) io.out(action === 'list' ? `${p}${sep}\n` : `${p}${sep}${sep}UNKNOWN\n`);
    return EC.OK;
  }
  if (action === 'monitor' || action === 'on') return EC.OK;
  if (action === 'status') { io.out('Status: ON\n'); return EC.OK; }
  // off, reboot
  const target = o.plug ?? o.nodename;
  const addrs = target !== undefined ? peers.get(target) : undefined;
  if (target === undefined || !addrs) {
    // Not a head this device knows: no race to decide, fencing goes on.
    log.warn(`${target ?? 'no target'} is not in peers: no delay`);
    io.out('Success: no delay\n');
    return EC.OK;
  }
  const t0 = Date.now();
  // ping first, crm_mon only when the target may be alive: a head that lost power (the common
  // case, where every second counts) costs one sub-second ping round and nothing else
  const found = await probe(addrs, Number(o.ping_count ?? 2), seconds(o, 'ping_timeout', 0.2), log);
  const w = found.answered.length || found.unknown.length ? await weightsOf(target, log) : {};
  const d = decide(target, w.local, found, w.weights, {
    priorityDelay: seconds(o, 'priority_delay'), tieDelayMax: seconds(o, 'tie_delay_max'),
  });
  // Always on stderr (the fencer logs it): why this fencing waited or not.
  log.warn(`${d.why} (checked in ${((Date.now() - t0) / 1000).toFixed(2)} s)`);
  if (d.waitS > 0) await sleep(d.waitS * 1000);
  io.out(`Success: ${d.waitS > 0 ? `waited ${d.waitS} s` : 'no delay'}\n`);
  return EC.OK;
}

export const delayAgent: AgentDef = {
  docs: {
    name: 'fence_haoscar_delay',
    shortdesc: 'Split-brain delay for two-head clusters, applied only when the peer still answers',
    longdesc: 'fence_haoscar_delay is a pseudo fence device for the heads of an ha-oscar cluster. Put it in each head\'s fencing level after fence_heuristics_ping and before the real device. On off or reboot it pings every address of the target (peers), all at once and within a fraction of a second; when none answers, the target is down or cut off from every network and fencing goes on at once. When it answers, the two heads are racing to fence each other: fencing of the head that runs more resources (per crm_mon of this partition) waits priority_delay, so that head wins; fencing of the lighter head does not wait; equal heads wait a random 0..tie_delay_max. When it cannot tell, it takes the safe side and waits. It replaces priority-fencing-delay and pcmk_delay_max, which also delay the fencing of a head that has lost power. It never switches power itself.',
    vendorUrl: 'https://github.com/ha-oscar',
  },
  specs: DELAY_SPECS,
  version: 'fence_haoscar_delay 0.1.0',
  needsPlug: () => false,
  validate: (o: Options) => {
    try { parsePeers(o.peers ?? ''); } catch (e) { return [(e as Error).message]; }
    const n = Number(o.ping_count ?? 2);
    if (!Number.isInteger(n) || n < 1 || n > 10) return [`Failed: ping_count must be 1..10, got '${o.ping_count}'`];
    const t = seconds(o, 'ping_timeout', 0.2);
    if (t < 0.01 || t > 10) return [`Failed: ping_timeout must be 0.01..10 seconds, got '${o.ping_timeout}'`];
    return [];
  },
  extraBudgetS: (o: Options) => seconds(o, 'priority_delay') + seconds(o, 'tie_delay_max') + Number(o.ping_count ?? 2) * PING_INTERVAL_S + seconds(o, 'ping_timeout', 0.2) + 25,
  pseudo: act,
  backend: () => Promise.reject(new Error('fence_haoscar_delay switches no power')),
};

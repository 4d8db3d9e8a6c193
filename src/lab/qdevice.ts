// The lab's quorum device (`lab up --quorum-device`, issue 24): corosync-qnetd, the third vote,
// runs as a lab process in the switch namespace with its own address on the management net M
// (next to the lab PDU, never on a head): a head cut from nets A and B still reaches it, as it
// still reaches the PDU. Each head runs corosync-qdevice (src/lab/init.ts) with the section
// below in its corosync.conf (src/lab/corosync.ts) and no two_node.
//
// The device's vote goes by ffsplit: the partition with the most nodes, then the better
// heuristics score (corosync-qdevice runs `ping` of the client on net A on each head at start
// and at every membership change), then the lowest node id. A head cut from the compute nodes'
// net therefore loses the vote even when it is the active head and the lowest id.
// TLS is off in the lab (a real site keeps it on: docs/config.md "Quorum device").
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { QDEVICE_PING, type QuorumDevice } from '../crm/describe';
import { run, runOk } from '../service/run';
import { killRecorded, record, sleep, spawnDetached, waitGone } from './procs';
import type { LabSpec } from './spec';
import { NET, addr4, bridgeOf, netnsOf } from './spec';
import { readState, writeState, type LabState } from './state';

/** corosync-qnetd's address, on the management net M (the PDU is .250). */
export const QNETD_ADDR = { v4: `${NET.M.v4prefix}251`, v6: `${NET.M.v6prefix}251` } as const;
export const QNETD_PORT = 5403;
/** What `lab up --quorum-device` needs besides the lab's own commands, and their Debian packages. */
export const QDEVICE_BINS: Record<string, string> = {
  'corosync-qnetd': 'corosync-qnetd', 'corosync-qnetd-tool': 'corosync-qnetd',
  'corosync-qdevice': 'corosync-qdevice', 'corosync-qdevice-tool': 'corosync-qdevice',
};

/** The device as the description generator would take it (src/crm/corosync.ts writes the section). */
export function labQuorumDevice(): QuorumDevice {
  return {
    host: QNETD_ADDR.v4, port: QNETD_PORT, algorithm: 'ffsplit', tieBreaker: 'lowest', tls: 'off',
    heuristics: { mode: 'sync', exec: [['ping_client', [...QDEVICE_PING, addr4('client', 'A')].join(' ')]] },
  };
}

export const qnetdLog = (spec: LabSpec): string => join(spec.stateDir, 'qnetd.log');
/** One vote event in qnetd's debug log: a vote it sent to a head, or the head's reply to it. */
export interface QnetdVote { nodeId: number; event: 'sent' | 'replied'; vote?: string }

/**
 * The votes of the device for one cluster, in order, from qnetd's debug log (`-d`): "Sending vote
 * info to client ADDR (cluster C, node_id N)" with "vote = ACK|NACK" two lines on, and "Client ADDR
 * (cluster C, node_id N) replied back to vote info message". ffsplit sends the ACKs only once
 * every NACK has been answered. This record stays with qnetd when a head is switched off before
 * its own logs say that it lost quorum.
 */
export function qnetdVotes(log: string, cluster: string): QnetdVote[] {
  const out: QnetdVote[] = [];
  const lines = log.split('\n');
  lines.forEach((l, i) => {
    const sent = /Sending vote info to client \S+ \(cluster (\S+), node_id (\d+)\)/.exec(l);
    if (sent && sent[1] === cluster) {
      const vote = lines.slice(i + 1, i + 3).map((x) => /\svote = (.+?)\s*$/.exec(x)?.[1]).find(Boolean);
      out.push({ nodeId: Number(sent[2]), event: 'sent', vote });
    }
    const replied = /Client \S+ \(cluster (\S+), node_id (\d+)\) replied back to vote info message/.exec(l);
    if (replied && replied[1] === cluster) out.push({ nodeId: Number(replied[2]), event: 'replied' });
  });
  return out;
}

/** qnetd's IPC socket and lock file in the lab's state dir: two labs' qnetds never meet. */
export const qnetdSocket = (spec: LabSpec): string => join(spec.stateDir, 'qnetd.sock');
const qnetdLock = (spec: LabSpec): string => join(spec.stateDir, 'qnetd.pid');

/** `corosync-qnetd-tool ARGS` against this lab's qnetd (its IPC socket). */
export async function qnetdTool(spec: LabSpec, args: string[]): Promise<{ code: number | null; out: string }> {
  const r = await run('corosync-qnetd-tool', [...args, '-p', qnetdSocket(spec)], { timeoutMs: 10_000 });
  return { code: r.code, out: r.stdout + r.stderr };
}

/** The qnetd process is running (per the lab's record). */
export function qnetdRunning(spec: LabSpec): boolean {
  const st = readState(spec.stateDir);
  return !!st?.qnetd && record(st.qnetd.pid)?.start === st.qnetd.start;
}

/**
 * Start corosync-qnetd in the switch namespace on QNETD_ADDR (added to the M bridge when missing),
 * TLS off, in the foreground (-f) as a recorded lab process. Returns when its IPC socket answers.
 */
export async function startQnetd(spec: LabSpec, st: LabState = readState(spec.stateDir)!): Promise<void> {
  if (qnetdRunning(spec)) return;
  const sw = netnsOf(spec.name, 'sw');
  await runOk('ip', ['-n', sw, '-batch', '-'], {
    timeoutMs: 30_000,
    input: `addr replace ${QNETD_ADDR.v4}/${NET.M.v4len} dev ${bridgeOf(spec.name, 'M')}\naddr replace ${QNETD_ADDR.v6}/${NET.M.v6len} dev ${bridgeOf(spec.name, 'M')} nodad\n`,
  });
  // -4 -l: the one address (qnetd listens on the wildcard otherwise); -d: the decisions in its log
  const pid = spawnDetached('nsenter', [`--net=/run/netns/${sw}`, '--', 'corosync-qnetd', '-f', '-d', '-s', 'off', '-4',
    '-l', QNETD_ADDR.v4, '-p', String(QNETD_PORT), '-S', `lock_file=${qnetdLock(spec)},local_socket_file=${qnetdSocket(spec)}`], qnetdLog(spec));
  const rec = record(pid);
  if (rec) { st.qnetd = rec; writeState(spec, st); }
  const until = Date.now() + 15_000;
  while (Date.now() < until) {
    if (existsSync(qnetdSocket(spec)) && (await qnetdTool(spec, ['-s'])).code === 0) return;
    if (!rec || record(pid)?.start !== rec.start) break;
    await sleep(100);
  }
  let tail = '';
  try { tail = readFileSync(qnetdLog(spec), 'utf8').trim().split('\n').slice(-3).join(' | '); } catch { /* no log */ }
  throw new Error(`corosync-qnetd did not start (${qnetdLog(spec)}: ${tail})`);
}

/** Kill the lab's qnetd (the device lost: its host died); by its record only. */
export async function stopQnetd(spec: LabSpec): Promise<void> {
  const st = readState(spec.stateDir);
  if (!st?.qnetd) return;
  killRecorded(st.qnetd);
  if (!(await waitGone([st.qnetd], 10_000))) throw new Error(`corosync-qnetd ${st.qnetd.pid} did not die`);
  delete st.qnetd;
  writeState(spec, st);
}

// Reader of Corosync knet link status: `corosync-cfgtool -s` on this node, plus the
// `ha-oscar-link` node attribute that the link monitor publishes for every node.
import { run as realRun, describeFailure } from '../service/run';
import type { Runner } from './crm-mon';

export type LinkStatus = 'connected' | 'down' | 'unknown' | 'degraded';

/** Link number used for the service network published by linkmon (MIB row 100). */
export const SERVICE_NETWORK_LINK = 99;

export interface LinkState {
  /** Corosync node id (cfgtool) or node name (attribute). */
  node: string;
  link: number;
  status: LinkStatus;
  source: 'cfgtool' | 'attribute';
}

export interface CfgtoolStatus {
  localNodeId: string;
  links: LinkState[];
}

/**
 * Parse `corosync-cfgtool -s` (Corosync 3, knet):
 *
 *   Local node ID 1, transport knet
 *   LINK ID 0 udp
 *           addr    = 192.0.2.11
 *           status:
 *                   nodeid:          1:     localhost
 *                   nodeid:          2:     connected
 *
 * "localhost" (this node) counts as connected; "disconnected" and anything else
 * with "down"/"dis" is down.
 */
export function parseCfgtool(text: string): CfgtoolStatus {
  const local = /Local node ID (\d+)/.exec(text);
  const links: LinkState[] = [];
  let link = -1;
  for (const line of text.split('\n')) {
    const l = /^\s*LINK (?:ID|NUMBER)\s+(\d+)/i.exec(line) ?? /^\s*RING ID\s+(\d+)/i.exec(line);
    if (l) { link = Number(l[1]); continue; }
    const n = /^\s*nodeid:?\s+(\d+):\s*(.+?)\s*$/i.exec(line);
    if (n && link >= 0) {
      const word = n[2].toLowerCase();
      const status: LinkStatus = word === 'localhost' || word === 'connected' || word.startsWith('enabled connected') ? 'connected'
        : /disconnected|down|not connected|disabled/.test(word) ? 'down' : 'unknown';
      links.push({ node: n[1], link, status, source: 'cfgtool' });
    }
  }
  return { localNodeId: local ? local[1] : '', links };
}

/**
 * Parse the `ha-oscar-link` node attribute.
 * - linkmon's value, one number for the node's service network: 2 = all links ok,
 *   1 = degraded, 0 = down (reported as link SERVICE_NETWORK_LINK);
 * - or per-link items "0:up,1:down" (link number: up|connected|degraded|down).
 * Unknown words give 'unknown'; malformed items are skipped.
 */
export function parseLinkAttribute(node: string, value: string): LinkState[] {
  const v = value.trim();
  if (/^-?\d+$/.test(v)) {
    const n = Number(v);
    return [{ node, link: SERVICE_NETWORK_LINK, status: n >= 2 ? 'connected' : n === 1 ? 'degraded' : 'down', source: 'attribute' }];
  }
  const out: LinkState[] = [];
  for (const item of v.split(/[,\s]+/)) {
    const m = /^(\d+)[:=](\w+)$/.exec(item.trim());
    if (!m || Number(m[1]) > 7) continue;
    const w = m[2].toLowerCase();
    out.push({ node, link: Number(m[1]), status: w === 'up' || w === 'connected' ? 'connected' : w === 'down' ? 'down' : w === 'degraded' ? 'degraded' : 'unknown', source: 'attribute' });
  }
  return out;
}

export async function readCfgtool(run: Runner = realRun): Promise<CfgtoolStatus> {
  const r = await run('corosync-cfgtool', ['-s'], { timeoutMs: 10_000 });
  // Exit 1 with output is "some link down": still parse.
  if (r.code !== 0 && !/LINK|RING/i.test(r.stdout)) throw new Error(describeFailure('corosync-cfgtool', r));
  return parseCfgtool(r.stdout);
}

/** The quorum device as votequorum sees it on this node (corosync-quorumtool -s). */
export type QuorumDeviceState = 'none' | 'voting' | 'notVoting';
export interface QuorumtoolStatus { device: QuorumDeviceState; totalVotes: number; quorate: boolean }

/**
 * Parse `corosync-quorumtool -s`. The device is configured when the membership lists a
 * "Qdevice" line (node id 0); its vote counts when that line's Votes column is not 0:
 *
 *   Total votes:      3
 *   Flags:            Quorate Qdevice
 *       Nodeid      Votes    Qdevice Name
 *            1          1    A,V,NMW head1 (local)
 *            0          1            Qdevice            <- voting
 *            0          0            Qdevice (votes 1)  <- configured, not voting
 */
export function parseQuorumtool(text: string): QuorumtoolStatus {
  const dev = /^\s*0\s+(\d+)\s+Qdevice\b/m.exec(text);
  return {
    device: !dev ? 'none' : Number(dev[1]) > 0 ? 'voting' : 'notVoting',
    totalVotes: Number(/^Total votes:\s+(\d+)/m.exec(text)?.[1] ?? 0),
    quorate: /^Quorate:\s+Yes/m.test(text),
  };
}

export async function readQuorumtool(run: Runner = realRun): Promise<QuorumtoolStatus> {
  const r = await run('corosync-quorumtool', ['-s'], { timeoutMs: 10_000 });
  // exit 2: not quorate, with the same output
  if (!/Votequorum information/.test(r.stdout)) throw new Error(describeFailure('corosync-quorumtool', r));
  return parseQuorumtool(r.stdout);
}

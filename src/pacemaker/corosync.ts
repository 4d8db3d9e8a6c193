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

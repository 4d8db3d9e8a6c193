// corosync.conf from the description: one knet link per listed network,
// crypto on, the nodelist, and quorum: two_node, or a quorum device (corosync-qdevice voting
// through corosync-qnetd on a third host) when the description has quorum.device.
import type { Description, QuorumDevice } from './describe';

export function renderCorosync(d: Description, header?: string): string {
  const L: string[] = [];
  if (header) L.push(...header.split('\n').map((l) => `# ${l}`.trimEnd()));
  L.push(
    'totem {',
    '    version: 2',
    `    cluster_name: ${d.cluster.name}`,
    '    transport: knet',
    `    token: ${d.timings.token}`,
    `    crypto_cipher: ${d.corosync.cipher}`,
    `    crypto_hash: ${d.corosync.hash}`,
    `    ip_version: ${d.corosync.family === 'ipv6' ? 'ipv6' : 'ipv4'}`,
    '    link_mode: passive',
  );
  d.corosync.links.forEach((net, i) => {
    L.push(
      '',
      `    # link ${i}: network ${net}`,
      '    interface {',
      `        linknumber: ${i}`,
      // passive mode: the link with the highest priority carries the traffic
      `        knet_link_priority: ${d.corosync.links.length - i}`,
      '    }',
    );
  });
  L.push('}', '', 'nodelist {');
  for (const h of d.heads) {
    L.push('    node {', `        name: ${h.name}`, `        nodeid: ${h.nodeid}`);
    d.corosync.links.forEach((net, i) => {
      L.push(`        ring${i}_addr: ${h.addresses[net][d.corosync.family]!.text}`);
    });
    L.push('    }');
  }
  L.push('}', '', 'quorum {', '    provider: corosync_votequorum');
  const q = d.quorum.device;
  if (!q) L.push('    two_node: 1');
  else {
    // no two_node: the device's vote breaks the tie, and two_node would let both halves of a
    // split keep quorum (it also implies wait_for_all, which the device makes unnecessary)
    L.push(...quorumDeviceLines(q, '    ', d.timings.token));
  }
  L.push(
    '}',
    '',
    'logging {',
    '    to_logfile: yes',
    '    logfile: /var/log/corosync/corosync.log',
    '    to_syslog: yes',
    '    timestamp: on',
    '}',
    '',
  );
  return L.join('\n');
}

/**
 * quorum.device.timeout (ms) for a totem token: corosync-qdevice heartbeats qnetd every
 * 0.8 x timeout and qnetd drops a client silent for 1.5 x that, so a head that lost power is
 * dropped 1.2 x timeout after its last heartbeat. Until then ffsplit holds the survivor's vote
 * ("membership is not yet stable"), and with corosync's default of 10 s the survivor waited
 * 5.5 s after the new membership before it had quorum and could fence (lab, token 1000).
 * 1.2 x timeout = token + consensus (1.2 x token), corosync's own time to declare a node lost,
 * so qnetd lets go of the dead head by the time the survivor reports the new membership.
 * Bounds: qnetd's minimum heartbeat (1000 ms = 0.8 x 1250) and the default 10 s.
 */
export function qdeviceTimeout(token: number): number {
  return Math.min(10_000, Math.max(1250, Math.floor((token + 1.2 * token) / 1.2 / 10) * 10));
}

/**
 * corosync.conf's `quorum.device` section for a quorum device, each line indented by `indent`:
 * the generator's and the lab's (src/lab/corosync.ts) one writer.
 */
export function quorumDeviceLines(q: QuorumDevice, indent: string, token: number): string[] {
  const L = [
    'device {',
    '    model: net',
    `    timeout: ${q.timeout ?? qdeviceTimeout(token)}`,
    // ffsplit needs exactly 1 vote; lms takes the default (number of nodes - 1, also 1 here)
    ...(q.algorithm === 'ffsplit' ? ['    votes: 1'] : []),
    '    net {',
    `        host: ${q.host}`,
    ...(q.port !== 5403 ? [`        port: ${q.port}`] : []),
    `        algorithm: ${q.algorithm}`,
    `        tie_breaker: ${q.tieBreaker}`,
    `        tls: ${q.tls}`,
    '    }',
  ];
  if (q.heuristics) {
    L.push('    heuristics {', `        mode: ${q.heuristics.mode}`);
    for (const [name, cmd] of q.heuristics.exec) L.push(`        exec_${name}: ${cmd}`);
    L.push('    }');
  }
  L.push('}');
  return L.map((l) => indent + l);
}

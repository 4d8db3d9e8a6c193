// corosync.conf from the description: one knet link per listed network,
// crypto on, the nodelist, and quorum: two_node, or a quorum device (corosync-qdevice voting
// through corosync-qnetd on a third host) when the description has quorum.device.
import type { Description } from './describe';

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
    L.push(
      // no two_node: the device's vote breaks the tie, and two_node would let both halves of a
      // split keep quorum (it also implies wait_for_all, which the device makes unnecessary)
      '    device {',
      '        model: net',
      // ffsplit needs exactly 1 vote; lms takes the default (number of nodes - 1, also 1 here)
      ...(q.algorithm === 'ffsplit' ? ['        votes: 1'] : []),
      '        net {',
      `            host: ${q.host}`,
      ...(q.port !== 5403 ? [`            port: ${q.port}`] : []),
      `            algorithm: ${q.algorithm}`,
      `            tie_breaker: ${q.tieBreaker}`,
      `            tls: ${q.tls}`,
      '        }',
    );
    if (q.heuristics) {
      L.push('        heuristics {', `            mode: ${q.heuristics.mode}`);
      for (const [name, cmd] of q.heuristics.exec) L.push(`            exec_${name}: ${cmd}`);
      L.push('        }');
    }
    L.push('    }');
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

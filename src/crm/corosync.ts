// corosync.conf from the description: one knet link per listed network,
// crypto on, two_node quorum, and the nodelist.
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
  L.push(
    '}',
    '',
    'quorum {',
    '    provider: corosync_votequorum',
    '    two_node: 1',
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

// corosync.conf for the lab, from ONE small isolated function.
// (src/crm is getting the general generator; the lab will switch to it when it lands.)
import { quorumDeviceLines } from '../crm/corosync';
import { labQuorumDevice } from './qdevice';
import type { LabSpec } from './spec';
import { HEADS, addr4, nodeId } from './spec';

/** corosync's own totem token when corosync.conf sets none (corosync.conf(5)). */
export const COROSYNC_DEFAULT_TOKEN = 3000;

export function labCorosyncConf(spec: LabSpec): string {
  const nodes = HEADS.map((h) => `  node {
    name: ${h}
    nodeid: ${nodeId(h)}
    ring0_addr: ${addr4(h, 'A')}
    ring1_addr: ${addr4(h, 'B')}
  }`).join('\n');
  return `# written by ha-oscar lab '${spec.name}'
totem {
  version: 2
  cluster_name: ${spec.name}
  transport: knet
${spec.token !== undefined ? `  token: ${spec.token}\n` : ''}  crypto_cipher: aes256
  crypto_hash: sha256
  interface {
    linknumber: 0
  }
  interface {
    linknumber: 1
  }
}

nodelist {
${nodes}
}

quorum {
  provider: corosync_votequorum
${spec.quorumDevice ? quorumDeviceLines(labQuorumDevice(), '  ', spec.token ?? COROSYNC_DEFAULT_TOKEN).join('\n') : '  two_node: 1'}
}

logging {
  to_logfile: yes
  logfile: /var/log/corosync/corosync.log
  to_stderr: no
  to_syslog: no
  timestamp: hires
}
`;
}

// Which Pacemaker resources make up each OSCAR head-node service (dhcp, tftp, ntp, nfs, snmp).
// A resource belongs to a service when its id, the id of a group/clone around it, or its
// agent type matches the service's pattern (first match in this order wins).
export const SERVICES = ['dhcp', 'tftp', 'ntp', 'nfs', 'snmp'] as const;
export type ServiceName = (typeof SERVICES)[number];

export const SERVICE_PATTERNS: Record<ServiceName, RegExp> = {
  dhcp: /dhcp|kea/i,
  tftp: /tftp/i,
  ntp: /ntp|chrony/i,
  nfs: /nfs|exportfs/i,
  snmp: /snmp/i,
};

/** The service of a resource, from its id, enclosing ids and agent type. */
export function serviceFor(id: string, parents: readonly string[] = [], type = ''): ServiceName | undefined {
  for (const s of SERVICES) {
    const re = SERVICE_PATTERNS[s];
    if (re.test(id) || parents.some((p) => re.test(p)) || (type && re.test(type))) return s;
  }
  return undefined;
}

// The lab's cluster configuration, data-driven: ONE list of lab services.
// Each entry: when it is available, its crm snippet (primitives + the names it adds to
// the head group), and the checks the client runs to see it answer on the VIPs.
// Adding a service (dhcpd, tftpd, ntpd, nfsserver...) is one entry here.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { LabSpec } from './spec';
import { MIBDIR, VIP4, VIP6 } from './spec';

export interface ClientCheck {
  /** Short label in the timeline, e.g. "snmp v6". */
  name: string;
  /** argv run inside the client node; exit 0 = the service answered. */
  argv: string[];
  /** Same check, but waiting (retrying fast) until the first answer; exit 0 on answer. */
  waitArgv?: string[];
  /** Faster single try for polling loops (short timeout). */
  pollArgv?: string[];
  /** Kill the check after this long (default 10 s). */
  timeoutMs?: number;
}

export interface LabService {
  id: string;
  /** Why it is absent when it is ('' when available). */
  missing(spec: LabSpec): string;
  /** crm configure snippet: primitives only. */
  crm(spec: LabSpec): string;
  /** Resource ids of its primitives: each runs with the VIPs, and starts after both VIPs
   * (the VIPs themselves start in parallel; services start in parallel with each other). */
  members: string[];
  checks(spec: LabSpec): ClientCheck[];
}
// (entries: LAB_SERVICES below; more are pushed after the helpers they use)

const agent = (spec: LabSpec, name: string): string => join(spec.repo, 'dist', 'ocf', name);
const needAgent = (spec: LabSpec, name: string): string =>
  existsSync(agent(spec, name)) ? '' : `dist/ocf/${name} not built (agents/${name}.ts missing?)`;

const pingCheck = (name: string, vip: string): ClientCheck => ({
  name,
  argv: ['ping', '-n', '-q', '-c', '1', '-W', '1', vip],
  // Send every 50 ms until the first reply; exits at once on it.
  waitArgv: ['ping', '-n', '-q', '-c', '1', '-i', '0.05', '-w', '60', vip],
});

export const LAB_SERVICES: LabService[] = [
  {
    id: 'vips',
    missing: () => '',
    crm: () => [
      // arp_bg: gratuitous ARP / unsolicited NA in the background, so start returns at once
      `primitive vip4 ocf:heartbeat:IPaddr2 params ip=${VIP4} cidr_netmask=24 nic=eth0 arp_bg=true op monitor interval=10s timeout=20s`,
      // nodad: the moved IPv6 VIP is usable at once instead of after ~2 s of DAD
      `primitive vip6 ocf:heartbeat:IPaddr2 params ip=${VIP6} cidr_netmask=64 nic=eth0 nodad=true arp_bg=true op monitor interval=10s timeout=20s`,
      'colocation vip6-with-vip4 inf: vip6 vip4',
    ].join('\n'),
    members: ['vip4', 'vip6'],
    checks: () => [pingCheck('vip v4', VIP4), pingCheck('vip v6', VIP6)],
  },
  {
    id: 'snmpd',
    missing: (spec) => needAgent(spec, 'snmpd'),
    crm: () => `primitive snmpd ocf:ha-oscar:snmpd params listen="${VIP4} ${VIP6}" community=public port=161 op monitor interval=10s timeout=20s`,
    members: ['snmpd'],
    checks: (spec) => (['udp', 'udp6'] as const).map((fam) => {
      const target = fam === 'udp' ? `udp:${VIP4}:161` : `udp6:[${VIP6}]:161`;
      const base = ['snmpget', '-v2c', '-c', 'public', '-M', MIBDIR(spec), '-m', 'SNMPv2-MIB', '-r', '0'];
      return { name: `snmp ${fam === 'udp' ? 'v4' : 'v6'}`, argv: [...base, '-t', '1', target, 'SNMPv2-MIB::sysUpTime.0'], pollArgv: [...base, '-t', '0.3', target, 'SNMPv2-MIB::sysUpTime.0'] };
    }),
  },
];

const VIPS = `${VIP4} ${VIP6}`;
const cli = (spec: LabSpec): string[] => [process.execPath, join(spec.repo, 'dist', 'ha-oscar')];
const bothFamilies = (label: string, make: (vip: string, fam: 'v4' | 'v6') => Omit<ClientCheck, 'name'>): ClientCheck[] =>
  ([[VIP4, 'v4'], [VIP6, 'v6']] as const).map(([vip, fam]) => ({ name: `${label} ${fam}`, ...make(vip, fam) }));

LAB_SERVICES.push(
  {
    id: 'tftpd',
    missing: (spec) => needAgent(spec, 'tftpd'),
    // root /srv/tftp is a per-node copy in the lab; start writes the probe file there.
    crm: () => `primitive tftpd ocf:ha-oscar:tftpd params root=/srv/tftp listen="${VIPS}" op monitor interval=10s timeout=20s`,
    members: ['tftpd'],
    // tftp-hpa's client exits 0 even on a TFTP error: our client (src/probe/tftp.ts) instead.
    checks: (spec) => bothFamilies('tftp', (vip) => ({ argv: [...cli(spec), 'lab', '_probe', 'tftp', vip, '.ha-oscar-tftp-probe'] })),
  },
  {
    id: 'ntpd',
    missing: (spec) => needAgent(spec, 'ntpd'),
    // clock_control=false: every namespace shares the host's one clock (docs/ntp.md).
    crm: () => `primitive ntpd ocf:ha-oscar:ntpd params listen="${VIPS}" allow="192.0.2.0/24 2001:db8:a::/64" local_stratum=10 clock_control=false op monitor interval=30s timeout=20s`,
    members: ['ntpd'],
    // One RFC 5905 client exchange (src/probe/ntp.ts) through `ha-oscar lab _probe ntp ADDR`.
    checks: (spec) => bothFamilies('ntp', (vip) => ({ argv: [...cli(spec), 'lab', '_probe', 'ntp', vip] })),
  },
);

export function availableServices(spec: LabSpec): LabService[] {
  return LAB_SERVICES.filter((s) => s.missing(spec) === '');
}

/** The whole crm configuration the lab loads: the VIPs, every available service with them. */
export function labCrmConfig(spec: LabSpec): string {
  const svcs = availableServices(spec);
  const out = svcs.map((s) => s.crm(spec));
  for (const s of svcs) {
    if (s.id === 'vips') continue;
    for (const m of s.members) {
      out.push(`colocation ${m}-with-vips inf: ${m} vip4`, `order vip4-then-${m} Mandatory: vip4 ${m}`, `order vip6-then-${m} Mandatory: vip6 ${m}`);
    }
  }
  return out.join('\n') + '\n';
}

export function labChecks(spec: LabSpec): ClientCheck[] {
  return availableServices(spec).flatMap((s) => s.checks(spec));
}

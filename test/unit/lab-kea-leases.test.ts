// src/lab/kea-leases.ts: Kea's memfile journals, as the DHCP boot-storm bench compares the two
// heads' lease databases (npm run bench:dhcp). Headers as Kea 2.2 (Debian 12) writes them.
import { describe, expect, it } from 'vitest';
import { bound, duplicates, parseKeaLeases } from '../../src/lab/kea-leases';

const H4 = 'address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context';
const H6 = 'address,duid,valid_lifetime,expire,subnet_id,pref_lifetime,lease_type,iaid,prefix_len,fqdn_fwd,fqdn_rev,hostname,hwaddr,state,user_context';
const v4 = (addr: string, mac: string, expire: number, valid = 600, state = 0) => `${addr},${mac},,${valid},${expire},1,0,0,,${state},`;
const v6 = (addr: string, duid: string, iaid: number, expire: number, valid = 600) => `${addr},${duid},${valid},${expire},1,300,0,${iaid},128,0,0,,,0,`;
const NOW = 1_800_000_000;

describe('parseKeaLeases', () => {
  it('keeps the last row of each address (the journal), by the header\'s column names', () => {
    const db = parseKeaLeases([H4, v4('192.0.2.150', '02:00:00:00:00:01', NOW + 100), v4('192.0.2.150', '02:00:00:00:00:01', NOW + 600), v4('192.0.2.151', 'AA:00:00:00:00:02', NOW + 600)].join('\n'));
    expect(db.size).toBe(2);
    expect(db.get('192.0.2.150')).toEqual({ address: '192.0.2.150', client: '02:00:00:00:00:01', expire: NOW + 600, validLifetime: 600, state: 0 });
    expect(db.get('192.0.2.151')!.client).toBe('aa:00:00:00:00:02');
  });

  it('DHCPv6: the client is DUID and IAID', () => {
    const db = parseKeaLeases([H6, v6('2001:db8:a::1000', '00:01:02', 7, NOW + 600)].join('\n'));
    expect(db.get('2001:db8:a::1000')!.client).toBe('00:01:02/7');
  });

  it('a deleted (valid_lifetime 0), reclaimed (state 2) or expired lease is not bound', () => {
    const db = parseKeaLeases([H4, v4('192.0.2.150', '02:00:00:00:00:01', NOW + 600, 0), v4('192.0.2.151', '02:00:00:00:00:02', NOW + 600, 600, 2),
      v4('192.0.2.152', '02:00:00:00:00:03', NOW - 1), v4('192.0.2.153', '02:00:00:00:00:04', NOW + 1)].join('\n'));
    expect([...db.values()].filter((l) => bound(l, NOW)).map((l) => l.address)).toEqual(['192.0.2.153']);
  });

  it('a file that is not a Kea lease file is an error, not an empty database', () => {
    expect(() => parseKeaLeases('lease 192.0.2.150 {\n  starts 4 2026/12/07;\n}\n')).toThrow(/not a Kea lease file/);
  });
});

describe('duplicates across the heads\' databases', () => {
  it('the same binding on both heads (replicated) is not a duplicate; one address, two clients is', () => {
    const a = parseKeaLeases([H4, v4('192.0.2.150', '02:00:00:00:00:01', NOW + 600), v4('192.0.2.151', '02:00:00:00:00:02', NOW + 600)].join('\n'));
    const b = parseKeaLeases([H4, v4('192.0.2.150', '02:00:00:00:00:01', NOW + 500), v4('192.0.2.151', '02:00:00:00:00:09', NOW + 600)].join('\n'));
    expect(duplicates([a, b], NOW)).toEqual([{ address: '192.0.2.151', clients: ['02:00:00:00:00:02', '02:00:00:00:00:09'] }]);
  });

  it('a binding that expired on one head before the other gave the address away is not a duplicate', () => {
    const a = parseKeaLeases([H4, v4('192.0.2.150', '02:00:00:00:00:01', NOW - 5)].join('\n'));
    const b = parseKeaLeases([H4, v4('192.0.2.150', '02:00:00:00:00:02', NOW + 600)].join('\n'));
    expect(duplicates([a, b], NOW)).toEqual([]);
    expect(duplicates([a, b], NOW - 10)).toHaveLength(1);
  });
});

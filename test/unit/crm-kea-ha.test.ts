// The generator's Kea HA (issue 19): services.dhcp.ha makes the DHCPv4 resource one clone on
// both heads (notify, interleave), and the DHCPv6 one its own clone, outside the set's colocation and order with the VIPs, with
// ha_peers from the heads' addresses on corosync link 0's network and no server_id; and the
// description errors around it. crm_verify of both examples: crm-tools.test.ts; their text:
// the golden files.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { parseDescription, DescriptionError } from '../../src/crm/describe';
import { buildConfig } from '../../src/crm/index';

const root = join(__dirname, '..', '..');
const text = (f: string) => readFileSync(join(root, 'examples', f), 'utf8');

// eslint-disable-next-line @typescript-eslint/no-explicit-any
function problems(edit: (d: any) => void): string[] {
  const d = parse(text('active-active-kea-ha.yaml'));
  edit(d);
  try { parseDescription(stringify(d)); return []; } catch (e) {
    if (!(e instanceof DescriptionError)) throw e;
    return e.problems;
  }
}

describe('Kea HA in the generator', () => {
  for (const [f, mode] of [['active-active-kea-ha.yaml', 'load-balancing'], ['active-standby-kea-ha.yaml', 'hot-standby']] as const) {
    it(`${f}: dhcpd4 is a clone with notify, ha_mode=${mode}, ha_peers on link 0 (net b), no server_id, in no set constraint`, () => {
      const cfg = buildConfig(parseDescription(text(f), f));
      expect(cfg.primitives.map((p) => p.id)).not.toContain('dhcpd4');
      const clone = cfg.clones.find((c) => c.child.id === 'dhcpd4')!;
      expect(clone.id).toBe('dhcpd4-clone');
      expect(clone.meta).toEqual([['interleave', 'true'], ['notify', 'true']]);
      const params = Object.fromEntries(clone.child.params);
      expect(params).toMatchObject({ server: 'kea', family: '4', ha_mode: mode, ha_peers: 'head1=198.51.100.11 head2=198.51.100.12', interface: 'eth0' });
      expect(params.server_id).toBeUndefined();
      const named = JSON.stringify(cfg.constraints);
      expect(named).not.toContain('dhcpd4');
      // the other services of its set still follow the VIP
      expect(named).toContain('tftpd');
      // level 0 and level 10, as for every service
      expect(clone.child.ops.filter((o) => o.name === 'monitor').length).toBe(2);
    });
  }

  it('without ha, server: kea stays one primitive with the VIPs (server_id = the VIP)', () => {
    const d = parse(text('active-active-kea-ha.yaml'));
    delete d.services.dhcp.ha;
    const cfg = buildConfig(parseDescription(stringify(d)));
    const p = cfg.primitives.find((x) => x.id === 'dhcpd4')!;
    expect(Object.fromEntries(p.params).server_id).toBe('192.0.2.100');
    expect(cfg.clones.some((c) => c.child.id === 'dhcpd4')).toBe(false);
  });

  it('with v6 too: a second clone, dhcpd6-clone (its own Kea and HA pair); ha_port is DHCPv4\'s, DHCPv6 listens on the next port', () => {
    const d = parse(text('active-active-kea-ha.yaml'));
    d.networks.a.ipv6 = '2001:db8:a::/64';
    d.heads[0].addresses.a.ipv6 = '2001:db8:a::11';
    d.heads[1].addresses.a.ipv6 = '2001:db8:a::12';
    d.services.dhcp.ha_port = 8101;
    d.services.dhcp.v6 = { config: '/etc/kea/kea-dhcp6.conf', state_dir: '/var/lib/ha-oscar/kea6' };
    const cfg = buildConfig(parseDescription(stringify(d)));
    const p = (id: string) => Object.fromEntries(cfg.clones.find((c) => c.child.id === id)!.child.params);
    expect(p('dhcpd4')).toMatchObject({ family: '4', ha_mode: 'load-balancing', ha_port: '8101' });
    expect(p('dhcpd6')).toMatchObject({ family: '6', ha_mode: 'load-balancing', ha_port: '8102', ha_peers: 'head1=198.51.100.11 head2=198.51.100.12', config: '/etc/kea/kea-dhcp6.conf' });
    expect(cfg.clones.find((c) => c.child.id === 'dhcpd6')!.meta).toEqual([['interleave', 'true'], ['notify', 'true']]);
  });

  it('errors: ha needs server kea; no server_id with ha; ha_port only with ha; an unknown mode', () => {
    expect(problems((d) => { d.services.dhcp.server = 'isc'; })).toEqual(['services.dhcp.ha: Kea HA needs server: kea']);
    expect(problems((d) => { d.services.dhcp.v4.server_id = '192.0.2.100'; }))
      .toEqual(['services.dhcp.v4.server_id: with ha each head answers from its own address (and DUID): remove server_id']);
    expect(problems((d) => { delete d.services.dhcp.ha; d.services.dhcp.ha_port = 8001; })).toEqual(['services.dhcp.ha_port: only with ha (Kea HA)']);
    const bad = problems((d) => { d.services.dhcp.ha = 'active-active'; });
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatch(/^services\.dhcp\.ha: .*hot-standby.*load-balancing/);
  });
});

// splitPools (src/service/kea-pools.ts): in Kea HA load-balancing each head allocates from its
// own half of every pool (classes HA_<server-name>, as Kea's ARM configures it), so the two
// heads never give one address to two clients. Found by npm run bench:dhcp with shared pools.
import { describe, expect, it } from 'vitest';
import { parsePool, splitPools } from '../../src/service/kea-pools';

const NAMES: [string, string] = ['head1', 'head2'];

describe('splitPools', () => {
  it('DHCPv4: a pool without a class becomes two halves, the first head\'s and the second\'s; other keys are kept', () => {
    const d = { subnet4: [{ id: 1, subnet: '192.0.2.0/24', pools: [{ pool: '192.0.2.150 - 192.0.2.199', 'option-data': [{ name: 'routers', data: '192.0.2.1' }] }] }] };
    expect(splitPools(d, NAMES)).toBeUndefined();
    expect(d.subnet4[0]!.pools).toEqual([
      { pool: '192.0.2.150 - 192.0.2.174', 'client-class': 'HA_head1', 'option-data': [{ name: 'routers', data: '192.0.2.1' }] },
      { pool: '192.0.2.175 - 192.0.2.199', 'client-class': 'HA_head2', 'option-data': [{ name: 'routers', data: '192.0.2.1' }] },
    ]);
  });

  it('DHCPv6: a range and a prefix pool, in a subnet and in a shared network; an odd count gives the first head one more', () => {
    const d = {
      subnet6: [{ subnet: '2001:db8:a::/64', pools: [{ pool: '2001:db8:a::1000-2001:db8:a::ffff' }] }],
      'shared-networks': [{ name: 'n', subnet6: [{ subnet: '2001:db8:b::/64', pools: [{ pool: '2001:db8:b::/120' }, { pool: '2001:db8:b::1:0 - 2001:db8:b::1:2' }] }] }],
    };
    expect(splitPools(d, NAMES)).toBeUndefined();
    expect(d.subnet6[0]!.pools.map((p) => p.pool)).toEqual(['2001:db8:a::1000 - 2001:db8:a::87ff', '2001:db8:a::8800 - 2001:db8:a::ffff']);
    expect(d['shared-networks'][0]!.subnet6[0]!.pools).toEqual([
      { pool: '2001:db8:b:: - 2001:db8:b::7f', 'client-class': 'HA_head1' }, { pool: '2001:db8:b::80 - 2001:db8:b::ff', 'client-class': 'HA_head2' },
      { pool: '2001:db8:b::1:0 - 2001:db8:b::1:1', 'client-class': 'HA_head1' }, { pool: '2001:db8:b::1:2 - 2001:db8:b::1:2', 'client-class': 'HA_head2' },
    ]);
  });

  it('prefix delegation: a pd-pool splits into two prefixes one bit longer', () => {
    const d = { subnet6: [{ subnet: '2001:db8:a::/64', 'pd-pools': [{ prefix: '2001:db8:8000::', 'prefix-len': 48, 'delegated-len': 56 }] }] };
    expect(splitPools(d, NAMES)).toBeUndefined();
    expect(d.subnet6[0]!['pd-pools']).toEqual([
      { prefix: '2001:db8:8000::', 'prefix-len': 49, 'delegated-len': 56, 'client-class': 'HA_head1' },
      { prefix: '2001:db8:8000:8000::', 'prefix-len': 49, 'delegated-len': 56, 'client-class': 'HA_head2' },
    ]);
  });

  it('a pool the admin already gave a class stays as written', () => {
    const pools = [{ pool: '192.0.2.150 - 192.0.2.160', 'client-class': 'HA_head1' }, { pool: '192.0.2.170 - 192.0.2.180', 'client-class': 'HA_head2' }];
    const d = { subnet4: [{ subnet: '192.0.2.0/24', pools: pools.map((p) => ({ ...p })) }] };
    expect(splitPools(d, NAMES)).toBeUndefined();
    expect(d.subnet4[0]!.pools).toEqual(pools);
  });

  it('a pool that cannot be split: one line naming it, and what to do', () => {
    expect(splitPools({ subnet4: [{ subnet: '192.0.2.0/24', pools: [{ pool: '192.0.2.150-192.0.2.150' }] }] }, NAMES))
      .toBe("subnet 192.0.2.0/24: pool '192.0.2.150-192.0.2.150' has one address; load-balancing gives each head half of every pool (give it a client-class, HA_head1 or HA_head2)");
    expect(splitPools({ subnet6: [{ subnet: '2001:db8:a::/64', 'pd-pools': [{ prefix: '2001:db8:8000::', 'prefix-len': 56, 'delegated-len': 56 }] }] }, NAMES)).toMatch(/^subnet 2001:db8:a::\/64: pd-pool 2001:db8:8000::\/56 delegates one \/56/);
    expect(splitPools({ subnet4: [{ subnet: '192.0.2.0/24', pools: [{ pool: '192.0.2.199 - 192.0.2.150' }] }] }, NAMES)).toMatch(/the last address comes before the first/);
    expect(splitPools({ subnet4: [{ subnet: '192.0.2.0/24', pools: [{ pool: 'everything' }] }] }, NAMES)).toMatch(/^subnet 192\.0\.2\.0\/24: pool 'everything': /);
  });
});

describe('parsePool', () => {
  it('ranges with or without spaces, and prefixes', () => {
    expect(parsePool('192.0.2.1-192.0.2.9')).toEqual({ family: 'ipv4', start: 0xc0000201n, end: 0xc0000209n });
    expect(parsePool('192.0.2.0/30')).toEqual({ family: 'ipv4', start: 0xc0000200n, end: 0xc0000203n });
    expect(parsePool('192.0.2.1 - 2001:db8::1')).toMatch(/not two addresses of one family/);
  });
});

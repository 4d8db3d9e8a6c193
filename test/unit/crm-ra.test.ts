// networks.<name>.ipv6.ra (issue 23): IPv6 router advertisements from both heads, as a radvd
// clone, in both modes; the defaults a PXE network needs; every bad value one line naming the key.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { parseDescription, DescriptionError, RA_DEFAULTS } from '../../src/crm/describe';
import { buildConfig } from '../../src/crm/model';
import { renderCrm } from '../../src/crm/render-crm';

const root = join(__dirname, '..', '..');
const text = (f: string) => readFileSync(join(root, 'examples', f), 'utf8');

/** examples/lab.yaml (or another) with net a's ipv6 set to `v6` and any further edit. */
function withV6(v6: unknown, edit: (d: any) => void = () => {}, base = 'lab.yaml'): string {
  const d = parse(text(base));
  d.networks.a.ipv6 = v6;
  edit(d);
  return stringify(d);
}
function problems(y: string): string[] {
  try { parseDescription(y); return []; } catch (e) {
    if (!(e instanceof DescriptionError)) throw e;
    return e.problems;
  }
}
const raClones = (y: string) => buildConfig(parseDescription(y)).clones.filter((c) => c.child.agent === 'ocf:ha-oscar:radvd');

describe('networks.<name>.ipv6.ra', () => {
  it('defaults for a PXE network: M=1, O=1, router lifetime 0, not autonomous, interval 30', () => {
    expect(RA_DEFAULTS).toEqual({ managed: true, other: true, routerLifetime: 0, autonomous: false, interval: 30 });
    const [c, ...more] = raClones(withV6({ prefix: '2001:db8:a::/64', ra: true }));
    expect(more).toEqual([]);
    expect(c!.id).toBe('radvd-a-clone');
    expect(c!.meta).toEqual([['interleave', 'true']]);
    expect(c!.child).toMatchObject({
      id: 'radvd-a', agent: 'ocf:ha-oscar:radvd', meta: [],
      params: [['interface', 'eth0'], ['prefixes', '2001:db8:a::/64'], ['managed', 'true'], ['other', 'true'], ['router_lifetime', '0'], ['autonomous', 'false'], ['interval', '30']],
    });
    expect(c!.child.ops).toEqual([
      { name: 'start', interval: '0s', timeout: '20s' }, { name: 'stop', interval: '0s', timeout: '20s' },
      { name: 'monitor', interval: '10s', timeout: '20s' }, { name: 'monitor', interval: '120s', timeout: '20s', depth: 10 },
    ]);
  });

  it('every setting given is carried to the agent; the prefix in canonical form', () => {
    const y = withV6({ prefix: '2001:DB8:A:0::/64', ra: { managed: false, other: true, router_lifetime: 1800, autonomous: true, interval: 600 } });
    expect(raClones(y)[0]!.child.params).toEqual([
      ['interface', 'eth0'], ['prefixes', '2001:db8:a::/64'], ['managed', 'false'], ['other', 'true'], ['router_lifetime', '1800'], ['autonomous', 'true'], ['interval', '600'],
    ]);
    // a mapping with some keys: the rest default
    expect(raClones(withV6({ prefix: '2001:db8:a::/64', ra: { router_lifetime: 60 } }))[0]!.child.params).toContainEqual(['managed', 'true']);
  });

  it('off: a plain prefix, ra: false, or no ra key; the prefix itself works the same either way', () => {
    for (const v6 of ['2001:db8:a::/64', { prefix: '2001:db8:a::/64', ra: false }, { prefix: '2001:db8:a::/64' }]) {
      const y = withV6(v6);
      expect(raClones(y), JSON.stringify(v6)).toEqual([]);
      expect(parseDescription(y).networks.find((n) => n.name === 'a')!.ipv6!.text).toBe('2001:db8:a::/64');
    }
  });

  it('a clone on both heads in both modes (not tied to a VIP, no constraint names it)', () => {
    for (const f of ['active-standby.yaml', 'active-active.yaml', 'lab.yaml', 'lab-active-active.yaml']) {
      const cfg = buildConfig(parseDescription(text(f)));
      const ra = cfg.clones.filter((c) => c.child.agent === 'ocf:ha-oscar:radvd');
      expect(ra, f).toHaveLength(1);
      const ids = [ra[0]!.id, ra[0]!.child.id];
      expect(cfg.constraints.filter((c) => JSON.stringify(c).match(new RegExp(`"(${ids.join('|')})"`))), f).toEqual([]);
      expect(renderCrm(cfg), f).toContain(`clone ${ra[0]!.id} ${ra[0]!.child.id} \\\n\tmeta interleave=true`);
    }
  });

  it('two networks with RA: one clone each, named after the network', () => {
    const y = withV6({ prefix: '2001:db8:a::/64', ra: true }, (d) => { d.networks.b.ipv6 = { prefix: '2001:db8:b::/64', ra: { managed: false } }; });
    expect(raClones(y).map((c) => [c.id, c.child.params[0]![1], c.child.params[1]![1]])).toEqual([['radvd-a-clone', 'eth0', '2001:db8:a::/64'], ['radvd-b-clone', 'eth1', '2001:db8:b::/64']]);
  });

  it('every bad value: one line naming the key', () => {
    const P = 'networks.a.ipv6';
    const cases: [unknown, ((d: any) => void) | undefined, string][] = [
      [{ prefix: '2001:db8:a::/64', ra: { router_lifetime: 10 } }, undefined, `${P}.ra.router_lifetime: 10 s is shorter than interval (30 s): must be 0 (not a default router) or at least interval (RFC 4861)`],
      [{ prefix: '2001:db8:a::/64', ra: { router_lifetime: 9001 } }, undefined, `${P}.ra.router_lifetime: must be between 0 and 9000`],
      [{ prefix: '2001:db8:a::/64', ra: { router_lifetime: -1 } }, undefined, `${P}.ra.router_lifetime: must be between 0 and 9000`],
      [{ prefix: '2001:db8:a::/64', ra: { interval: 3 } }, undefined, `${P}.ra.interval: must be between 4 and 1800`],
      [{ prefix: '2001:db8:a::/64', ra: { interval: '30s' } }, undefined, `${P}.ra.interval: must be an integer`],
      [{ prefix: '2001:db8:a::/64', ra: { managed: 'yes' } }, undefined, `${P}.ra.managed: must be true or false`],
      [{ prefix: '2001:db8:a::/64', ra: { autonomus: true } }, undefined, `${P}.ra.autonomus: unknown key (allowed: managed, other, router_lifetime, autonomous, interval)`],
      [{ prefix: '2001:db8:a::/64', ra: 'yes' }, undefined, `${P}.ra: must be true, false or a mapping (managed, other, router_lifetime, autonomous, interval)`],
      [{ prefix: '2001:db8:a::/56', ra: { autonomous: true } }, (d) => { d.heads[0].addresses.a.ipv6 = '2001:db8:a::11'; }, `${P}.ra.autonomous: SLAAC needs a /64 prefix, and 2001:db8:a::/56 is not one`],
      [{ prefix: '2001:db8:a::/64', ra: true }, (d) => { delete d.networks.a.interface; }, `${P}.ra: needs networks.a.interface (the interface radvd advertises on, on both heads)`],
      [{ ra: true }, undefined, `${P}.prefix: missing`],
      [{ prefix: '2001:db8:a::/64', ra: true, slaac: true }, undefined, `${P}.slaac: unknown key (allowed: prefix, ra)`],
      [{ prefix: '2001:db8:a::/129', ra: true }, undefined, `${P}.prefix:`],
      [{ prefix: 'fe80::/64', ra: true }, undefined, `${P}.ra: fe80::/64 is link-local: every interface has fe80::/64 already, there is nothing to advertise`],
      [{ prefix: 'ff05::/64', ra: true }, undefined, `${P}.ra: ff05::/64 is multicast, not a prefix to advertise`],
    ];
    for (const [v6, edit, want] of cases) {
      const got = problems(withV6(v6, edit)).filter((p) => p.startsWith(P));
      expect(got, JSON.stringify(v6)).toHaveLength(1);
      expect(got[0], JSON.stringify(v6)).toContain(want);
      expect(got[0]).not.toMatch(/\n/);
    }
  });

  it('router_lifetime equal to interval, and 0 with any interval, are accepted', () => {
    expect(problems(withV6({ prefix: '2001:db8:a::/64', ra: { router_lifetime: 30, interval: 30 } }))).toEqual([]);
    expect(problems(withV6({ prefix: '2001:db8:a::/64', ra: { router_lifetime: 0, interval: 1800 } }))).toEqual([]);
  });
});

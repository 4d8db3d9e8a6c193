// The lab descriptions (examples/lab.yaml, examples/lab-active-active.yaml) against the lab
// itself (src/lab: addresses, PDU, the paths its services use), and the description keys the
// lab needed: inline NFS exports, a fence community kept as a Pacemaker CIB secret (lrm://),
// fence_haoscar's power/login timeouts, fencing.action and fencing.timeout.
import { describe, it, expect } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { parseDescription, DescriptionError, durationS, type Description } from '../../src/crm/describe';
import { buildConfig, delayDevice } from '../../src/crm/model';
import { renderCrm } from '../../src/crm/render-crm';
import { HEADS, NET, VIP4, VIP6, addr4, addr6 } from '../../src/lab/spec';
import { LAB_HEURISTICS, PDU_ADDR, PDU_OUTLETS, PRIORITY_FENCING_DELAY_S, FENCE_PROPS, labFenceCrm, labHeads } from '../../src/lab/fence';
import { AGENTX_SOCKET, DHCP_STATE, LAB_DIR, NFS_EXPORT } from '../../src/lab/services';
import { LAB_SHARED } from '../../src/lab/spec';

const root = join(__dirname, '..', '..');
const text = (f: string) => readFileSync(join(root, 'examples', f), 'utf8');
const LAB_FILES = ['lab.yaml', 'lab-active-active.yaml'];

function problems(base: string, edit: (d: any) => void): string[] {
  const d = parse(text(base));
  edit(d);
  try { parseDescription(stringify(d)); return []; } catch (e) {
    if (!(e instanceof DescriptionError)) throw e;
    return e.problems;
  }
}
function edited(base: string, edit: (d: any) => void): Description {
  const d = parse(text(base));
  edit(d);
  return parseDescription(stringify(d));
}
const params = (d: Description, id: string) => new Map(buildConfig(d).primitives.find((p) => p.id === id)!.params);

describe('the lab descriptions describe the lab (src/lab)', () => {
  for (const f of LAB_FILES) {
    describe(f, () => {
      const d = parseDescription(text(f), f);
      const cfg = buildConfig(d);
      it('heads, networks and interfaces as the lab makes them', () => {
        expect(d.heads.map((h) => h.name)).toEqual([...HEADS]);
        for (const h of d.heads) {
          const n = h.name as (typeof HEADS)[number];
          expect(h.addresses.a?.ipv4?.text).toBe(addr4(n, 'A'));
          expect(h.addresses.a?.ipv6?.text).toBe(addr6(n, 'A'));
          expect(h.addresses.b?.ipv4?.text).toBe(addr4(n, 'B'));
          expect(h.addresses.b?.ipv6?.text).toBe(addr6(n, 'B'));
          expect(h.addresses.m?.ipv4?.text).toBe(addr4(n, 'M'));
          expect(h.addresses.m?.ipv6?.text).toBe(addr6(n, 'M'));
        }
        const a = d.networks.find((n) => n.name === 'a')!; const b = d.networks.find((n) => n.name === 'b')!;
        expect([a.ipv4!.text, a.ipv6!.text, a.interface, a.services]).toEqual([`${NET.A.v4prefix}0/${NET.A.v4len}`, `${NET.A.v6prefix}/${NET.A.v6len}`, 'eth0', true]);
        expect([b.ipv4!.text, b.ipv6!.text, b.interface, b.services]).toEqual([`${NET.B.v4prefix}0/${NET.B.v4len}`, `${NET.B.v6prefix}/${NET.B.v6len}`, 'eth1', false]);
        const m = d.networks.find((n) => n.name === 'm')!;
        expect([m.ipv4!.text, m.ipv6!.text, m.interface, m.services]).toEqual([`${NET.M.v4prefix}0/${NET.M.v4len}`, `${NET.M.v6prefix}/${NET.M.v6len}`, 'eth2', false]);
        expect(d.corosync.links).toEqual(['a', 'b']); // the lab's ring0 is net A; no corosync on M
      });
      it('the first set has the lab\'s VIPs; the services use the paths the lab provides', () => {
        expect(d.sets[0].vips.map((v) => v.addr.text)).toEqual([VIP4, VIP6]);
        expect(params(d, 'dhcpd4').get('config')).toBe(`${LAB_DIR}/dhcpd.conf`);
        expect(params(d, 'dhcpd6').get('config')).toBe(`${LAB_DIR}/dhcpd6.conf`);
        expect(params(d, 'dhcpd4').get('state_dir')).toBe(DHCP_STATE[4]);
        expect(params(d, 'dhcpd6').get('state_dir')).toBe(DHCP_STATE[6]);
        expect(params(d, 'dhcpd4').get('server_id')).toBe(VIP4); // the lab's dhcpd.conf answers as VIP4
        expect(params(d, 'nfsserver').get('exports')).toMatch(new RegExp(`^${NFS_EXPORT} `));
        expect(params(d, 'nfsserver').get('state_dir')!.startsWith(`${LAB_SHARED}/`)).toBe(true);
        expect(params(d, 'nfsserver').get('server')).toBe('ganesha');
        expect(params(d, 'ntpd').get('clock_control')).toBe('false');
        expect(params(d, 'snmpd').get('agentx_socket')).toBe(AGENTX_SOCKET);
        expect(params(d, 'tftpd').get('root')).toBe('/srv/tftp');
      });
      it('fencing through the lab PDU, the community kept out of the CIB, the lab\'s fencing properties', () => {
        const devs = cfg.primitives.filter((p) => p.agent === 'stonith:fence_haoscar');
        expect(devs.map((p) => p.id)).toEqual(PDU_OUTLETS.map((h) => `fence-${h}`));
        PDU_OUTLETS.forEach((h, i) => {
          const ps = new Map(devs[i]!.params);
          expect(ps.get('ip')).toBe(PDU_ADDR.v4); // on the management net M
          expect(ps.get('pcmk_host_map')).toBe(`${h}:${i + 1}`);
          expect(ps.get('community')).toBe('lrm://');
        });
        const props = new Map(cfg.properties);
        expect(props.get('stonith-enabled')).toBe(FENCE_PROPS['stonith-enabled']);
        expect(props.get('stonith-action')).toBe(FENCE_PROPS['stonith-action']);
        expect(props.get('stonith-timeout')).toBe(FENCE_PROPS['stonith-timeout']);
        // the split-brain delay is fence_haoscar_delay's, only when the target still answers
        expect(props.has('priority-fencing-delay')).toBe(false);
        expect(devs.every((p) => !new Map(p.params).has('pcmk_delay_max'))).toBe(true);
        const delay = cfg.primitives.find((p) => p.agent === 'stonith:fence_haoscar_delay')!;
        expect(delay.id).toBe('fence-delay');
        const dp = new Map(delay.params);
        expect(dp.get('priority_delay')).toBe(String(PRIORITY_FENCING_DELAY_S));
        expect(dp.get('tie_delay_max')).toBe(String(durationS(d.fencing.delayMax)));
        expect(dp.get('pcmk_host_list')).toBe('head1 head2');
        // every address of each head, on A, B and M: the lab's own heads exactly
        expect(dp.get('peers')).toBe(PDU_OUTLETS.map((h) => `${h}=${(['A', 'B', 'M'] as const).flatMap((n) => [addr4(h, n), addr6(h, n)]).join(',')}`).join(';'));
        // active-standby: exactly what the lab loads itself (labFenceCrm)
        if (f === 'lab.yaml') expect(delay).toEqual(delayDevice(labHeads(), { priorityDelay: `${PRIORITY_FENCING_DELAY_S}s` }));
      });
      it('the fencing heuristic is the lab\'s own (ping the client), first in each head\'s level', () => {
        expect(d.fencing.heuristics).toEqual(LAB_HEURISTICS);
        const h = cfg.primitives.find((p) => p.agent === 'stonith:fence_heuristics_ping')!;
        expect(h.id).toBe('fence-heuristic');
        expect(new Map(h.params).get('ping_targets')).toBe(addr4('client', 'A'));
        expect(cfg.constraints.some((c) => c.kind === 'location' && c.rsc === h.id)).toBe(false); // usable on both heads
        expect(cfg.fencingLevels).toEqual(PDU_OUTLETS.map((x) => ({ target: x, index: 1, devices: ['fence-heuristic', 'fence-delay', `fence-${x}`] })));
      });
      it('link health on eth0, pinging the client (never a head); no RAID (the lab has no md devices)', () => {
        expect(d.health.link).toMatchObject({ interfaces: 'eth0', targets: `${addr4('client', 'A')} ${addr6('client', 'A')}` });
        expect(d.health.raid).toBeUndefined();
        expect(cfg.clones.map((c) => c.id)).toEqual(['linkmon-clone', 'radvd-a-clone']);
      });
    });
  }
  it('active-active: dhcp+tftp on head1 with the lab VIPs, nfs+ntp+snmp on head2 with the second pair', () => {
    const d = parseDescription(text('lab-active-active.yaml'));
    expect(d.mode).toBe('active-active');
    expect(d.sets.map((s) => [s.name, s.prefer, s.vips.map((v) => v.addr.text), s.services])).toEqual([
      ['boot', 'head1', [VIP4, VIP6], ['dhcp', 'tftp']],
      ['data', 'head2', ['192.0.2.101', '2001:db8:a::101'], ['nfs', 'ntp', 'snmp']],
    ]);
  });
});

describe('nfs exports: a file, or inline export lines', () => {
  const base = 'lab.yaml';
  it('a list of export lines becomes the agent\'s inline form ("; " between exports, single spaces)', () => {
    const d = edited(base, (x) => { x.services.nfs.exports = ['/srv/home   192.0.2.0/24(rw,no_root_squash)', '/srv/sw *(ro)']; });
    expect(params(d, 'nfsserver').get('exports')).toBe('/srv/home 192.0.2.0/24(rw,no_root_squash); /srv/sw *(ro)');
    expect(renderCrm(buildConfig(d))).toContain('exports="/srv/home 192.0.2.0/24(rw,no_root_squash); /srv/sw *(ro)"');
  });
  it('one string: an exports file, or inline exports', () => {
    expect(params(edited(base, (x) => { x.services.nfs.exports = '/etc/ha-oscar/exports'; }), 'nfsserver').get('exports')).toBe('/etc/ha-oscar/exports');
    expect(params(edited(base, (x) => { x.services.nfs.exports = '/srv 2001:db8:a::/64(rw)'; }), 'nfsserver').get('exports')).toBe('/srv 2001:db8:a::/64(rw)');
  });
  it('bad exports: the item and the reason', () => {
    expect(problems(base, (x) => { x.services.nfs.exports = ['/srv 192.0.2.0/33(rw)']; }))
      .toEqual(['services.nfs.exports[0]: export: /srv: bad client network "192.0.2.0/33" (IPv4/0-32, IPv4/netmask or IPv6/0-128)']);
    expect(problems(base, (x) => { x.services.nfs.exports = ['/srv *(rw)', '/srv 192.0.2.1(ro)']; }))
      .toEqual(['services.nfs.exports: exports /srv twice (list all its clients on one entry)']);
    expect(problems(base, (x) => { x.services.nfs.exports = ['/srv *(rw); /sw *(ro)']; }))
      .toEqual(["services.nfs.exports[0]: not a valid export line (one export per item, no \";\"): '/srv *(rw); /sw *(ro)'"]);
    expect(problems(base, (x) => { x.services.nfs.exports = ['/srv']; }))
      .toEqual(["services.nfs.exports[0]: not an export line (PATH CLIENT(OPTIONS) ...): '/srv'"]);
    expect(problems(base, (x) => { x.services.nfs.exports = 'exports'; }))
      .toEqual([`services.nfs.exports: must be an absolute exports file path or inline exports like "/srv/home 192.0.2.0/24(rw)": 'exports'`]);
    expect(problems(base, (x) => { x.services.nfs.exports = []; })).toEqual(['services.nfs.exports: must not be empty']);
  });
});

describe('fencing keys the lab needed', () => {
  const base = 'lab.yaml';
  it('community lrm:// (a Pacemaker CIB secret) only for the community, and exactly that', () => {
    expect(problems(base, (x) => { x.fencing.devices.head1.plug = 'lrm://'; }))
      .toEqual(['fencing.devices.head1.plug: lrm:// (a Pacemaker CIB secret) is only for community']);
    expect(problems(base, (x) => { x.fencing.devices.head1.community = 'lrm://x'; }))
      .toEqual(["fencing.devices.head1.community: write exactly 'lrm://' (the value itself goes into /var/lib/pacemaker/lrm/secrets/<device>/community on both heads: cibsecret set)"]);
    // a literal community is still accepted (it then sits in the CIB)
    const d = edited(base, (x) => { x.fencing.devices.head1.community = 'private'; });
    expect(params(d, 'fence-head1').get('community')).toBe('private');
  });
  it('power_timeout and login_timeout go to fence_haoscar, for snmp and ipmi devices', () => {
    const d = parseDescription(text(base));
    expect(params(d, 'fence-head1').get('power_timeout')).toBe('30');
    expect(params(d, 'fence-head1').get('login_timeout')).toBe('5');
    const i = edited(base, (x) => { x.fencing.devices.head2 = { method: 'ipmi', ip: '198.51.100.200', username: 'u', password_script: '/usr/local/sbin/pw', login_timeout: 7 }; });
    expect(params(i, 'fence-head2').get('login_timeout')).toBe('7');
    expect(problems(base, (x) => { x.fencing.devices.head1.power_timeout = 'long'; })).toEqual(['fencing.devices.head1.power_timeout: must be an integer']);
  });
  it('fencing.action -> stonith-action, fencing.timeout -> stonith-timeout; absent: not set', () => {
    const d = edited(base, (x) => { x.fencing.action = 'reboot'; x.fencing.timeout = '2min'; });
    expect(new Map(buildConfig(d).properties).get('stonith-action')).toBe('reboot');
    expect(new Map(buildConfig(d).properties).get('stonith-timeout')).toBe('2min');
    const none = new Map(buildConfig(edited(base, (x) => { delete x.fencing.action; delete x.fencing.timeout; })).properties);
    expect(none.has('stonith-action')).toBe(false);
    expect(none.has('stonith-timeout')).toBe(false);
    expect(problems(base, (x) => { x.fencing.action = 'poweroff'; })).toEqual(["fencing.action: must be off or reboot: 'poweroff'"]);
    expect(problems(base, (x) => { x.fencing.timeout = 'soon'; })).toEqual(["fencing.timeout: not a duration (like 30s, 2min, 1h): 'soon'"]);
  });
});

describe('fencing.heuristics (fence_heuristics_ping)', () => {
  const base = 'lab.yaml';
  const crmOf = (d: Description) => renderCrm(buildConfig(d));
  it('defaults, all keys, IPv6 targets bare (the agent\'s inet6: prefix breaks on the address\'s colons)', () => {
    const d = edited(base, (x) => { x.fencing.heuristics = { ping: ['192.0.2.20', '2001:db8:a::20'] }; });
    expect(params(d, 'fence-heuristic')).toEqual(new Map([['ping_targets', '192.0.2.20,2001:db8:a::20'], ['ping_count', '3'], ['ping_good_count', '2'],
      ['ping_interval', '1'], ['ping_timeout', '1'], ['ping_maxfail', '0'], ['pcmk_host_argument', 'none']]));
    const all = edited(base, (x) => { x.fencing.heuristics = { ping: ['192.0.2.20', '192.0.2.21'], count: 5, good: 4, interval: 2, timeout: 3, maxfail: 1 }; });
    expect(crmOf(all)).toContain('primitive fence-heuristic stonith:fence_heuristics_ping \\\n\tparams ping_targets=192.0.2.20,192.0.2.21 ping_count=5 ping_good_count=4 ping_interval=2 ping_timeout=3 ping_maxfail=1 pcmk_host_argument=none');
    expect(crmOf(all)).toContain('fencing_topology head1: fence-heuristic,fence-delay,fence-head1 head2: fence-heuristic,fence-delay,fence-head2');
  });
  it('without heuristics: no heuristic device; the levels hold the delay device, or nothing with delay.when=always (one device per head)', () => {
    const cfg = buildConfig(edited(base, (x) => { delete x.fencing.heuristics; }));
    expect(cfg.primitives.some((p) => p.id === 'fence-heuristic')).toBe(false);
    expect(cfg.fencingLevels.map((l) => l.devices)).toEqual([['fence-delay', 'fence-head1'], ['fence-delay', 'fence-head2']]);
    const always = buildConfig(edited(base, (x) => { delete x.fencing.heuristics; x.fencing.delay.when = 'always'; }));
    expect(always.fencingLevels).toEqual([]);
  });
  it('two devices for a head and a heuristic: one level, the heuristic first', () => {
    const cfg = buildConfig(edited(base, (x) => { x.fencing.devices.head1 = [x.fencing.devices.head1, { ...x.fencing.devices.head1, ip: '203.0.113.251' }]; }));
    expect(cfg.fencingLevels.find((l) => l.target === 'head1')!.devices).toEqual(['fence-heuristic', 'fence-delay', 'fence-head1', 'fence-head1-2']);
  });
  it('every bad value: one line naming the key', () => {
    const bad = (h: unknown) => problems(base, (x) => { x.fencing.heuristics = h; });
    expect(bad({ count: 3 })).toEqual(['fencing.heuristics.ping: missing']);
    expect(bad({ ping: [] })).toEqual(["fencing.heuristics.ping: must list at least one address to ping (a compute node, a switch on the compute nodes' net)"]);
    expect(bad({ ping: ['client1'] })).toEqual(["fencing.heuristics.ping[0]: not an IP address (host names are not accepted: fencing must not depend on DNS): 'client1'"]);
    expect(bad({ ping: ['192.0.2.20', '192.0.2.20'] })).toEqual(['fencing.heuristics.ping[1]: 192.0.2.20 listed twice']);
    expect(bad({ ping: ['192.0.2.11'] })).toEqual(['fencing.heuristics.ping[0]: 192.0.2.11 is heads[0].addresses.a.ipv4: a head answers its own addresses and the VIPs it holds, so the heuristic would pass on a cut-off head']);
    expect(bad({ ping: ['192.0.2.100'] })).toEqual(['fencing.heuristics.ping[0]: 192.0.2.100 is sets[0].vips[0]: a head answers its own addresses and the VIPs it holds, so the heuristic would pass on a cut-off head']);
    expect(bad({ ping: ['203.0.113.250'] })).toEqual(['fencing.heuristics.ping[0]: 203.0.113.250 is the fence device of head1: a head cut from the compute nodes may still reach it']);
    expect(bad({ ping: '192.0.2.20', count: 0 })).toEqual(['fencing.heuristics.count: must be between 1 and 100']);
    expect(bad({ ping: '192.0.2.20', count: 3, good: 4 })).toEqual(['fencing.heuristics.good: 4 good replies out of 3 pings (count) can never happen']);
    expect(bad({ ping: '192.0.2.20', interval: 0.5 })).toEqual(['fencing.heuristics.interval: must be an integer']);
    expect(bad({ ping: '192.0.2.20', timeout: '2s' })).toEqual(['fencing.heuristics.timeout: must be an integer']);
    expect(bad({ ping: ['192.0.2.20'], maxfail: 1 })).toEqual(['fencing.heuristics.maxfail: 1 failed targets allowed out of 1: the heuristic would always pass']);
    expect(bad({ ping: '192.0.2.20', every: 1 })).toEqual(['fencing.heuristics.every: unknown key (allowed: ping, count, good, interval, timeout, maxfail)']);
    expect(bad('192.0.2.20')).toEqual(['fencing.heuristics: must be a mapping']);
  });
  it('the lab loads the same heuristic device and levels (src/lab/fence.ts through the generator)', () => {
    const d = parseDescription(text(base));
    const crm = crmOf(d);
    const heur = crm.split('\n').slice(crm.split('\n').findIndex((l) => l.startsWith('primitive fence-heuristic'))).join('\n').split(/\n(?=\S)/)[0];
    // labFenceCrm reads the lab's community: give it a state dir with one
    const dir = mkdtempSync(join(tmpdir(), 'mg-fence-'));
    try {
      writeFileSync(join(dir, 'pdu.community'), 'c0ffee\n');
      const lab = labFenceCrm({ name: 'x', repo: root, stateDir: dir });
      expect(lab).toContain(heur);
      expect(lab).toContain('fencing_topology head1: fence-heuristic,fence-delay,fence-head1 head2: fence-heuristic,fence-delay,fence-head2');
      expect(lab).toContain(`ip=${PDU_ADDR.v4}`);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

describe('fencing.delay: the split-brain delays, only while the target still answers (fence_haoscar_delay)', () => {
  const base = 'lab.yaml';
  it('default (when: peer-answers): one fence-delay device with every head address; no priority-fencing-delay, pcmk_delay_max or priority meta', () => {
    const cfg = buildConfig(edited(base, (x) => { delete x.fencing.delay; }));
    expect(cfg.properties.some(([k]) => k === 'priority-fencing-delay')).toBe(false);
    expect(cfg.primitives.some((p) => new Map(p.params).has('pcmk_delay_max') || p.meta.some(([k]) => k === 'priority'))).toBe(false);
    const dp = new Map(cfg.primitives.find((p) => p.id === 'fence-delay')!.params);
    // the generator's defaults: priority 15s, max 5s
    expect([dp.get('priority_delay'), dp.get('tie_delay_max')]).toEqual(['15', '5']);
    expect(dp.get('peers')).toBe('head1=192.0.2.11,2001:db8:a::11,198.51.100.11,2001:db8:b::11,203.0.113.11,2001:db8:c::11;' +
      'head2=192.0.2.12,2001:db8:a::12,198.51.100.12,2001:db8:b::12,203.0.113.12,2001:db8:c::12');
    expect(cfg.constraints.some((c) => c.kind === 'location' && c.rsc === 'fence-delay')).toBe(false); // usable on both heads
    const ms = buildConfig(edited(base, (x) => { x.fencing.delay = { priority: '1500ms', max: '1min' }; }));
    const mp = new Map(ms.primitives.find((p) => p.id === 'fence-delay')!.params);
    expect([mp.get('priority_delay'), mp.get('tie_delay_max')]).toEqual(['1.5', '60']);
  });
  it('when: always: Pacemaker\'s own priority-fencing-delay, pcmk_delay_max and priority=10 on the services, no fence-delay', () => {
    const cfg = buildConfig(edited(base, (x) => { x.fencing.delay = { priority: '15s', max: '5s', when: 'always' }; }));
    expect(new Map(cfg.properties).get('priority-fencing-delay')).toBe('15s');
    expect(new Map(cfg.primitives.find((p) => p.id === 'fence-head1')!.params).get('pcmk_delay_max')).toBe('5s');
    expect(new Map(cfg.primitives.find((p) => p.id === 'dhcpd4')!.meta).get('priority')).toBe('10');
    expect(cfg.primitives.some((p) => p.id === 'fence-delay')).toBe(false);
    expect(cfg.fencingLevels.map((l) => l.devices)).toEqual([['fence-heuristic', 'fence-head1'], ['fence-heuristic', 'fence-head2']]);
  });
  it('a bad when: one line naming the key', () => {
    expect(problems(base, (x) => { x.fencing.delay.when = 'sometimes'; })).toEqual(["fencing.delay.when: must be peer-answers or always: 'sometimes'"]);
  });
});

describe('start and stop operations', () => {
  it('every service and health primitive has start and stop with the agent\'s timeouts, before its monitors', () => {
    const cfg = buildConfig(parseDescription(text('lab.yaml')));
    const nfs = cfg.primitives.find((p) => p.id === 'nfsserver')!;
    expect(nfs.ops.slice(0, 2)).toEqual([{ name: 'start', interval: '0s', timeout: '60s' }, { name: 'stop', interval: '0s', timeout: '60s' }]);
    for (const p of [...cfg.primitives.filter((x) => x.agent.startsWith('ocf:ha-oscar:')), ...cfg.clones.map((c) => c.child)]) {
      expect(p.ops.map((o) => o.name).slice(0, 2), p.id).toEqual(['start', 'stop']);
    }
    expect(renderCrm(cfg)).toContain('primitive nfsserver ocf:ha-oscar:nfsserver \\\n\tparams');
    expect(renderCrm(cfg)).toMatch(/op start interval=0s timeout=60s \\\n\top stop interval=0s timeout=60s \\\n\top monitor interval=10s/);
  });
});

// The cluster description: what is accepted, and the precise error for what is not.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { parseDescription, DescriptionError } from '../../src/crm/describe';
import { parseAddr, parseCidr, contains } from '../../src/service/ip';

const root = join(__dirname, '..', '..');
const labText = readFileSync(join(root, 'examples', 'active-standby-pdu.yaml'), 'utf8');

/** The active-standby-pdu example, changed by `edit`, then validated: the list of problems (empty when valid). */
function problems(edit: (d: any) => void): string[] {
  const d = parse(labText);
  edit(d);
  try {
    parseDescription(stringify(d));
    return [];
  } catch (e) {
    if (!(e instanceof DescriptionError)) throw e;
    return e.problems;
  }
}

describe('ip helpers', () => {
  it('canonicalises IPv6 so that spellings of one address compare equal', () => {
    expect(parseAddr('2001:DB8:a:0:0::11')!.text).toBe('2001:db8:a::11');
    expect(parseAddr('2001:db8:0:0:1:0:0:1')!.text).toBe('2001:db8::1:0:0:1');
    expect(parseAddr('::ffff:192.0.2.1')!.text).toBe('::ffff:c000:201');
    expect(parseAddr('192.0.2.300')).toBeUndefined();
    expect(parseAddr('fe80::1%eth0')).toBeUndefined();
  });
  it('tests containment per family and rejects host bits in a network', () => {
    const n = parseCidr('198.51.100.0/24');
    if (typeof n === 'string') throw new Error(n);
    expect(contains(n, parseAddr('198.51.100.7')!)).toBe(true);
    expect(contains(n, parseAddr('198.51.101.7')!)).toBe(false);
    expect(contains(n, parseAddr('2001:db8::1')!)).toBe(false);
    expect(parseCidr('192.0.2.1/24')).toMatch(/host bits/);
    expect(parseCidr('2001:db8:a::/129')).toMatch(/longer than 128/);
  });
});

describe('valid descriptions', () => {
  it('the active-standby-pdu example parses, with defaults filled in', () => {
    const d = parseDescription(labText);
    expect(d.cluster.name).toBe('oscar-pdu');
    expect(d.heads.map((h) => [h.name, h.nodeid])).toEqual([['head1', 1], ['head2', 2]]);
    expect(d.corosync).toEqual({ links: ['b', 'a'], family: 'ipv4', cipher: 'aes256', hash: 'sha256' });
    expect(d.sets[0].vips.map((v) => v.addr.text)).toEqual(['192.0.2.100', '2001:db8:a::100']);
    expect(d.fencing.enabled).toBe(true);
    expect(d.fencing.devices.map((x) => x.head)).toEqual(['head1', 'head2']);
  });
  it('every example in examples/ is valid', () => {
    for (const f of ['lab.yaml', 'lab-active-active.yaml', 'active-standby-pdu.yaml', 'active-standby.yaml', 'active-active.yaml']) {
      expect(() => parseDescription(readFileSync(join(root, 'examples', f), 'utf8'), f), f).not.toThrow();
    }
  });
  it('fencing is required: without a fencing section the description is refused (switching it off must be explicit)', () => {
    const out = problems((d) => { delete d.fencing; });
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^fencing: /);
  });
  it('fencing can be described but switched off: no device needed', () => {
    expect(problems((d) => { d.fencing = { enabled: false }; })).toEqual([]);
  });
});

describe('bad descriptions get precise errors naming the field', () => {
  it('a duplicate address (the same IPv6 address spelt differently)', () => {
    expect(problems((d) => { d.heads[1].addresses.a.ipv6 = '2001:DB8:A:0::11'; }))
      .toEqual(['heads[1].addresses.a.ipv6: duplicate address 2001:db8:a::11 (also heads[0].addresses.a.ipv6)']);
  });
  it('a VIP that duplicates a head address', () => {
    expect(problems((d) => { d.sets[0].vips[0] = '192.0.2.12'; }))
      .toEqual(['sets[0].vips[0]: duplicate address 192.0.2.12 (also heads[1].addresses.a.ipv4)']);
  });
  it('a VIP outside every network', () => {
    expect(problems((d) => { d.sets[0].vips[1] = '2001:db8:c::100'; }))
      .toEqual(['sets[0].vips[1]: VIP 2001:db8:c::100 is outside every network (ipv6 networks: 2001:db8:a::/64, 2001:db8:b::/64)']);
  });
  it('a missing fence device while fencing is on', () => {
    expect(problems((d) => { delete d.fencing.devices.head2; }))
      .toEqual(["fencing.devices.head2: missing: fencing is on, so head 'head2' needs a fence device (a PDU outlet or IPMI)"]);
  });
  it('a fence device for a head that does not exist', () => {
    expect(problems((d) => { d.fencing.devices.head3 = d.fencing.devices.head2; }))
      .toEqual(['fencing.devices.head3: unknown key (allowed: head1, head2)']);
  });
  it('a fence device on a head or VIP address', () => {
    expect(problems((d) => { d.fencing.devices.head2.ip = '192.0.2.11'; }))
      .toEqual(['fencing.devices.head2.ip: 192.0.2.11 is heads[0].addresses.a.ipv4: a fence device needs its own address']);
  });
  it('a literal fence password', () => {
    const p = problems((d) => { d.fencing.devices.head1 = { method: 'ipmi', ip: '192.0.2.201', username: 'u', password: 'secret' }; });
    expect(p[0]).toBe('fencing.devices.head1.password: a literal password is not accepted (it would sit in the CIB): give password_script, a program that prints it');
    expect(p.join('\n')).not.toContain('secret');
  });
  it('an unknown service, in a set and in services', () => {
    expect(problems((d) => { d.sets[0].services.push('ldap'); }))
      .toEqual(["sets[0].services[6]: unknown service 'ldap' (known: dhcp, tftp, ntp, nfs, snmp, statesync)"]);
    expect(problems((d) => { d.services.ldap = {}; }))
      .toEqual(['services.ldap: unknown key (allowed: dhcp, tftp, ntp, nfs, snmp, statesync)']);
  });
  it('addresses of the wrong family', () => {
    expect(problems((d) => { d.heads[1].addresses.b.ipv6 = '198.51.100.13'; }))
      .toEqual(["heads[1].addresses.b.ipv6: not an IPv6 address: '198.51.100.13'"]);
    expect(problems((d) => { d.networks.a.ipv4 = '2001:db8:a::/64'; }))
      .toContain("networks.a.ipv4: not an IPv4 network: '2001:db8:a::/64'");
  });
  it('a head address outside its network', () => {
    expect(problems((d) => { d.heads[0].addresses.b.ipv4 = '192.0.2.13'; }))
      .toEqual(['heads[0].addresses.b.ipv4: 192.0.2.13 is outside networks.b.ipv4 (198.51.100.0/24)']);
  });
  it('unknown keys, at any depth', () => {
    expect(problems((d) => { d.colour = 'blue'; })[0]).toMatch(/^colour: unknown key \(allowed: cluster, mode/);
    expect(problems((d) => { d.services.tftp.rot = '/srv/tftp'; })[0]).toBe('services.tftp.rot: unknown key (allowed: root, listen, port, secure, user, blocksize_max)');
    expect(problems((d) => { d.services.dhcp.v4.lease = 'x'; })[0]).toMatch(/^services\.dhcp\.v4\.lease: unknown key/);
    expect(problems((d) => { d.timings.tokn = 1; })[0]).toMatch(/^timings\.tokn: unknown key/);
  });
  it('wrong values for agent parameters, by the table', () => {
    expect(problems((d) => { d.services.ntp.server = 'ntpd'; })).toEqual(["services.ntp.server: must be one of chrony, ntpsec: 'ntpd'"]);
    expect(problems((d) => { d.services.tftp.root = 'srv/tftp'; })).toEqual(["services.tftp.root: not a valid absolute path: 'srv/tftp'"]);
    expect(problems((d) => { d.services.tftp.secure = 'yes'; })).toEqual(['services.tftp.secure: must be true or false']);
    expect(problems((d) => { d.health.link.targets = ['192.0.2.1', 'gateway']; })).toEqual(["health.link.targets[1]: not an IP address: 'gateway'"]);
  });
  it('mode and sets must agree', () => {
    expect(problems((d) => { d.mode = 'active-active'; })).toEqual(['sets: active-active needs exactly 2 service sets, found 1']);
    expect(problems((d) => {
      d.mode = 'active-active';
      d.sets[0].services = ['dhcp', 'tftp', 'statesync'];
      d.sets.push({ name: 'data', prefer: 'head1', vips: ['192.0.2.101'], services: ['ntp', 'nfs', 'snmp'] });
    })).toEqual(["sets[1].prefer: both sets prefer 'head1'; active-active needs one set per head"]);
    expect(problems((d) => {
      d.mode = 'active-active';
      d.sets[0].services = ['dhcp', 'tftp', 'ntp', 'statesync'];
      d.sets.push({ name: 'data', prefer: 'head2', vips: ['192.0.2.101'], services: ['ntp', 'nfs', 'snmp'] });
    })).toEqual(["sets[1].services[0]: service 'ntp' is already in sets[0].services[2]"]);
  });
  it('corosync links must name described networks, with an address of the chosen family', () => {
    expect(problems((d) => { d.corosync.links = ['b', 'c']; })).toEqual(["corosync.links[1]: unknown network 'c' (described: a, b)"]);
    expect(problems((d) => { delete d.networks.b.ipv6; delete d.heads[0].addresses.b.ipv6; delete d.heads[1].addresses.b.ipv6; d.corosync.family = 'ipv6'; }))
      .toEqual(["corosync.links[0]: network 'b' has no ipv6 network (corosync.family is ipv6)"]);
  });
  it('exactly one services network', () => {
    expect(problems((d) => { d.networks.b.services = true; }))
      .toEqual(["networks: exactly one network must have 'services: true' (the one that carries the compute-node services and the VIPs); found 2"]);
  });
  it('several problems are all reported, one line each', () => {
    const p = problems((d) => { d.sets[0].vips[0] = '203.0.113.5'; delete d.fencing.devices.head1; d.heads[0].name = 'head 1'; });
    expect(p.length).toBeGreaterThanOrEqual(3);
    for (const line of p) expect(line).not.toContain('\n');
  });
  it('YAML syntax errors give the position', () => {
    expect(() => parseDescription('cluster:\n  name: [x\n', 'c.yaml')).toThrow(/^c\.yaml:\d+:\d+: YAML: /);
    expect(() => parseDescription('cluster: {name: a}\ncluster: {name: b}\n', 'c.yaml')).toThrow(/^c\.yaml:2:1: YAML: .*[Mm]ap keys must be unique/);
  });
});

describe('quorum.device (corosync-qdevice through corosync-qnetd)', () => {
  const withDevice = (dev: unknown, more?: (d: any) => void) => problems((d) => { d.quorum = { device: dev }; more?.(d); });
  const load = (dev: unknown, more?: (d: any) => void) => {
    const d = parse(labText); d.quorum = { device: dev }; more?.(d);
    return parseDescription(stringify(d));
  };
  it('takes a device with the defaults: ffsplit, tie-breaker lowest, TLS on, port 5403, no delays', () => {
    const d = load({ host: '2001:DB8:ff::50' }, (x) => { delete x.fencing.delay; });
    expect(d.quorum.device).toEqual({ host: '2001:db8:ff::50', port: 5403, algorithm: 'ffsplit', tieBreaker: 'lowest', tls: 'on', heuristics: undefined });
    expect(d.fencing.priorityDelay).toBeUndefined();
    expect(d.fencing.delayMax).toBeUndefined();
    // a delay the admin asks for is still kept
    expect(load({ host: 'qnetd.example.org' }).fencing.priorityDelay).toBeDefined();
    // true/false for TLS (YAML 1.1 habits), a head's nodeid as tie-breaker
    expect(load({ host: 'qnetd', tls: false, tie_breaker: 2, algorithm: 'lms' }).quorum.device).toMatchObject({ tls: 'off', tieBreaker: '2', algorithm: 'lms' });
  });
  it('without a device, nothing changes: no quorum key, the delay defaults, the delay required', () => {
    expect(parseDescription(labText).quorum).toEqual({});
    expect(problems((d) => { d.fencing.delay = { priority: 0, max: 0 }; })).toEqual([expect.stringMatching(/^fencing\.delay: at least one of priority or max/)]);
  });
  it('refuses, one line each: a head as qnetd, bad algorithm, tie-breaker, TLS, port', () => {
    const d = parse(labText);
    const headAddr = Object.values(d.heads[0].addresses as Record<string, { ipv4?: string }>).find((a) => a.ipv4)!.ipv4!;
    expect(withDevice({ host: headAddr })).toEqual([expect.stringMatching(new RegExp(`^quorum\\.device\\.host: ${headAddr.replace(/\./g, '\\.')} is .*never on a head`))]);
    expect(withDevice({ host: d.heads[1].name })).toEqual([expect.stringMatching(/^quorum\.device\.host: '.*' is a head/)]);
    expect(withDevice({ host: 'bad host!' })).toEqual([expect.stringMatching(/^quorum\.device\.host: not an IP address or host name/)]);
    expect(withDevice({ host: '192.0.2.50', algorithm: '2nodelms' })).toEqual(['quorum.device.algorithm: must be ffsplit or lms: \'2nodelms\'']);
    expect(withDevice({ host: '192.0.2.50', tie_breaker: 7 })).toEqual([expect.stringMatching(/^quorum\.device\.tie_breaker: must be lowest, highest or the nodeid of a head .*: '7'$/)]);
    expect(withDevice({ host: '192.0.2.50', tls: 'maybe' })).toEqual(['quorum.device.tls: must be on, off or required: \'maybe\'']);
    expect(withDevice({ host: '192.0.2.50', port: 0 })).toEqual(['quorum.device.port: must be between 1 and 65535']);
    expect(withDevice({ host: '192.0.2.50', timeout: 1000 })).toEqual(['quorum.device.timeout: must be between 1250 and 150000']);
    expect(load({ host: '192.0.2.50', timeout: 4000 }).quorum.device).toMatchObject({ timeout: 4000 });
    expect(withDevice({ host: '192.0.2.50', votes: 2 })).toEqual([expect.stringMatching(/^quorum\.device\.votes: unknown key/)]);
    expect(withDevice(undefined, (x) => { x.quorum = { device: { port: 5403 } }; })).toEqual(['quorum.device.host: missing']);
  });
  it('heuristics: ping addresses become execv commands; exec commands without a shell', () => {
    const d = load({ host: '192.0.2.50', heuristics: { mode: 'on', ping: ['203.0.113.250'], exec: { switch2: '/usr/local/bin/check-switch  2' } } });
    expect(d.quorum.device!.heuristics).toEqual({
      mode: 'on',
      exec: [['ping0', '/usr/bin/ping -q -n -c 1 -W 1 203.0.113.250'], ['switch2', '/usr/local/bin/check-switch 2']],
    });
    const h = (heuristics: unknown) => withDevice({ host: '192.0.2.50', heuristics });
    expect(h({ exec: { x: 'ping 203.0.113.250' } })).toEqual([expect.stringMatching(/^quorum\.device\.heuristics\.exec\.x: must start with the command's absolute path/)]);
    expect(h({ exec: { x: '/bin/check | tee /tmp/y' } })).toEqual([expect.stringMatching(/^quorum\.device\.heuristics\.exec\.x: no quotes, backslashes or shell syntax/)]);
    expect(h({ exec: { 'a-b': '/bin/true' } })).toEqual([expect.stringMatching(/^quorum\.device\.heuristics\.exec\.a-b: the name must be/)]);
    expect(h({ ping: ['compute-switch'] })).toEqual([expect.stringMatching(/^quorum\.device\.heuristics\.ping\[0\]: not an IP address/)]);
    expect(h({ mode: 'off', ping: ['203.0.113.250'] })).toEqual([expect.stringMatching(/^quorum\.device\.heuristics\.mode: must be sync/)]);
    expect(h({ mode: 'sync' })).toEqual(['quorum.device.heuristics: give at least one ping address or exec command']);
    const vip = parse(labText).sets[0].vips[0];
    expect(h({ ping: [vip] })).toEqual([expect.stringMatching(/heuristic would pass on a cut-off head/)]);
  });
});

describe('quorum.device.timeout from the token (src/crm/corosync.ts qdeviceTimeout)', () => {
  it('is (token + consensus) / 1.2, between 1250 and 10000 ms, and written unless given', async () => {
    const { qdeviceTimeout, quorumDeviceLines } = await import('../../src/crm/corosync');
    expect([200, 1000, 3000, 5000, 10000].map(qdeviceTimeout)).toEqual([1250, 1830, 5500, 9160, 10000]);
    const dev = { host: '203.0.113.251', port: 5403, algorithm: 'ffsplit' as const, tieBreaker: 'lowest', tls: 'off' as const };
    expect(quorumDeviceLines(dev, '', 1000)).toContain('    timeout: 1830');
    expect(quorumDeviceLines({ ...dev, timeout: 4000 }, '', 1000)).toContain('    timeout: 4000');
  });
});

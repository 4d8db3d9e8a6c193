// DHCP probe (src/probe/dhcp.ts, dhcp6.ts): packet codecs, malformed packets, and the client
// against scripted servers on loopback (unprivileged ports), for the cases real servers rarely show.
import { describe, it, expect } from 'vitest';
import { createSocket } from 'node:dgram';
import {
  decodeDhcp4, encodeDhcp4, DhcpDecodeError, MT, O4, messageType4, dhcpDiscover, dhcpInform, dhcpLease, macFor, randomMac,
} from '../../src/probe/dhcp';
import {
  decodeDhcp6, encodeDhcp6, Dhcp6DecodeError, V6, O6, decodeIaNa, encodeIaNa, ipv6ToBuffer, bufferToIpv6, duidLL, opt6,
} from '../../src/probe/dhcp6';

const mac = Buffer.from([2, 0, 0, 0, 5, 1]);

describe('DHCPv4 codec', () => {
  it('round-trips a DHCPOFFER with its fields and options', () => {
    const options = new Map<number, Buffer>([
      [O4.MESSAGE_TYPE, Buffer.from([MT.OFFER])], [O4.SERVER_ID, Buffer.from([192, 0, 2, 10])],
      [O4.LEASE_TIME, Buffer.from([0, 0, 2, 88])], [O4.BOOTFILE, Buffer.from('pxelinux.0')],
    ]);
    const buf = encodeDhcp4({ op: 2, xid: 0xdeadbeef, flags: 0x8000, yiaddr: '192.0.2.100', siaddr: '192.0.2.10', chaddr: mac, file: 'boot.efi', options });
    expect(buf.length).toBeGreaterThanOrEqual(300);
    expect(buf.readUInt32BE(236)).toBe(0x63825363);
    const p = decodeDhcp4(buf);
    expect(p).toMatchObject({ op: 2, xid: 0xdeadbeef, flags: 0x8000, yiaddr: '192.0.2.100', siaddr: '192.0.2.10', ciaddr: '0.0.0.0', file: 'boot.efi', hlen: 6 });
    expect(p.chaddr.subarray(0, 6).equals(mac)).toBe(true);
    expect(messageType4(p)).toBe(MT.OFFER);
    expect(p.options.get(O4.LEASE_TIME)!.readUInt32BE(0)).toBe(600);
    expect(p.options.get(O4.BOOTFILE)!.toString()).toBe('pxelinux.0');
  });

  it('splits long options and concatenates them again (RFC 3396)', () => {
    const long = Buffer.alloc(600, 0x41);
    const p = decodeDhcp4(encodeDhcp4({ xid: 1, chaddr: mac, options: new Map([[O4.VENDOR_CLASS, long]]) }));
    expect(p.options.get(O4.VENDOR_CLASS)!.equals(long)).toBe(true);
  });

  it('reads options overloaded into the file and sname fields (option 52)', () => {
    const buf = encodeDhcp4({ op: 2, xid: 2, chaddr: mac, options: new Map([[O4.MESSAGE_TYPE, Buffer.from([MT.ACK])], [O4.OVERLOAD, Buffer.from([3])]]) });
    Buffer.from([O4.BOOTFILE, 3, 0x61, 0x62, 0x63, 255]).copy(buf, 108); // in "file"
    Buffer.from([O4.TFTP_SERVER, 2, 0x68, 0x31, 255]).copy(buf, 44); // in "sname"
    const p = decodeDhcp4(buf);
    expect(p.options.get(O4.BOOTFILE)!.toString()).toBe('abc');
    expect(p.options.get(O4.TFTP_SERVER)!.toString()).toBe('h1');
    expect(p.file).toBe('');
  });

  it('rejects malformed messages with a reason', () => {
    const good = encodeDhcp4({ xid: 3, chaddr: mac, options: new Map([[O4.MESSAGE_TYPE, Buffer.from([1])]]) });
    const cases: [Buffer, RegExp][] = [
      [Buffer.alloc(100), /too short/],
      [Buffer.concat([Buffer.from([3]), good.subarray(1)]), /bad op 3/],
      [(() => { const b = Buffer.from(good); b.writeUInt32BE(0, 236); return b; })(), /magic cookie/],
      [(() => { const b = Buffer.from(good); b[2] = 17; return b; })(), /hardware address length/],
      [Buffer.concat([good.subarray(0, 240), Buffer.from([53, 10, 1])]), /option 53 in options claims 10 bytes/],
      [Buffer.concat([good.subarray(0, 240), Buffer.from([53])]), /has no length/],
    ];
    for (const [b, why] of cases) {
      expect(() => decodeDhcp4(b)).toThrow(DhcpDecodeError);
      expect(() => decodeDhcp4(b)).toThrow(why);
    }
  });

  it('derives stable, locally administered MACs for monitors; random ones otherwise', () => {
    expect(macFor('head1/dhcpd4')).toBe(macFor('head1/dhcpd4'));
    expect(macFor('head1/dhcpd4')).not.toBe(macFor('head2/dhcpd4'));
    for (const m of [macFor('x'), randomMac()]) {
      expect(m).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      expect(Number.parseInt(m.slice(0, 2), 16) & 3).toBe(2);
    }
  });
});

describe('DHCPv6 codec', () => {
  it('round-trips a message with client id, IA_NA/IAADDR and a boot file URL', () => {
    const m = {
      type: V6.REPLY, xid: 0xabcdef,
      options: [
        { code: O6.CLIENTID, data: duidLL(mac) },
        { code: O6.IA_NA, data: encodeIaNa(7, [{ address: '2001:db8:5::123', preferred: 300, valid: 600 }]) },
        { code: O6.BOOTFILE_URL, data: Buffer.from('tftp://[2001:db8:5::10]/bootx64.efi') },
      ],
    };
    const d = decodeDhcp6(encodeDhcp6(m));
    expect(d.type).toBe(V6.REPLY);
    expect(d.xid).toBe(0xabcdef);
    expect(opt6(d, O6.CLIENTID)!.toString('hex')).toBe('00030001020000000501');
    expect(decodeIaNa(opt6(d, O6.IA_NA)!)).toEqual({ iaid: 7, t1: 0, t2: 0, addresses: [{ address: '2001:db8:5::123', preferred: 300, valid: 600 }] });
    expect(opt6(d, O6.BOOTFILE_URL)!.toString()).toBe('tftp://[2001:db8:5::10]/bootx64.efi');
  });

  it('converts IPv6 addresses both ways (RFC 5952 text)', () => {
    for (const a of ['2001:db8:5::1', '::1', '::', 'fe80::bc1d:59ff:fe80:b957', '2001:db8:0:1:1:1:1:1', '2001:db8::1:0:0:1']) {
      expect(bufferToIpv6(ipv6ToBuffer(a))).toBe(a);
    }
    expect(bufferToIpv6(ipv6ToBuffer('::ffff:192.0.2.1'))).toBe('::ffff:c000:201');
    expect(ipv6ToBuffer('fe80::1%eth0').toString('hex')).toBe('fe800000000000000000000000000001');
  });

  it('rejects malformed messages with a reason', () => {
    const cases: [string, RegExp][] = [
      ['0102', /too short/],
      ['00000001', /unknown message type 0/],
      ['0c000001', /relay messages/],
      ['0700000100', /truncated option header/],
      ['07000001000100ff00', /option 1 in message claims 255 bytes/],
    ];
    for (const [hex, why] of cases) {
      expect(() => decodeDhcp6(Buffer.from(hex, 'hex')), hex).toThrow(Dhcp6DecodeError);
      expect(() => decodeDhcp6(Buffer.from(hex, 'hex')), hex).toThrow(why);
    }
    expect(() => decodeIaNa(Buffer.alloc(8))).toThrow(/IA_NA of 8 bytes/);
    expect(() => decodeIaNa(Buffer.concat([Buffer.alloc(12), Buffer.from('0005000400000000', 'hex')]))).toThrow(/IAADDR of 4 bytes/);
  });
});

/** A scripted DHCPv4 server on 127.0.0.1: answers each request with reply(request) (or nothing). */
async function fake4(reply: (req: ReturnType<typeof decodeDhcp4>) => Buffer[] | undefined): Promise<{ port: number; close: () => void; seen: number[] }> {
  const s = createSocket('udp4');
  const seen: number[] = [];
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  s.on('message', (m, r) => {
    const req = decodeDhcp4(m);
    seen.push(messageType4(req)!);
    for (const b of reply(req) ?? []) s.send(b, r.port, r.address);
  });
  return { port: s.address().port, close: () => s.close(), seen };
}
const answer = (req: ReturnType<typeof decodeDhcp4>, type: number, extra: Partial<Parameters<typeof encodeDhcp4>[0]> = {}, opts: [number, Buffer][] = []) =>
  encodeDhcp4({ op: 2, xid: req.xid, chaddr: req.chaddr, yiaddr: '192.0.2.100', file: 'pxelinux.0', ...extra, options: new Map([[O4.MESSAGE_TYPE, Buffer.from([type])], [O4.SERVER_ID, Buffer.from([192, 0, 2, 10])], ...opts]) });
const local = (port: number) => ({ family: 4 as const, server: '127.0.0.1', localAddress: '127.0.0.1', serverPort: port, clientPort: 0, timeoutMs: 1000, retransmitMs: 200 });

describe('DHCPv4 client against a scripted server', () => {
  it('a full lease: DISCOVER, OFFER, REQUEST naming the server and address, ACK', async () => {
    let request: ReturnType<typeof decodeDhcp4> | undefined;
    const srv = await fake4((req) => {
      const t = messageType4(req);
      if (t === MT.DISCOVER) return [answer(req, MT.OFFER)];
      if (t === MT.REQUEST) { request = req; return [answer(req, MT.ACK, {}, [[O4.LEASE_TIME, Buffer.from([0, 0, 2, 88])]])]; }
      return undefined;
    });
    try {
      const r = await dhcpLease({ ...local(srv.port), mac: '02:00:00:00:05:01' });
      expect(r).toMatchObject({ ok: true, address: '192.0.2.100', serverId: '192.0.2.10', bootFile: 'pxelinux.0', leaseTime: 600, answer: 'DHCPACK', mac: '02:00:00:00:05:01' });
      expect(srv.seen).toEqual([MT.DISCOVER, MT.REQUEST]);
      expect(request!.options.get(O4.SERVER_ID)!.join('.')).toBe('192.0.2.10');
      expect(request!.options.get(O4.REQUESTED_IP)!.join('.')).toBe('192.0.2.100');
    } finally { srv.close(); }
  });

  it('with settleMs, counts a server that answers twice (two sources), and a single answer once', async () => {
    const twice = await fake4((req) => [answer(req, MT.OFFER), answer(req, MT.OFFER)]);
    const once = await fake4((req) => [answer(req, MT.OFFER)]);
    try {
      const t = await dhcpDiscover({ ...local(twice.port), settleMs: 200 });
      expect(t.ok, t.error).toBe(true);
      expect(t.answers).toEqual(['127.0.0.1', '127.0.0.1']);
      expect(twice.seen).toEqual([MT.DISCOVER]); // no retransmission while settling
      const o1 = await dhcpDiscover({ ...local(once.port), settleMs: 200 });
      expect(o1.answers).toEqual(['127.0.0.1']);
      expect((await dhcpDiscover(local(once.port))).answers).toBeUndefined();
    } finally { twice.close(); once.close(); }
  });

  it('ignores answers for another transaction or another client, and garbage', async () => {
    const srv = await fake4((req) => [
      Buffer.from('garbage'),
      answer({ ...req, xid: req.xid ^ 1 }, MT.ACK, { yiaddr: '192.0.2.66' }),
      answer({ ...req, chaddr: Buffer.alloc(16, 9) }, MT.ACK, { yiaddr: '192.0.2.77' }),
      answer(req, MT.ACK, { yiaddr: '0.0.0.0' }),
    ]);
    try {
      const r = await dhcpInform(local(srv.port));
      expect(r).toMatchObject({ ok: true, answer: 'DHCPACK', serverId: '192.0.2.10' });
      expect(r.address).toBeUndefined();
    } finally { srv.close(); }
  });

  it('a DHCPNAK fails with the server\'s message; silence fails within the budget', async () => {
    const nak = await fake4((req) => [answer(req, MT.NAK, { yiaddr: '0.0.0.0' }, [[O4.MESSAGE, Buffer.from('wrong network')]])]);
    const mute = await fake4(() => undefined);
    try {
      expect((await dhcpDiscover(local(nak.port))).error).toBe('DHCPNAK from 192.0.2.10: wrong network');
      const t0 = Date.now();
      const r = await dhcpDiscover({ ...local(mute.port), timeoutMs: 500 });
      expect(r.error).toBe('no answer to DHCPDISCOVER within 500 ms');
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(mute.seen.length).toBeGreaterThanOrEqual(2); // retransmitted
    } finally { nak.close(); mute.close(); }
  });

  it('bad options are refused before anything is sent', async () => {
    expect((await dhcpDiscover({ family: 4, mac: 'zz' })).error).toMatch(/bad MAC address/);
    expect((await dhcpDiscover({ family: 4, server: '::1' })).error).toMatch(/not an IPv4 address/);
    expect((await dhcpDiscover({ family: 6 })).error).toMatch(/needs an interface/);
    expect((await dhcpDiscover({ family: 6, iface: 'eth0; rm' })).error).toMatch(/bad interface name/);
    expect((await dhcpInform({ family: 4, server: '127.0.0.1', clientPort: 0 })).error).toMatch(/needs localAddress/);
  });
});

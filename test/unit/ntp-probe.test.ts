// The NTP packet code (src/probe/ntp.ts): encode/decode, and real UDP exchanges with a
// scripted server on 127.0.0.1 and ::1 that answers well, badly, or not at all.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createSocket, type Socket, type RemoteInfo } from 'node:dgram';
import {
  encodePacket, decodePacket, encodeRequest, checkReply, ntpQuery, toNtpTimestamp, fromNtpTimestamp, refIdText,
  encodeReadVar, decodeControl, parseVarList, ntpReadVars, ntpUntilAnswer, NtpDecodeError, MODE, LEAP, NTP_PACKET_LENGTH, type NtpPacket,
} from '../../src/probe/ntp';

describe('NTP timestamps', () => {
  it('converts Unix ms to 32.32 NTP time and back', () => {
    const ms = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
    const ts = toNtpTimestamp(ms);
    expect(ts >> 32n).toBe(BigInt(Math.floor(ms / 1000)) + 2208988800n);
    expect(Math.abs(fromNtpTimestamp(ts) - ms)).toBeLessThan(0.001);
    // the Unix epoch is NTP second 2208988800
    expect(toNtpTimestamp(0)).toBe(2208988800n << 32n);
    // half a second is fraction 2^31
    expect(toNtpTimestamp(500) & 0xffffffffn).toBe(0x80000000n);
  });
  it('handles era 1 (after 2036-02-07)', () => {
    const ms = Date.UTC(2040, 5, 1);
    expect(Math.abs(fromNtpTimestamp(toNtpTimestamp(ms)) - ms)).toBeLessThan(0.001);
  });
});

describe('NTP packets', () => {
  it('a request is 48 bytes, LI 0, VN 4, mode 3, with its transmit timestamp in bytes 40..47', () => {
    const { packet, transmitTs } = encodeRequest(Date.now());
    expect(packet.length).toBe(48);
    expect(packet[0]).toBe(0x23); // 00 100 011
    expect(packet.readBigUInt64BE(40)).toBe(transmitTs);
    expect(packet.subarray(1, 40).every((b) => b === 0)).toBe(true);
    // two requests in the same millisecond still differ (random low bits)
    const now = Date.now();
    const seen = new Set(Array.from({ length: 20 }, () => encodeRequest(now).transmitTs));
    expect(seen.size).toBeGreaterThan(1);
  });

  it('decodes what it encodes, field by field', () => {
    const pk: NtpPacket = {
      leap: 1, version: 3, mode: 4, stratum: 2, poll: 6, precision: -23,
      rootDelay: 0.015625, rootDispersion: 1.5, refIdRaw: Buffer.from([192, 0, 2, 7]),
      referenceTs: 1n << 40n, originTs: 0x1122334455667788n, receiveTs: 0xe0000000_80000000n, transmitTs: 0xe0000001_00000000n,
    };
    const buf = encodePacket(pk);
    expect(buf[0]).toBe(0b01_011_100);
    expect(decodePacket(buf)).toEqual(pk);
    expect(refIdText(pk)).toBe('192.0.2.7');
    expect(refIdText({ stratum: 1, refIdRaw: Buffer.from('GPS\0') })).toBe('GPS');
  });

  it('refuses a short packet, and ignores extension fields after 48 bytes', () => {
    expect(() => decodePacket(Buffer.alloc(47))).toThrow(NtpDecodeError);
    expect(() => decodePacket(Buffer.alloc(0))).toThrow(/short packet \(0 bytes/);
    const long = Buffer.concat([encodePacket({ mode: 4, stratum: 3 }), Buffer.alloc(20, 0xff)]);
    expect(decodePacket(long).stratum).toBe(3);
  });

  const sent = 0xdeadbeef_12345678n;
  const good = (o: Partial<NtpPacket> = {}): NtpPacket => decodePacket(encodePacket({
    mode: MODE.SERVER, stratum: 3, originTs: sent, receiveTs: sent + 100n, transmitTs: sent + 200n, refIdRaw: Buffer.from([198, 51, 100, 1]), ...o,
  }));

  it('accepts a sane server reply', () => {
    expect(checkReply(good(), sent)).toEqual({ ok: true });
    expect(checkReply(good({ leap: LEAP.INSERT, stratum: 15 }), sent)).toEqual({ ok: true });
  });
  it('discards a reply of the wrong mode or not echoing our timestamp', () => {
    expect(checkReply(good({ mode: MODE.CLIENT }), sent)).toMatchObject({ ok: false, discard: true, error: expect.stringMatching(/mode 3/) });
    expect(checkReply(good({ mode: MODE.SYMMETRIC_PASSIVE }), sent)).toMatchObject({ ok: false, discard: true });
    expect(checkReply(good({ originTs: sent + 1n }), sent)).toMatchObject({ ok: false, discard: true, error: expect.stringMatching(/origin timestamp/) });
  });
  it('rejects kiss-o\'-death, unsynchronised, leap alarm, zero transmit, bad version', () => {
    expect(checkReply(good({ stratum: 0, refIdRaw: Buffer.from('RATE') }), sent)).toMatchObject({ ok: false, discard: false, kiss: 'RATE', error: "kiss-o'-death RATE" });
    expect(checkReply(good({ stratum: 0, leap: 3, refIdRaw: Buffer.alloc(4) }), sent)).toEqual({ ok: false, discard: false, error: 'server is unsynchronised (stratum 0, leap 3)' });
    expect(checkReply(good({ stratum: 0, refIdRaw: Buffer.from([0xff, 1, 2, 3]) }), sent)).toMatchObject({ ok: false, error: expect.stringMatching(/unsynchronised \(stratum 0/) });
    expect(checkReply(good({ stratum: 0, leap: 3, refIdRaw: Buffer.from('INIT') }), sent)).toEqual({ ok: false, discard: false, error: 'server is unsynchronised (stratum 0, INIT)' });
    expect(checkReply(good({ stratum: 16 }), sent)).toMatchObject({ ok: false, error: expect.stringMatching(/unsynchronised \(stratum 16\)/) });
    expect(checkReply(good({ stratum: 200 }), sent)).toMatchObject({ ok: false });
    expect(checkReply(good({ leap: LEAP.ALARM }), sent)).toMatchObject({ ok: false, error: expect.stringMatching(/leap indicator 3/) });
    expect(checkReply(good({ transmitTs: 0n }), sent)).toMatchObject({ ok: false, error: expect.stringMatching(/zero transmit/) });
    expect(checkReply(good({ version: 0 }), sent)).toMatchObject({ ok: false, error: expect.stringMatching(/version 0/) });
  });
});

// ---- real exchanges with a scripted server -------------------------------------------------

type Behaviour = (req: Buffer, from: RemoteInfo, reply: (b: Buffer) => void) => void;
interface Fake { sock: Socket; port: number; behaviour: Behaviour; requests: Buffer[] }

async function fakeServer(type: 'udp4' | 'udp6', address: string): Promise<Fake> {
  const sock = createSocket(type);
  const f: Fake = { sock, port: 0, behaviour: () => {}, requests: [] };
  sock.on('message', (msg, from) => {
    f.requests.push(msg);
    f.behaviour(msg, from, (b) => sock.send(b, from.port, from.address));
  });
  await new Promise<void>((r) => sock.bind(0, address, () => r()));
  f.port = sock.address().port;
  return f;
}

/** A correct server reply to `req`, with overrides. */
function answer(req: Buffer, o: Partial<NtpPacket> = {}): Buffer {
  const now = toNtpTimestamp(Date.now());
  return encodePacket({
    mode: MODE.SERVER, version: 4, stratum: 2, poll: req.readInt8(2), precision: -20, rootDelay: 0.01, rootDispersion: 0.02,
    refIdRaw: Buffer.from([203, 0, 113, 5]), referenceTs: now - (5n << 32n), originTs: req.readBigUInt64BE(40), receiveTs: now, transmitTs: now, ...o,
  });
}

for (const [type, host] of [['udp4', '127.0.0.1'], ['udp6', '::1']] as const) {
  describe(`ntpQuery over ${type} (${host})`, () => {
    let f: Fake;
    beforeAll(async () => { f = await fakeServer(type, host); });
    afterAll(() => { f.sock.close(); });

    it('gets a good answer: stratum, refid, offset and delay near 0', async () => {
      f.behaviour = (req, _from, reply) => reply(answer(req));
      const r = await ntpQuery(host, f.port, { timeoutMs: 1000 });
      expect(r.error).toBeUndefined();
      expect(r.ok).toBe(true);
      expect(r.reply).toMatchObject({ stratum: 2, leap: 0, version: 4, refId: '203.0.113.5' });
      expect(Math.abs(r.reply!.offset)).toBeLessThan(0.05);
      expect(r.reply!.delay).toBeLessThan(0.5);
      const req = decodePacket(f.requests.at(-1)!);
      expect(req).toMatchObject({ mode: 3, version: 4, leap: 0, stratum: 0 });
      expect(f.requests.at(-1)!.length).toBe(NTP_PACKET_LENGTH);
    });

    it('reports a kiss-o\'-death with its code', async () => {
      f.behaviour = (req, _from, reply) => reply(answer(req, { stratum: 0, refIdRaw: Buffer.from('DENY') }));
      const r = await ntpQuery(host, f.port, { timeoutMs: 1000 });
      expect(r).toMatchObject({ ok: false, answered: true, kiss: 'DENY', error: "kiss-o'-death DENY" });
    });

    it('reports a leap alarm and an unsynchronised server', async () => {
      f.behaviour = (req, _from, reply) => reply(answer(req, { leap: 3 }));
      const r = await ntpQuery(host, f.port, { timeoutMs: 1000 });
      expect(r).toMatchObject({ ok: false, answered: true });
      expect(r.error).toMatch(/leap indicator 3/);
      f.behaviour = (req, _from, reply) => reply(answer(req, { stratum: 16, leap: 3 }));
      expect((await ntpQuery(host, f.port, { timeoutMs: 1000 })).error).toMatch(/stratum 16/);
    });

    it('ignores short, wrong-mode and non-echoing replies, then takes the real one', async () => {
      f.behaviour = (req, _from, reply) => {
        reply(Buffer.alloc(12, 0x24));
        reply(answer(req, { mode: MODE.BROADCAST }));
        reply(answer(req, { originTs: 12345n }));
        setTimeout(() => reply(answer(req, { stratum: 4 })), 30);
      };
      const r = await ntpQuery(host, f.port, { timeoutMs: 1000 });
      expect(r.ok).toBe(true);
      expect(r.reply!.stratum).toBe(4);
    });

    it('times out with the reason it discarded what came back', async () => {
      f.behaviour = (req, _from, reply) => reply(req); // an echo: mode 3
      const r = await ntpQuery(host, f.port, { timeoutMs: 300 });
      expect(r).toMatchObject({ ok: false, answered: false });
      expect(r.error).toMatch(/^no reply within 300 ms \(discarded: not a server reply \(mode 3/);
      f.behaviour = (_req, _from, reply) => reply(Buffer.from('hello'));
      expect((await ntpQuery(host, f.port, { timeoutMs: 300 })).error).toMatch(/discarded: short packet \(5 bytes/);
    });

    it('times out on silence, retrying when asked', async () => {
      f.behaviour = () => {};
      const before = f.requests.length;
      const r = await ntpQuery(host, f.port, { timeoutMs: 200, retries: 1 });
      expect(r.ok).toBe(false);
      expect(r.error).toBe('no reply within 200 ms');
      expect(f.requests.length - before).toBe(2);
      expect(r.ms).toBeGreaterThanOrEqual(390);
    });

    it('ntpUntilAnswer waits through silence and "unsynchronised" until a sane answer, or gives up', async () => {
      let n = 0;
      f.behaviour = (req, _from, reply) => {
        n++;
        if (n === 2) reply(answer(req, { stratum: 0, leap: 3, refIdRaw: Buffer.from('INIT') }));
        if (n >= 3) reply(answer(req, { stratum: 5 }));
      };
      const r = await ntpUntilAnswer(host, f.port, { timeoutMs: 5000, intervalMs: 20, queryTimeoutMs: 100 });
      expect(r).toMatchObject({ ok: true, attempts: 3 });
      expect(r.last.reply!.stratum).toBe(5);
      f.behaviour = () => {};
      const g = await ntpUntilAnswer(host, f.port, { timeoutMs: 400, intervalMs: 50, queryTimeoutMs: 100 });
      expect(g.ok).toBe(false);
      expect(g.attempts).toBeGreaterThanOrEqual(2);
      expect(g.last.error).toMatch(/^no reply within/);
    });

    it('says so quickly when nothing listens on the port', async () => {
      const s = createSocket(type);
      await new Promise<void>((r) => s.bind(0, host, () => r()));
      const closedPort = s.address().port;
      s.close();
      const r = await ntpQuery(host, closedPort, { timeoutMs: 2000 });
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/connection refused/);
      expect(r.ms).toBeLessThan(1000);
    });
  });
}

describe('mode 6 READVAR (the daemon\'s own variables, as ntpq rv)', () => {
  it('encodes a request for association 0 with the variable names, padded to 4 bytes', () => {
    const b = encodeReadVar(0x1234, ['leap', 'stratum']);
    expect(b[0]).toBe(0x16); // VN 2, mode 6
    expect(b[1]).toBe(2); // opcode READVAR, R/E/M clear
    expect(b.readUInt16BE(2)).toBe(0x1234);
    expect(b.readUInt16BE(6)).toBe(0);
    expect(b.readUInt16BE(10)).toBe('leap,stratum'.length);
    expect(b.length % 4).toBe(0);
    expect(b.subarray(12, 24).toString()).toBe('leap,stratum');
  });
  it('parses variable lists, with quoted values holding commas', () => {
    expect(parseVarList('leap=00, stratum=10, refid="a, b",\r\nflag, offset=-0.5')).toEqual({ leap: '00', stratum: '10', refid: '"a, b"', flag: '', offset: '-0.5' });
    expect(parseVarList('')).toEqual({});
  });
  it('refuses short or non-control packets', () => {
    expect(() => decodeControl(Buffer.alloc(8))).toThrow(/short control packet/);
    expect(() => decodeControl(encodePacket({ mode: 4 }))).toThrow(/not a control packet \(mode 4\)/);
    const lying = encodeReadVar(1, ['x']);
    lying.writeUInt16BE(400, 10);
    expect(() => decodeControl(lying)).toThrow(/says 400 data bytes/);
  });

  it('reads the variables from a scripted server over UDP, reassembling fragments, ignoring other sequences', async () => {
    const f = await fakeServer('udp4', '127.0.0.1');
    try {
      const frag = (req: Buffer, seq: number, offset: number, text: string, more: boolean, error = false) => {
        const data = Buffer.from(text);
        const b = Buffer.alloc(12 + Math.ceil(data.length / 4) * 4);
        b[0] = 0x16; b[1] = 0x80 | (error ? 0x40 : 0) | (more ? 0x20 : 0) | 2;
        b.writeUInt16BE(seq, 2); b.writeUInt16BE(error ? 0x0500 : 0, 4); b.writeUInt16BE(offset, 8); b.writeUInt16BE(data.length, 10);
        data.copy(b, 12);
        void req;
        return b;
      };
      f.behaviour = (req, _from, reply) => {
        const seq = req.readUInt16BE(2);
        reply(frag(req, seq + 1, 0, 'leap=3', false)); // someone else's answer
        reply(frag(req, seq, 16, 'stratum=2, refid=192.0.2.1', false)); // second fragment first
        reply(frag(req, seq, 0, 'leap=0, refid=x,', true));
      };
      const r = await ntpReadVars('127.0.0.1', f.port, { timeoutMs: 1000 });
      expect(r.error).toBeUndefined();
      expect(r.vars).toEqual({ leap: '0', refid: '192.0.2.1', stratum: '2' });
      expect(decodeControl(f.requests.at(-1)!).opcode).toBe(2);
      f.behaviour = (req, _from, reply) => reply(frag(req, req.readUInt16BE(2), 0, '', false, true));
      expect((await ntpReadVars('127.0.0.1', f.port, { timeoutMs: 1000 })).error).toBe('server refused the request (error code 5)');
      f.behaviour = () => {};
      expect((await ntpReadVars('127.0.0.1', f.port, { timeoutMs: 200 })).error).toBe('no control reply within 200 ms');
    } finally {
      f.sock.close();
    }
  });
});

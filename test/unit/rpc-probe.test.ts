// src/probe/rpc.ts: the ONC RPC message format (RFC 5531) and record marking, against byte
// layouts written out by hand, and real exchanges over loopback TCP and UDP with servers that
// fragment, stay silent, or refuse. (Against real rpcbind/ganesha/mountd: nfs-ganesha.test.ts
// and nfs-kernel.test.ts.)
import { describe, it, expect, afterAll } from 'vitest';
import { createServer, type Server } from 'node:net';
import { createSocket, type Socket } from 'node:dgram';
import { encodeCall, decodeReply, recordMark, readRecord, rpcNull, rpcCall, PROG } from '../../src/probe/rpc';

const words = (...w: number[]) => { const b = Buffer.alloc(w.length * 4); w.forEach((x, i) => b.writeUInt32BE(x >>> 0, i * 4)); return b; };

describe('ONC RPC messages', () => {
  it('encodes a CALL with AUTH_NONE', () => {
    expect(encodeCall(0x01020304, 100003, 3, 0)).toEqual(words(0x01020304, 0, 2, 100003, 3, 0, 0, 0, 0, 0));
    expect(encodeCall(7, 100000, 2, 3, words(100005, 3, 6, 0)).length).toBe(56);
  });

  it('decodes accepted, mismatched, denied and malformed replies', () => {
    expect(decodeReply(words(9, 1, 0, 0, 0, 0, 2049), 9)).toMatchObject({ ok: true });
    expect(decodeReply(words(9, 1, 0, 0, 0, 0, 2049), 9).body).toEqual(words(2049));
    // a verifier with 5 bytes of body is padded to 8
    expect(decodeReply(Buffer.concat([words(9, 1, 0, 1, 5), Buffer.alloc(8), words(0)]), 9)).toMatchObject({ ok: true });
    expect(decodeReply(words(9, 1, 0, 0, 0, 2, 2, 4), 9)).toMatchObject({ ok: false, error: 'PROG_MISMATCH', versions: { low: 2, high: 4 } });
    expect(decodeReply(words(9, 1, 0, 0, 0, 1), 9)).toMatchObject({ ok: false, error: 'PROG_UNAVAIL' });
    expect(decodeReply(words(9, 1, 1, 0, 2, 2), 9)).toMatchObject({ ok: false, error: 'RPC_MISMATCH', versions: { low: 2, high: 2 } });
    expect(decodeReply(words(9, 1, 1, 1, 5), 9)).toMatchObject({ ok: false, error: 'denied: AUTH_TOOWEAK' });
    expect(() => decodeReply(words(8, 1, 0, 0, 0, 0), 9)).toThrow(/another xid/);
    expect(() => decodeReply(words(9, 0, 0), 9)).toThrow(/not an RPC reply/);
    expect(() => decodeReply(words(9, 1, 0, 0), 9)).toThrow(/truncated/);
  });

  it('record marking: one last fragment out, several fragments in', () => {
    expect(recordMark(Buffer.from('abcd'))).toEqual(Buffer.concat([words(0x80000004), Buffer.from('abcd')]));
    const two = Buffer.concat([words(2), Buffer.from('ab'), words(0x80000003), Buffer.from('cde'), Buffer.from('next')]);
    expect(readRecord(two)).toEqual({ record: Buffer.from('abcde'), used: 13 });
    expect(readRecord(two.subarray(0, 8))).toBeUndefined(); // last fragment not complete yet
    expect(() => readRecord(words(0x80100000), 1000)).toThrow(/larger than/);
  });
});

describe('ONC RPC over loopback', () => {
  const servers: (Server | Socket)[] = [];
  afterAll(() => { for (const s of servers) s.close(); });

  const reply = (call: Buffer, ok: boolean, extra = Buffer.alloc(0)) => Buffer.concat([words(call.readUInt32BE(0), 1, 0, 0, 0, ok ? 0 : 1), extra]);
  const tcpServer = (answer: (call: Buffer) => Buffer | undefined): Promise<number> => new Promise((res) => {
    const srv = createServer((s) => {
      let buf = Buffer.alloc(0);
      s.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        const r = readRecord(buf);
        if (!r) return;
        const out = answer(r.record);
        if (!out) return; // silent
        // the reply in three fragments, written byte by byte chunks
        const a = out.subarray(0, 5); const b = out.subarray(5, 13); const c = out.subarray(13);
        const framed = Buffer.concat([words(a.length), a, words(b.length), b, words(0x80000000 | c.length), c]);
        for (let i = 0; i < framed.length; i += 7) s.write(framed.subarray(i, i + 7));
      });
    });
    servers.push(srv);
    srv.listen(0, '127.0.0.1', () => res((srv.address() as { port: number }).port));
  });

  it('NULL over TCP reassembles a fragmented reply', async () => {
    let seen: Buffer | undefined;
    const port = await tcpServer((call) => { seen = call; return reply(call, call.readUInt32BE(12) === PROG.NFS); });
    const r = await rpcNull('127.0.0.1', port, PROG.NFS, 3);
    expect(r).toMatchObject({ ok: true });
    expect(seen!.subarray(4, 24)).toEqual(words(0, 2, 100003, 3, 0));
    expect(await rpcNull('127.0.0.1', port, PROG.MOUNT, 3)).toMatchObject({ ok: false, error: 'PROG_UNAVAIL' });
  });

  it('a silent server times out, a closed port is refused', async () => {
    const port = await tcpServer(() => undefined);
    const t0 = Date.now();
    const r = await rpcNull('127.0.0.1', port, PROG.NFS, 3, { timeoutMs: 300 });
    expect(r).toMatchObject({ ok: false, error: 'no TCP reply within 300 ms' });
    expect(Date.now() - t0).toBeLessThan(3000);
    const closed = createServer();
    const cport = await new Promise<number>((res) => closed.listen(0, '127.0.0.1', () => res((closed.address() as { port: number }).port)));
    await new Promise<void>((res) => closed.close(() => res()));
    expect((await rpcNull('127.0.0.1', cport, PROG.NFS, 3)).error).toMatch(/ECONNREFUSED/);
  });

  it('NULL and a GETPORT-shaped call over UDP, ignoring a stray datagram for another xid', async () => {
    const sock = createSocket('udp4');
    servers.push(sock);
    sock.on('message', (m, ri) => {
      sock.send(words(0xdeadbeef, 1, 0, 0, 0, 0), ri.port, ri.address); // not ours
      const body = m.readUInt32BE(20) === 3 ? words(20048) : Buffer.alloc(0);
      sock.send(reply(m, true, body), ri.port, ri.address);
    });
    const port = await new Promise<number>((res) => sock.bind(0, '127.0.0.1', () => res(sock.address().port)));
    expect(await rpcNull('127.0.0.1', port, PROG.NFS, 3, { transport: 'udp' })).toMatchObject({ ok: true });
    const g = await rpcCall('127.0.0.1', port, PROG.PORTMAP, 2, { proc: 3, transport: 'udp', args: words(PROG.MOUNT, 3, 6, 0) });
    expect(g.ok && g.body!.readUInt32BE(0)).toBe(20048);
  });
});

// ONC RPC (RFC 5531) client probes: the NULL procedure over TCP (with record marking) or UDP,
// and a portmapper (rpcbind v2, RFC 1833) GETPORT. No OCF knowledge: the agents, the lab and
// the benchmarks use these from either side. Resolves, never rejects.
import { createConnection } from 'node:net';
import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';

export const PROG = { PORTMAP: 100000, NFS: 100003, MOUNT: 100005, NLM: 100021, STATUS: 100024 } as const;

export type RpcTransport = 'tcp' | 'udp';

export interface RpcResult {
  ok: boolean;
  /** Why the call failed (one line), when !ok. */
  error?: string;
  /** For PROG_MISMATCH / RPC_MISMATCH: the versions the server supports. */
  versions?: { low: number; high: number };
  /** Procedure results (the bytes after accept_stat), when ok. */
  body?: Buffer;
  ms: number;
}

export interface RpcCallOptions {
  transport?: RpcTransport;
  timeoutMs?: number;
  /** Procedure number (0 = NULL). */
  proc?: number;
  /** XDR-encoded arguments. */
  args?: Buffer;
}

/** An RPC CALL message (RFC 5531 section 9) with AUTH_NONE credentials and verifier. */
export function encodeCall(xid: number, prog: number, vers: number, proc: number, args: Buffer = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(40);
  const words = [xid >>> 0, 0 /* CALL */, 2 /* rpcvers */, prog, vers, proc, 0, 0 /* cred AUTH_NONE, len 0 */, 0, 0 /* verf */];
  words.forEach((w, i) => head.writeUInt32BE(w >>> 0, i * 4));
  return Buffer.concat([head, args]);
}

const ACCEPT = ['SUCCESS', 'PROG_UNAVAIL', 'PROG_MISMATCH', 'PROC_UNAVAIL', 'GARBAGE_ARGS', 'SYSTEM_ERR'];
const AUTH = ['AUTH_OK', 'AUTH_BADCRED', 'AUTH_REJECTEDCRED', 'AUTH_BADVERF', 'AUTH_REJECTEDVERF', 'AUTH_TOOWEAK', 'AUTH_INVALIDRESP', 'AUTH_FAILED'];

/** Decode a REPLY message for `xid`. Throws with a one-line reason on malformed input. */
export function decodeReply(buf: Buffer, xid: number): Omit<RpcResult, 'ms'> {
  const u32 = (off: number) => {
    if (off + 4 > buf.length) throw new Error(`truncated RPC reply (${buf.length} bytes)`);
    return buf.readUInt32BE(off);
  };
  if (u32(0) !== xid >>> 0) throw new Error('RPC reply for another xid');
  if (u32(4) !== 1) throw new Error('not an RPC reply');
  const replyStat = u32(8);
  if (replyStat === 1) { // MSG_DENIED
    const rej = u32(12);
    if (rej === 0) return { ok: false, error: 'RPC_MISMATCH', versions: { low: u32(16), high: u32(20) } };
    return { ok: false, error: `denied: ${AUTH[u32(16)] ?? `auth error ${u32(16)}`}` };
  }
  if (replyStat !== 0) throw new Error(`bad reply_stat ${replyStat}`);
  const verfLen = u32(16);
  if (verfLen > 400) throw new Error('bad verifier length');
  const off = 20 + ((verfLen + 3) & ~3);
  const accept = u32(off);
  if (accept === 0) return { ok: true, body: buf.subarray(off + 4) };
  if (accept === 2) return { ok: false, error: 'PROG_MISMATCH', versions: { low: u32(off + 4), high: u32(off + 8) } };
  return { ok: false, error: ACCEPT[accept] ?? `accept_stat ${accept}` };
}

/** Frame one message as a single last fragment (RFC 5531 section 11, record marking). */
export function recordMark(msg: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32BE((0x80000000 | msg.length) >>> 0, 0);
  return Buffer.concat([h, msg]);
}

/** Reassemble one record from a TCP byte stream; undefined until the last fragment is complete. */
export function readRecord(stream: Buffer, maxBytes = 1 << 20): { record: Buffer; used: number } | undefined {
  const parts: Buffer[] = [];
  let off = 0;
  let total = 0;
  for (;;) {
    if (stream.length < off + 4) return undefined;
    const h = stream.readUInt32BE(off);
    const len = h & 0x7fffffff;
    total += len;
    if (total > maxBytes) throw new Error(`RPC record larger than ${maxBytes} bytes`);
    if (stream.length < off + 4 + len) return undefined;
    parts.push(stream.subarray(off + 4, off + 4 + len));
    off += 4 + len;
    if (h & 0x80000000) return { record: Buffer.concat(parts), used: off };
  }
}

const errText = (e: unknown) => {
  const x = e as NodeJS.ErrnoException;
  return x?.code ? `${x.code}${x.message && !x.message.includes(x.code) ? ` ${x.message}` : ''}` : String((e as Error)?.message ?? e);
};

/** `[v6]:port` or `v4:port`, for messages. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** One RPC call (default: the NULL procedure) to prog/vers at address:port. */
export function rpcCall(address: string, port: number, prog: number, vers: number, opts: RpcCallOptions = {}): Promise<RpcResult> {
  const transport = opts.transport ?? 'tcp';
  const timeoutMs = opts.timeoutMs ?? 2000;
  const xid = randomInt(1, 0x7fffffff);
  const msg = encodeCall(xid, prog, vers, opts.proc ?? 0, opts.args);
  const t0 = Date.now();
  return new Promise<RpcResult>((resolve) => {
    let done = false;
    let cleanup = () => {};
    const finish = (r: Omit<RpcResult, 'ms'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      cleanup();
      resolve({ ...r, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish({ ok: false, error: `no ${transport.toUpperCase()} reply within ${Math.round(timeoutMs)} ms` }), timeoutMs);
    const onReply = (record: Buffer) => {
      try { finish(decodeReply(record, xid)); } catch (e) { finish({ ok: false, error: errText(e) }); }
    };
    if (transport === 'tcp') {
      const sock = createConnection({ host: address, port });
      cleanup = () => sock.destroy();
      let buf = Buffer.alloc(0);
      sock.on('connect', () => sock.write(recordMark(msg)));
      sock.on('data', (d) => {
        buf = Buffer.concat([buf, d]);
        try {
          const r = readRecord(buf);
          if (r) onReply(r.record);
        } catch (e) { finish({ ok: false, error: errText(e) }); }
      });
      sock.on('error', (e) => finish({ ok: false, error: errText(e) }));
      sock.on('close', () => finish({ ok: false, error: 'connection closed before a reply' }));
    } else {
      const sock = createSocket(address.includes(':') ? 'udp6' : 'udp4');
      cleanup = () => { try { sock.close(); } catch { /* closed */ } };
      sock.on('message', (d) => {
        if (d.length >= 4 && d.readUInt32BE(0) !== xid >>> 0) return; // someone else's reply
        onReply(d);
      });
      sock.on('error', (e) => finish({ ok: false, error: errText(e) }));
      sock.send(msg, port, address, (e) => { if (e) finish({ ok: false, error: errText(e) }); });
    }
  });
}

/** The NULL procedure: "is this program/version served here?" */
export function rpcNull(address: string, port: number, prog: number, vers: number, opts: { transport?: RpcTransport; timeoutMs?: number } = {}): Promise<RpcResult> {
  return rpcCall(address, port, prog, vers, { ...opts, proc: 0 });
}

/**
 * Portmapper v2 GETPORT (proc 3): the port where prog/vers is registered for tcp or udp.
 * port 0 means "not registered".
 */
export async function pmapGetPort(address: string, prog: number, vers: number, proto: RpcTransport, opts: { timeoutMs?: number; transport?: RpcTransport } = {}): Promise<RpcResult & { port?: number }> {
  const args = Buffer.alloc(16);
  args.writeUInt32BE(prog, 0);
  args.writeUInt32BE(vers, 4);
  args.writeUInt32BE(proto === 'tcp' ? 6 : 17, 8);
  args.writeUInt32BE(0, 12);
  const r = await rpcCall(address, 111, PROG.PORTMAP, 2, { proc: 3, args, timeoutMs: opts.timeoutMs, transport: opts.transport ?? 'tcp' });
  if (!r.ok) return r;
  if (!r.body || r.body.length < 4) return { ...r, ok: false, error: 'short GETPORT reply' };
  return { ...r, port: r.body.readUInt32BE(0) };
}

/**
 * Ask a program through the portmapper: GETPORT, then NULL on that port.
 * Fails with "not registered" when the portmapper does not know it.
 */
export async function rpcNullViaPortmap(address: string, prog: number, vers: number, proto: RpcTransport, timeoutMs = 2000): Promise<RpcResult & { port?: number }> {
  const g = await pmapGetPort(address, prog, vers, proto, { timeoutMs });
  if (!g.ok) return { ...g, error: `portmapper on ${hostPort(address, 111)}: ${g.error}` };
  if (!g.port) return { ok: false, error: `program ${prog} v${vers}/${proto} is not registered with the portmapper on ${address}`, ms: g.ms };
  const n = await rpcNull(address, g.port, prog, vers, { transport: proto, timeoutMs });
  return { ...n, port: g.port, error: n.ok ? undefined : `program ${prog} v${vers} at ${hostPort(address, g.port)}/${proto}: ${n.error}` };
}

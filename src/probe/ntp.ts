// NTP probe: one real NTPv4 client exchange (RFC 5905 mode 3 -> mode 4) over UDP,
// IPv4 or IPv6. No OCF knowledge: the agents, the lab and the benchmarks all use it.
//
//   const r = await ntpQuery('192.0.2.10', 123, { timeoutMs: 1000 });
//   r.ok ? r.reply.stratum : r.error
//
// The request carries a transmit timestamp with random low-order bits; a reply counts only
// if it echoes that value in its origin timestamp (RFC 5905 section 8, "bogus" test), comes
// from the address and port asked (connected socket), is mode 4 (server), has a sane stratum
// (1..15; 0 is a kiss-o'-death, 16 unsynchronised) and no leap alarm (LI = 3).
import { randomBytes } from 'node:crypto';

/** Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch). */
export const NTP_UNIX_OFFSET = 2208988800n;
export const NTP_PACKET_LENGTH = 48;

export const MODE = { SYMMETRIC_ACTIVE: 1, SYMMETRIC_PASSIVE: 2, CLIENT: 3, SERVER: 4, BROADCAST: 5, CONTROL: 6, PRIVATE: 7 } as const;
export const LEAP = { NONE: 0, INSERT: 1, DELETE: 2, ALARM: 3 } as const;

/** The 48-byte NTP header (extension fields and MAC, if any, are ignored). */
export interface NtpPacket {
  leap: number;
  version: number;
  mode: number;
  stratum: number;
  /** log2 seconds */
  poll: number;
  /** log2 seconds (signed) */
  precision: number;
  /** seconds */
  rootDelay: number;
  /** seconds */
  rootDispersion: number;
  /** The 4 raw reference-ID bytes. */
  refIdRaw: Buffer;
  /** 64-bit NTP timestamps (32.32 fixed point, seconds since 1900). */
  referenceTs: bigint;
  originTs: bigint;
  receiveTs: bigint;
  transmitTs: bigint;
}

/** Unix time in ms (may be fractional) -> 64-bit NTP timestamp. */
export function toNtpTimestamp(unixMs: number): bigint {
  const ms = BigInt(Math.floor(unixMs));
  const sub = unixMs - Math.floor(unixMs); // fraction of a millisecond
  const secs = ms / 1000n + NTP_UNIX_OFFSET;
  const fracMs = Number(ms % 1000n) + sub;
  const frac = BigInt(Math.floor((fracMs / 1000) * 2 ** 32)) & 0xffffffffn;
  return ((secs & 0xffffffffn) << 32n) | frac;
}

/** 64-bit NTP timestamp -> Unix time in ms (era 0, i.e. until 2036; era 1 assumed for small values). */
export function fromNtpTimestamp(ts: bigint): number {
  let secs = ts >> 32n;
  // RFC 5905 era handling, enough for 1968..2104: seconds below 2^31 belong to era 1 (after 2036-02-07)
  if (secs < 0x80000000n) secs += 0x100000000n;
  const frac = Number(ts & 0xffffffffn) / 2 ** 32;
  return Number(secs - NTP_UNIX_OFFSET) * 1000 + frac * 1000;
}

const shortToSeconds = (v: number) => (v >>> 16) + (v & 0xffff) / 65536;

/** Encode a 48-byte header. */
export function encodePacket(pk: Partial<NtpPacket> & { mode: number }): Buffer {
  const b = Buffer.alloc(NTP_PACKET_LENGTH);
  const leap = pk.leap ?? 0;
  const version = pk.version ?? 4;
  b[0] = ((leap & 3) << 6) | ((version & 7) << 3) | (pk.mode & 7);
  b[1] = pk.stratum ?? 0;
  b.writeInt8(pk.poll ?? 0, 2);
  b.writeInt8(pk.precision ?? 0, 3);
  b.writeUInt32BE(Math.round((pk.rootDelay ?? 0) * 65536) >>> 0, 4);
  b.writeUInt32BE(Math.round((pk.rootDispersion ?? 0) * 65536) >>> 0, 8);
  (pk.refIdRaw ?? Buffer.alloc(4)).copy(b, 12, 0, 4);
  b.writeBigUInt64BE(pk.referenceTs ?? 0n, 16);
  b.writeBigUInt64BE(pk.originTs ?? 0n, 24);
  b.writeBigUInt64BE(pk.receiveTs ?? 0n, 32);
  b.writeBigUInt64BE(pk.transmitTs ?? 0n, 40);
  return b;
}

/**
 * A client (mode 3) request. Its transmit timestamp is `now` with the low 16 bits of the
 * fraction (about 15 µs) random, so that a reply's origin timestamp proves it answers us.
 */
export function encodeRequest(nowMs: number = Date.now(), version = 4): { packet: Buffer; transmitTs: bigint } {
  const rnd = BigInt(randomBytes(2).readUInt16BE(0));
  const transmitTs = (toNtpTimestamp(nowMs) & ~0xffffn) | rnd;
  return { packet: encodePacket({ mode: MODE.CLIENT, version, transmitTs }), transmitTs };
}

export class NtpDecodeError extends Error {}

/** Decode the 48-byte header of any NTP packet. Throws NtpDecodeError when it is too short. */
export function decodePacket(buf: Buffer): NtpPacket {
  if (buf.length < NTP_PACKET_LENGTH) throw new NtpDecodeError(`short packet (${buf.length} bytes, need ${NTP_PACKET_LENGTH})`);
  return {
    leap: buf[0]! >> 6,
    version: (buf[0]! >> 3) & 7,
    mode: buf[0]! & 7,
    stratum: buf[1]!,
    poll: buf.readInt8(2),
    precision: buf.readInt8(3),
    rootDelay: shortToSeconds(buf.readUInt32BE(4)),
    rootDispersion: shortToSeconds(buf.readUInt32BE(8)),
    refIdRaw: Buffer.from(buf.subarray(12, 16)),
    referenceTs: buf.readBigUInt64BE(16),
    originTs: buf.readBigUInt64BE(24),
    receiveTs: buf.readBigUInt64BE(32),
    transmitTs: buf.readBigUInt64BE(40),
  };
}

/**
 * The reference ID as text: a kiss code or clock name (stratum 0/1: up to 4 ASCII letters),
 * otherwise an IPv4 address (or the first bytes of an MD5 of an IPv6 address), as dotted quad.
 */
export function refIdText(pk: Pick<NtpPacket, 'stratum' | 'refIdRaw'>): string {
  if (pk.stratum <= 1) {
    const s = pk.refIdRaw.toString('latin1').replace(/\0+$/, '');
    if (/^[\x20-\x7e]*$/.test(s)) return s;
  }
  return [...pk.refIdRaw].join('.');
}

export type ReplyCheck =
  | { ok: true }
  /** `discard`: not an answer to our request at all (wrong origin/mode): keep waiting for the real one. */
  | { ok: false; discard: boolean; error: string; kiss?: string };

/** Judge a reply to the request whose transmit timestamp was `sentTs`. */
export function checkReply(reply: NtpPacket, sentTs: bigint): ReplyCheck {
  if (reply.mode !== MODE.SERVER) return { ok: false, discard: true, error: `not a server reply (mode ${reply.mode}, expected 4)` };
  if (reply.originTs !== sentTs) return { ok: false, discard: true, error: 'origin timestamp does not echo our request (bogus or stale reply)' };
  if (reply.version < 1 || reply.version > 4) return { ok: false, discard: false, error: `unsupported NTP version ${reply.version}` };
  if (reply.stratum === 0) {
    // a kiss code is 4 ASCII letters (RATE, DENY, RSTR...); stratum 0 with anything else
    // (chrony: refid 0, leap 3) is a server that is simply not synchronised
    const text = reply.refIdRaw.toString('latin1');
    const code = text.replace(/\0+$/, '');
    // INIT and STEP are kiss codes that only say "not synchronised yet" (RFC 5905 7.4)
    if (code === 'INIT' || code === 'STEP') return { ok: false, discard: false, error: `server is unsynchronised (stratum 0, ${code})` };
    if (/^[A-Z][A-Z0-9]{0,3}\0*$/.test(text)) {
      const kiss = text.replace(/\0+$/, '');
      return { ok: false, discard: false, kiss, error: `kiss-o'-death ${kiss}` };
    }
    return { ok: false, discard: false, error: `server is unsynchronised (stratum 0, leap ${reply.leap})` };
  }
  if (reply.stratum >= 16) return { ok: false, discard: false, error: `server is unsynchronised (stratum ${reply.stratum})` };
  if (reply.leap === LEAP.ALARM) return { ok: false, discard: false, error: `leap indicator 3 (alarm: clock not synchronised), stratum ${reply.stratum}` };
  if (reply.transmitTs === 0n) return { ok: false, discard: false, error: 'reply has a zero transmit timestamp' };
  return { ok: true };
}

export interface NtpReply {
  stratum: number;
  leap: number;
  version: number;
  poll: number;
  precision: number;
  /** seconds */
  rootDelay: number;
  rootDispersion: number;
  refId: string;
  /** Server clock minus ours (s), and round-trip delay (s), RFC 5905 on-wire formulas. */
  offset: number;
  delay: number;
}

export interface NtpQueryResult {
  ok: boolean;
  reply?: NtpReply;
  error?: string;
  /** A kiss code (DENY, RSTR, RATE...) when the server sent a kiss-o'-death. */
  kiss?: string;
  /**
   * A server reply to THIS request arrived (origin echoed, mode 4), even if it was then
   * refused (unsynchronised, leap alarm, kiss-o'-death): the server is up and talking.
   */
  answered: boolean;
  /** ms from sending the request to the end of the exchange. */
  ms: number;
}

export interface NtpQueryOptions {
  timeoutMs?: number;
  /** Extra attempts after a timeout (each gets timeoutMs). Default 0. */
  retries?: number;
  version?: number;
  /** Local address to send from (e.g. inside a namespace). */
  localAddress?: string;
}

/**
 * One NTP client exchange with `address` (IPv4 or IPv6 literal) on `port`.
 * Resolves, never rejects.
 */
export async function ntpQuery(address: string, port = 123, opts: NtpQueryOptions = {}): Promise<NtpQueryResult> {
  const t0 = Date.now();
  const attempts = 1 + Math.max(0, opts.retries ?? 0);
  let last: NtpQueryResult = { ok: false, answered: false, error: 'no attempt', ms: 0 };
  for (let i = 0; i < attempts; i++) {
    last = await queryOnce(address, port, opts);
    last.ms = Date.now() - t0;
    if (last.ok || !/^no reply/.test(last.error ?? '')) return last;
  }
  return last;
}

async function queryOnce(address: string, port: number, opts: NtpQueryOptions): Promise<NtpQueryResult> {
  const dgram = await import('node:dgram');
  const timeoutMs = opts.timeoutMs ?? 1000;
  const t0 = Date.now();
  const type = address.includes(':') ? 'udp6' : 'udp4';
  return await new Promise<NtpQueryResult>((resolve) => {
    const sock = dgram.createSocket({ type });
    let done = false;
    let lastDiscard: string | undefined;
    let sentTs = 0n;
    let t1 = 0;
    const finish = (r: Omit<NtpQueryResult, 'ms'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { sock.close(); } catch { /* closed */ }
      resolve({ ...r, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => {
      finish({ ok: false, answered: false, error: `no reply within ${timeoutMs} ms${lastDiscard ? ` (discarded: ${lastDiscard})` : ''}` });
    }, timeoutMs);
    sock.on('error', (e: NodeJS.ErrnoException) => {
      // ECONNREFUSED: an ICMP port unreachable came back (nothing listens there)
      finish({ ok: false, answered: false, error: e.code === 'ECONNREFUSED' ? 'connection refused (nothing listens on that port)' : e.message });
    });
    sock.on('message', (msg: Buffer) => {
      const t4 = Date.now();
      let pk: NtpPacket;
      try { pk = decodePacket(msg); } catch (e) { lastDiscard = (e as Error).message; return; }
      const c = checkReply(pk, sentTs);
      if (!c.ok) {
        if (c.discard) { lastDiscard = c.error; return; }
        finish({ ok: false, answered: true, error: c.error, kiss: c.kiss });
        return;
      }
      const t2 = fromNtpTimestamp(pk.receiveTs);
      const t3 = fromNtpTimestamp(pk.transmitTs);
      finish({
        ok: true,
        answered: true,
        reply: {
          stratum: pk.stratum, leap: pk.leap, version: pk.version, poll: pk.poll, precision: pk.precision,
          rootDelay: pk.rootDelay, rootDispersion: pk.rootDispersion, refId: refIdText(pk),
          offset: ((t2 - t1) + (t3 - t4)) / 2000,
          delay: Math.max(0, (t4 - t1) - (t3 - t2)) / 1000,
        },
      });
    });
    const send = () => {
      sock.connect(port, address, () => {
        t1 = Date.now();
        const req = encodeRequest(t1, opts.version ?? 4);
        sentTs = req.transmitTs;
        sock.send(req.packet, (e) => { if (e) finish({ ok: false, answered: false, error: e.message }); });
      });
    };
    try {
      if (opts.localAddress) sock.bind({ address: opts.localAddress, port: 0 }, send);
      else send();
    } catch (e) {
      finish({ ok: false, answered: false, error: e instanceof Error ? e.message : String(e) });
    }
  });
}

// ---- mode 6 (control) READVAR: the daemon's own system variables (ntpd/ntpsec, as ntpq rv) ----

export const CTL_OP_READVAR = 2;

/** A mode-6 READVAR request for association 0 (the system), asking for `names` (all when empty). */
export function encodeReadVar(sequence: number, names: string[] = []): Buffer {
  const data = Buffer.from(names.join(','), 'ascii');
  const padded = Buffer.alloc(12 + Math.ceil(data.length / 4) * 4);
  padded[0] = (2 << 3) | MODE.CONTROL; // LI 0, VN 2 (as ntpq), mode 6
  padded[1] = CTL_OP_READVAR;
  padded.writeUInt16BE(sequence & 0xffff, 2);
  padded.writeUInt16BE(0, 4); // status
  padded.writeUInt16BE(0, 6); // association 0
  padded.writeUInt16BE(0, 8); // offset
  padded.writeUInt16BE(data.length, 10);
  data.copy(padded, 12);
  return padded;
}

export interface ControlFragment { response: boolean; error: boolean; more: boolean; opcode: number; sequence: number; status: number; offset: number; data: Buffer }

export function decodeControl(buf: Buffer): ControlFragment {
  if (buf.length < 12) throw new NtpDecodeError(`short control packet (${buf.length} bytes, need 12)`);
  if ((buf[0]! & 7) !== MODE.CONTROL) throw new NtpDecodeError(`not a control packet (mode ${buf[0]! & 7})`);
  const count = buf.readUInt16BE(10);
  if (12 + count > buf.length) throw new NtpDecodeError(`control packet says ${count} data bytes but carries ${buf.length - 12}`);
  return {
    response: (buf[1]! & 0x80) !== 0, error: (buf[1]! & 0x40) !== 0, more: (buf[1]! & 0x20) !== 0, opcode: buf[1]! & 0x1f,
    sequence: buf.readUInt16BE(2), status: buf.readUInt16BE(4), offset: buf.readUInt16BE(8), data: Buffer.from(buf.subarray(12, 12 + count)),
  };
}

/** "a=1, b="x, y", c" -> { a: '1', b: '"x, y"', c: '' } */
export function parseVarList(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /\s*([^=,\s]+)\s*(?:=\s*("[^"]*"|[^,]*))?\s*(?:,|$)/gy;
  for (let m = re.exec(text); m && m[0] !== ''; m = re.exec(text)) out[m[1]!] = (m[2] ?? '').trim();
  return out;
}

export interface ReadVarResult { ok: boolean; vars?: Record<string, string>; error?: string; ms: number }

/** Ask an ntpd for its system variables (mode 6 READVAR). Resolves, never rejects. */
export async function ntpReadVars(address: string, port = 123, opts: { timeoutMs?: number; names?: string[] } = {}): Promise<ReadVarResult> {
  const dgram = await import('node:dgram');
  const timeoutMs = opts.timeoutMs ?? 1000;
  const t0 = Date.now();
  const seq = 1 + Math.floor(Math.random() * 0xfffe);
  return await new Promise<ReadVarResult>((resolve) => {
    const sock = dgram.createSocket(address.includes(':') ? 'udp6' : 'udp4');
    const frags = new Map<number, Buffer>();
    let lastOffset: number | undefined;
    let done = false;
    const finish = (r: Omit<ReadVarResult, 'ms'>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { sock.close(); } catch { /* closed */ }
      resolve({ ...r, ms: Date.now() - t0 });
    };
    const timer = setTimeout(() => finish({ ok: false, error: `no control reply within ${timeoutMs} ms` }), timeoutMs);
    sock.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, error: e.code === 'ECONNREFUSED' ? 'connection refused (nothing listens on that port)' : e.message }));
    sock.on('message', (msg: Buffer) => {
      let fr: ControlFragment;
      try { fr = decodeControl(msg); } catch { return; }
      if (!fr.response || fr.sequence !== seq || fr.opcode !== CTL_OP_READVAR) return;
      if (fr.error) { finish({ ok: false, error: `server refused the request (error code ${fr.status >> 8})` }); return; }
      frags.set(fr.offset, fr.data);
      if (!fr.more) lastOffset = fr.offset;
      if (lastOffset === undefined) return;
      // complete when the fragments cover 0..end without a gap
      let pos = 0;
      const parts: Buffer[] = [];
      while (frags.has(pos)) { const d = frags.get(pos)!; parts.push(d); if (pos === lastOffset) break; pos += d.length; if (d.length === 0) break; }
      if (pos !== lastOffset || !frags.has(lastOffset)) return;
      finish({ ok: true, vars: parseVarList(Buffer.concat(parts).toString('latin1')) });
    });
    sock.connect(port, address, () => {
      sock.send(encodeReadVar(seq, opts.names ?? ['leap', 'stratum', 'refid', 'offset', 'rootdisp']), (e) => { if (e) finish({ ok: false, error: e.message }); });
    });
  });
}

// ---- for failover measurements: how long until a server answers sanely again ---------------

export interface UntilResult { ok: boolean; /** ms from the call to the first sane answer (or to giving up) */ ms: number; attempts: number; last: NtpQueryResult }

/**
 * Query `address` every `intervalMs` (each query waits up to `queryTimeoutMs`) until a sane
 * answer arrives or `timeoutMs` has passed. The failover benchmark and the lab use it to time
 * "NTP answers again on the VIP".
 */
export async function ntpUntilAnswer(address: string, port = 123, opts: { timeoutMs?: number; intervalMs?: number; queryTimeoutMs?: number } = {}): Promise<UntilResult> {
  const t0 = Date.now();
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const interval = opts.intervalMs ?? 100;
  let attempts = 0;
  for (;;) {
    const left = timeoutMs - (Date.now() - t0);
    const last = await ntpQuery(address, port, { timeoutMs: Math.max(50, Math.min(opts.queryTimeoutMs ?? 500, left)) });
    attempts++;
    if (last.ok) return { ok: true, ms: Date.now() - t0, attempts, last };
    if (Date.now() - t0 + interval >= timeoutMs) return { ok: false, ms: Date.now() - t0, attempts, last };
    await new Promise((r) => setTimeout(r, interval));
  }
}

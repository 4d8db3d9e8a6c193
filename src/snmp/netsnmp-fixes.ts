// THE place where ha-oscar fixes or works around net-snmp (npm) AgentX bugs.
// Every other file uses net-snmp through the functions exported here.
//
//  1. framing:   the Subagent parses one PDU per TCP/Unix read, so PDUs that arrive together
//                are lost (six Register responses in one read gave one callback).
//                -> frameAgentX(): reassemble the stream, split it on the AgentX header length.
//  2. strict:    the Mib's `providers` Proxy traps return undefined, which throws
//                "'set' on proxy: trap returned falsish" when the library runs as strict code
//                (e.g. in a bundle with "use strict"). -> fixMibProxy(): traps that return true.
//  3. reconnect: the Subagent never reconnects after snmpd restarts.
//                -> ResilientSubagent: re-open the session and re-register, with backoff.
//  4. Counter64: values pass through a JS Number (castSetValue gives 18446744073709552000 for
//                2^64-1, isValid accepts 2^64, and an AgentX Counter64 varbind cannot even be
//                parsed). -> exact BigInt handling in ObjectTypeUtil and AgentXPdu.readVarbind.
//  5. missing:   a Get for a missing row answers noSuchObject; RFC 3416 wants noSuchInstance
//                when the object type exists. -> answerGet(): our own Get handler.
//  6. (found while benchmarking) GetNext walks the whole Mib tree for every varbind (about
//                0.4 ms per varbind with 1,700 instances), ignores the search range's include
//                flag and end, and GetBulk reads an undefined start OID.
//                -> serveReads(): Get/GetNext/GetBulk answered from a sorted index of the Mib
//                (binary search), honouring include and end (RFC 2741 7.2.3).
//  7. (found while testing the encoder) an OctetString's length is written in characters, not
//                bytes, so a non-ASCII value (node or resource names, reasons) corrupts the PDU;
//                and the SmartBuffer encoder costs ~0.4 ms per PDU.
//                -> encodeResponse(): byte-exact lengths, one Buffer.
//  8. (found while profiling a walk through snmpd) snmpd's AgentX master sends one GetNext PDU
//                per GETBULK repetition, so the subagent's cost per PDU is its cost per varbind.
//                The library reads through the socket's 'data' stream (a fresh 64 KiB buffer and
//                the Readable machinery per PDU) and re-encodes every answer.
//                -> createSubagent(): the socket reads into one reused buffer (net's `onread`)
//                and frames from there; serveReads() copies each instance's cached encoding.
import snmp from 'net-snmp';
import { EventEmitter } from 'node:events';
import { createConnection } from 'node:net';

export { snmp };
export const { ObjectType, MibProviderType, MaxAccess, AgentXPdu, AgentXPduType } = snmp;

const MAX_U64 = (1n << 64n) - 1n;

/** The library's own functions, before any fix: tests use them to show each bug. */
export const unpatched = {
  castSetValue: snmp.ObjectTypeUtil.castSetValue as (type: number, value: unknown) => unknown,
  isValid: snmp.ObjectTypeUtil.isValid as (type: number, value: unknown, constraints?: unknown) => boolean,
  readVarbind: snmp.AgentXPdu.readVarbind as (buffer: unknown) => { type: number; oid: string; value: unknown },
  writeOctetString: snmp.AgentXPdu.writeOctetString as (buffer: unknown, value: string) => void,
};

// ---------------------------------------------------------------- 4. Counter64

/** Exact Counter64 value from a bigint, a decimal string, an 8-byte buffer or a safe integer. */
export function toCounter64(value: unknown): bigint {
  let v: bigint;
  if (typeof value === 'bigint') v = value;
  else if (typeof value === 'string' && /^\s*\d+\s*$/.test(value)) v = BigInt(value.trim());
  else if (Buffer.isBuffer(value) && value.length === 8) v = value.readBigUInt64BE(0);
  else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
  else if (typeof value === 'number') throw new RangeError(`Counter64 value ${value} is not a safe integer: pass a bigint or a decimal string`);
  else throw new TypeError(`Counter64 value must be a bigint, a decimal string or 8 bytes, not ${typeof value}`);
  if (v < 0n || v > MAX_U64) throw new RangeError(`Counter64 value ${v} is outside 0..2^64-1`);
  return v;
}

let globalFixesApplied = false;

/** Fixes that have to patch library globals (idempotent). Called by everything below. */
export function applyGlobalFixes(): void {
  if (globalFixesApplied) return;
  globalFixesApplied = true;
  const util = snmp.ObjectTypeUtil;
  util.castSetValue = function (type: number, value: unknown, ...rest: unknown[]) {
    if (type === ObjectType.Counter64 && !Buffer.isBuffer(value)) return toCounter64(value);
    return unpatched.castSetValue.call(this, type, value, ...(rest as []));
  };
  util.isValid = function (type: number, value: unknown, constraints?: unknown) {
    if (type === ObjectType.Counter64) {
      try { toCounter64(value); return true; } catch { return false; }
    }
    return unpatched.isValid.call(this, type, value, constraints);
  };
  snmp.AgentXPdu.readVarbind = function (buffer: any) {
    const start = buffer.readOffset;
    const vtype = buffer.readUInt16BE();
    if (vtype !== ObjectType.Counter64) {
      buffer.readOffset = start;
      return unpatched.readVarbind(buffer);
    }
    buffer.readUInt16BE(); // reserved
    const oid = snmp.AgentXPdu.readOid(buffer);
    const value = buffer.readBigUInt64BE();
    return { type: vtype, oid, value };
  };
  // 7. lengths in bytes, not characters (Notify, Open descr... still use the library encoder).
  snmp.AgentXPdu.writeOctetString = function (buffer: any, value: string | Buffer) {
    const data = Buffer.isBuffer(value) ? value : Buffer.from(String(value ?? ''), 'utf8');
    buffer.writeUInt32BE(data.length);
    buffer.writeBuffer(data);
    for (let i = 0; i < (4 - (data.length % 4)) % 4; i++) buffer.writeUInt8(0);
  };
  // writeVarBind already does BigInt(value): make Numbers that lost precision an error.
  const origWrite = snmp.AgentXPdu.writeVarBind;
  snmp.AgentXPdu.writeVarBind = function (buffer: any, varbind: any) {
    if (varbind && varbind.type === ObjectType.Counter64 && varbind.oid) {
      return origWrite.call(this, buffer, { ...varbind, value: toCounter64(varbind.value) });
    }
    return origWrite.call(this, buffer, varbind);
  };
}

// ---------------------------------------------------------------- 2. Mib Proxy

const SAFE = Symbol('ha-oscar-safe-providers');

/** Replace the Mib's providers Proxy by one whose traps report success (strict-mode safe). */
export function fixMibProxy<T extends { providers: any; providersByOid: any }>(mib: T): T {
  if ((mib as any)[SAFE]) return mib;
  const target: Record<string, any> = {};
  for (const k of Object.keys(mib.providers)) target[k] = mib.providers[k];
  const byOid = mib.providersByOid;
  mib.providers = new Proxy(target, {
    set(t, key, value) {
      t[key as string] = value;
      if (value && value.oid) byOid[value.oid] = value;
      return true;
    },
    deleteProperty(t, key) {
      const old = t[key as string];
      if (old && old.oid) delete byOid[old.oid];
      delete t[key as string];
      return true;
    },
  });
  (mib as any)[SAFE] = true;
  return mib;
}

/** A net-snmp Mib with the fixes applied. */
export function createMib(): any {
  applyGlobalFixes();
  return fixMibProxy(snmp.createMib());
}

// ---------------------------------------------------------------- 1. framing

export const AGENTX_HEADER = 20;

/**
 * Returns a 'data' listener that reassembles an AgentX byte stream and calls onPdu once per
 * complete PDU (header + payload_length), however the stream was cut into reads.
 */
export function frameAgentX(onPdu: (pdu: Buffer) => void, onError: (e: Error) => void = () => {}): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    while (pending.length >= AGENTX_HEADER) {
      const bigEndian = (pending[2] & 0x10) !== 0; // NETWORK_BYTE_ORDER flag
      const len = bigEndian ? pending.readUInt32BE(16) : pending.readUInt32LE(16);
      if (len > 16 * 1024 * 1024) { onError(new Error(`AgentX PDU of ${len} bytes: stream out of sync`)); pending = Buffer.alloc(0); return; }
      if (pending.length < AGENTX_HEADER + len) break;
      const one = pending.subarray(0, AGENTX_HEADER + len);
      pending = pending.subarray(AGENTX_HEADER + len);
      try { onPdu(Buffer.from(one)); } catch (e) { onError(e as Error); }
    }
    // Keep no reference into the chunk: with `onread` the next read overwrites it.
    if (pending.length && pending.buffer === chunk.buffer) pending = Buffer.from(pending);
  };
}

/** Swap the library's one-read-one-PDU listener for the framing one. */
export function fixFraming(sa: any): void {
  sa.socket.removeAllListeners('data');
  sa.socket.on('data', frameAgentX((pdu) => (sa.onPdu ?? sa.onMsg).call(sa, pdu), (e) => sa.emit('pduError', e)));
}

// ---------------------------------------------------------------- 8. the subagent's socket

let SubagentClass: (new (options: object) => any) | undefined;

/**
 * net-snmp's Subagent constructor. The package exports only createSubagent(), which connects at
 * once with a plain socket; the constructor is reached through one instance whose connect cannot
 * succeed (nothing can exist under /dev/null) and whose socket is destroyed at once.
 */
function subagentClass(): new (options: object) => any {
  if (!SubagentClass) {
    const probe = snmp.createSubagent({ masterPort: '/dev/null/ha-oscar-no-master' });
    probe.on('error', () => {});
    probe.socket.on('error', () => {});
    probe.socket.destroy();
    SubagentClass = Object.getPrototypeOf(probe).constructor;
  }
  return SubagentClass!;
}

/**
 * A library Subagent (open, register, notify, ping, Response matching all unchanged) whose socket
 * reads into one reused 64 KiB buffer (net `onread`: no per-read buffer, no Readable stream) and
 * frames the PDUs from there (bug 1). PDUs go to `onPdu` when set (serveReads), else the library.
 * Events as the library's: 'error', 'close'; 'pduError' for a stream out of sync.
 */
export function createSubagent(options: { master?: string; masterPort: number | string; description?: string; timeout?: number }): any {
  applyGlobalFixes();
  const sa = new (subagentClass())(options);
  const frame = frameAgentX((pdu) => (sa.onPdu ?? sa.onMsg).call(sa, pdu), (e) => sa.emit('pduError', e));
  const buffer = Buffer.allocUnsafe(64 * 1024);
  const onread = { buffer, callback: (n: number, buf: Uint8Array): boolean => { frame((buf as Buffer).subarray(0, n)); return true; } };
  sa.socket = typeof options.masterPort === 'string'
    ? createConnection({ path: options.masterPort, onread })
    : createConnection({ port: options.masterPort, host: options.master ?? 'localhost', onread });
  sa.socket.on('error', (e: Error) => sa.onError(e));
  sa.socket.on('close', () => sa.onClose());
  return sa;
}

// ---------------------------------------------------------------- 6. read requests

type Oid = number[];
/**
 * One instance of the Mib in the read index. `enc`: its varbind, encoded (AgentX, big-endian)
 * for the value it had then (`encFor`); re-encoded only when the value changed (a new snapshot
 * is a new Mib and a new index; haOscarClusterDataAge is updated in place between snapshots).
 */
interface Instance { oid: Oid; str: string; node: any; enc?: Buffer; encFor?: unknown; encType?: number }

function cmpOid(a: Oid, b: Oid): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return a.length - b.length;
}

const indexes = new WeakMap<object, Instance[]>();

/** Every instance (node with a value) of the Mib, in OID order. Built once per Mib. */
export function indexMib(mib: any): Instance[] {
  const have = indexes.get(mib);
  if (have) return have;
  const out: Instance[] = [];
  const walk = (node: any, path: Oid) => {
    if (node.valueType !== undefined && node.value !== undefined) out.push({ oid: path, str: path.join('.'), node });
    const keys = Object.keys(node.children ?? {}).map(Number).sort((a, b) => a - b);
    for (const k of keys) walk(node.children[k], [...path, k]);
  };
  walk(mib.root, []);
  indexes.set(mib, out);
  return out;
}

/** First instance after `start` (at or after when include), before `end` when given. */
export function nextInstance(index: Instance[], start: Oid, include: boolean, end: Oid | null): Instance | undefined {
  let lo = 0;
  let hi = index.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const c = cmpOid(index[mid].oid, start);
    if (c < 0 || (c === 0 && !include)) lo = mid + 1; else hi = mid;
  }
  const hit = index[lo];
  if (!hit) return undefined;
  if (end && end.length && cmpOid(hit.oid, end) >= 0) return undefined;
  return hit;
}

/** The instance's varbind bytes, from the cache unless its value or type changed since. */
export function encodedInstance(i: Instance): Buffer {
  const { value, valueType } = i.node;
  if (i.enc === undefined || i.encFor !== value || i.encType !== valueType) {
    i.enc = encodeVarbind({ oid: i.oid, type: valueType, value });
    i.encFor = value;
    i.encType = valueType;
  }
  return i.enc;
}

interface Range { start: Oid; include: boolean; end: Oid | null }

/** Parse the search ranges of an agentx Get/GetNext/GetBulk PDU (RFC 2741 5.2), both byte orders. */
export function parseReadPdu(b: Buffer): { type: number; flags: number; sessionID: number; transactionID: number; packetID: number; nonRepeaters: number; maxRepetitions: number; ranges: Range[] } {
  const flags = b[2];
  const be = (flags & 0x10) !== 0;
  const u32 = (o: number) => (be ? b.readUInt32BE(o) : b.readUInt32LE(o));
  const u16 = (o: number) => (be ? b.readUInt16BE(o) : b.readUInt16LE(o));
  const end = 20 + u32(16);
  let off = 20;
  if (flags & 0x08) { const len = u32(off); off += 4 + len + ((4 - (len % 4)) % 4); } // non-default context
  let nonRepeaters = 0;
  let maxRepetitions = 0;
  if (b[1] === AgentXPduType.GetBulk) { nonRepeaters = u16(off); maxRepetitions = u16(off + 2); off += 4; }
  const readOid = (): { oid: Oid; include: boolean } => {
    const n = b[off]; const prefix = b[off + 1]; const include = b[off + 2] === 1;
    off += 4;
    const oid: Oid = n === 0 && prefix === 0 ? [] : prefix ? [1, 3, 6, 1, prefix] : [];
    for (let i = 0; i < n; i++, off += 4) oid.push(u32(off));
    return { oid, include };
  };
  const ranges: Range[] = [];
  while (off < end) {
    const s = readOid();
    const e = readOid();
    ranges.push({ start: s.oid, include: s.include, end: e.oid.length ? e.oid : null });
  }
  return { type: b[1], flags, sessionID: u32(4), transactionID: u32(8), packetID: u32(12), nonRepeaters, maxRepetitions, ranges };
}

/** Encode an OID the AgentX way (RFC 2741 5.1), with the 1.3.6.1.x prefix compressed. */
function oidParts(oid: string | Oid): { prefix: number; sub: number[] } {
  const a = typeof oid === 'string' ? (oid ? oid.split('.').map(Number) : []) : oid;
  if (a.length >= 5 && a[0] === 1 && a[1] === 3 && a[2] === 6 && a[3] === 1 && a[4] > 0 && a[4] < 256) return { prefix: a[4], sub: a.slice(5) };
  return { prefix: 0, sub: a };
}

type Varbind = { oid: string | Oid; type: number; value: unknown };

/** One varbind of a Response (RFC 2741 5.4), big-endian: type, reserved, OID, value. */
export function encodeVarbind(v: Varbind): Buffer {
  const o = oidParts(v.oid);
  let data: Buffer | null = null;
  let fixed = 0;
  switch (v.type) {
    case ObjectType.Integer: case ObjectType.Counter: case ObjectType.Gauge: case ObjectType.TimeTicks: fixed = 4; break;
    case ObjectType.Counter64: fixed = 8; break;
    case ObjectType.OctetString: case ObjectType.Opaque:
      data = Buffer.isBuffer(v.value) ? v.value : Buffer.from(String(v.value ?? ''), 'utf8'); break;
    case ObjectType.IpAddress: data = Buffer.from(String(v.value).split('.').map(Number)); break;
    case ObjectType.OID: break;
    default: break; // Null, NoSuchObject, NoSuchInstance, EndOfMibView: no value
  }
  const valueOid = v.type === ObjectType.OID ? oidParts(String(v.value ?? '')) : null;
  const size = 4 + 4 + 4 * o.sub.length + fixed + (data ? 4 + data.length + ((4 - (data.length % 4)) % 4) : 0) + (valueOid ? 4 + 4 * valueOid.sub.length : 0);
  const b = Buffer.alloc(size);
  let off = 0;
  const putOid = (x: { prefix: number; sub: number[] }) => {
    b[off] = x.sub.length; b[off + 1] = x.prefix; off += 4;
    for (const n of x.sub) { b.writeUInt32BE(n >>> 0, off); off += 4; }
  };
  b.writeUInt16BE(v.type, off); off += 4;
  putOid(o);
  switch (v.type) {
    case ObjectType.Integer: b.writeInt32BE(Number(v.value) | 0, off); off += 4; break;
    case ObjectType.Counter: case ObjectType.Gauge: case ObjectType.TimeTicks: b.writeUInt32BE(Number(v.value) >>> 0, off); off += 4; break;
    case ObjectType.Counter64: b.writeBigUInt64BE(toCounter64(v.value), off); off += 8; break;
    default:
      if (data) { b.writeUInt32BE(data.length, off); off += 4; data.copy(b, off); off += data.length + ((4 - (data.length % 4)) % 4); }
      if (valueOid) putOid(valueOid);
  }
  return b;
}

interface ResponseHeader { sessionID: number; transactionID: number; packetID: number; sysUpTime?: number; error?: number; index?: number }

/** agentx-Response-PDU (big-endian) from varbinds already encoded: one Buffer, one copy each. */
export function responseFromEncoded(r: ResponseHeader, encoded: readonly Buffer[]): Buffer {
  let payload = 8;
  for (const e of encoded) payload += e.length;
  const b = Buffer.allocUnsafe(20 + payload); // every byte is written below
  b[0] = 1; b[1] = AgentXPduType.Response; b[2] = 0x10; b[3] = 0;
  b.writeUInt32BE(r.sessionID >>> 0, 4); b.writeUInt32BE(r.transactionID >>> 0, 8); b.writeUInt32BE(r.packetID >>> 0, 12); b.writeUInt32BE(payload, 16);
  b.writeUInt32BE((r.sysUpTime ?? 0) >>> 0, 20); b.writeUInt16BE(r.error ?? 0, 24); b.writeUInt16BE(r.index ?? 0, 26);
  let off = 28;
  for (const e of encoded) { e.copy(b, off); off += e.length; }
  return b;
}

/**
 * agentx-Response-PDU, big-endian. The library's encoder (SmartBuffer) costs about 0.4 ms per
 * PDU, which was most of a walk's time; this one writes straight into one Buffer.
 * Same bytes as AgentXPdu.toBuffer() (checked by the tests).
 */
export function encodeResponse(r: ResponseHeader & { varbinds: { oid: string; type: number; value: unknown }[] }): Buffer {
  return responseFromEncoded(r, r.varbinds.map(encodeVarbind));
}

/**
 * Answer Get, GetNext and GetBulk from a sorted index of the current Mib; every other PDU goes
 * to the library. `objects`: object type OIDs, for noSuchInstance vs noSuchObject.
 * GetNext/GetBulk answers are copied from each instance's cached encoding (encodedInstance).
 */
export function serveReads(sa: any, objects: () => readonly string[]): void {
  const libraryOnMsg = sa.onMsg;
  sa.onPdu = function (buf: Buffer) {
    const type = buf[1];
    if (type !== AgentXPduType.Get && type !== AgentXPduType.GetNext && type !== AgentXPduType.GetBulk) return libraryOnMsg.call(sa, buf);
    const req = parseReadPdu(buf);
    const mib = sa.mib;
    const encoded: Buffer[] = [];
    const eom = (r: Range) => encodeVarbind({ oid: r.start, type: ObjectType.EndOfMibView, value: null });
    if (type === AgentXPduType.Get) {
      for (const r of req.ranges) encoded.push(encodeVarbind(answerGet(mib, objects(), r.start.join('.'))));
    } else {
      const index = indexMib(mib);
      const nonRep = type === AgentXPduType.GetBulk ? Math.min(req.nonRepeaters, req.ranges.length) : req.ranges.length;
      for (let k = 0; k < nonRep; k++) { const r = req.ranges[k]; const h = nextInstance(index, r.start, r.include, r.end); encoded.push(h ? encodedInstance(h) : eom(r)); }
      if (type === AgentXPduType.GetBulk) {
        const rep = req.ranges.slice(nonRep).map((r) => ({ ...r }));
        for (let i = 0; i < req.maxRepetitions && rep.length; i++) {
          let live = 0;
          for (const r of rep) {
            const h = nextInstance(index, r.start, r.include, r.end);
            if (h) { encoded.push(encodedInstance(h)); r.start = h.oid; r.include = false; live++; } else encoded.push(eom(r));
          }
          if (!live) break;
        }
      }
    }
    sa.socket.write(responseFromEncoded({ sessionID: req.sessionID, transactionID: req.transactionID, packetID: req.packetID }, encoded));
  };
}

// ---------------------------------------------------------------- 5. Get answers

export interface ObjectIndex {
  /** OIDs of the object types (scalar OIDs and table column OIDs), without instance. */
  objects: string[];
}

function under(oid: string, prefix: string): boolean {
  return oid.startsWith(prefix + '.');
}

/**
 * The varbind a Get should answer for `oid`: the value, or noSuchInstance when the object type
 * is ours but the instance (row, or scalar .N other than .0) is not there, or noSuchObject.
 */
export function answerGet(mib: any, objects: readonly string[], oid: string): { oid: string; type: number; value: unknown } {
  const node = oid ? mib.lookup(oid) : null;
  if (node && node.valueType !== undefined && node.value !== undefined && node.value !== null) {
    return { oid, type: node.valueType, value: node.value };
  }
  const known = objects.some((o) => under(oid, o));
  return { oid, type: known ? ObjectType.NoSuchInstance : ObjectType.NoSuchObject, value: null };
}

/** Replace the Subagent's Get handler with one that uses answerGet (read-only agent). */
export function fixGet(sa: any, objects: () => readonly string[]): void {
  sa.getRequest = function (pdu: any) {
    const varbinds = pdu.searchRangeList.map((r: any) => answerGet(sa.mib, objects(), r.start));
    sa.sendResponse(pdu.getResponsePduForRequest(), varbinds);
  };
}

// ---------------------------------------------------------------- 3. reconnect

export interface ResilientOptions {
  /** AgentX master: a Unix socket path, or host:port for TCP. */
  master: string;
  description: string;
  /** Subtrees to register after each (re)open. */
  subtrees: string[];
  /** Object type OIDs, for noSuchInstance vs noSuchObject. */
  objects: () => readonly string[];
  /** The Mib to answer from (looked up on every request: swap it to publish a new snapshot). */
  mib: () => any;
  /** Delay before the first reconnect; doubles up to maxDelayMs. */
  retryMs?: number;
  maxRetryMs?: number;
  /** AgentX ping interval, to notice a silently dead master. 0: off. */
  pingMs?: number;
  timeoutMs?: number;
}

/** A notification could not be handed to the master because the session is down: send it again later. */
export class SessionLostError extends Error {}

/**
 * A net-snmp Subagent that re-opens its session and re-registers its subtrees whenever the
 * master goes away (snmpd restart), with the framing, Proxy, Counter64 and Get fixes applied.
 * Events: 'registered' (each time the session is up), 'down' (reason), 'error' (Error).
 */
export class ResilientSubagent extends EventEmitter {
  private sa: any = null;
  private readonly inflight = new Set<(e: SessionLostError) => void>();
  private stopped = false;
  private timer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private delay: number;
  public connected = false;
  public sessions = 0;

  constructor(private readonly opts: ResilientOptions) {
    super();
    applyGlobalFixes();
    this.delay = opts.retryMs ?? 500;
  }

  start(): void {
    this.stopped = false;
    this.connect();
  }

  private masterArgs(): { master?: string; masterPort: number | string } {
    const m = this.opts.master;
    if (m.startsWith('/') ) return { masterPort: m };
    if (m.startsWith('unix:')) return { masterPort: m.slice(5) };
    const t = /^(?:tcp:)?(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(m);
    if (!t) throw new Error(`AgentX master "${m}": expected a socket path or host:port`);
    return { master: t[1] ?? t[2], masterPort: Number(t[3]) };
  }

  private connect(): void {
    if (this.stopped) return;
    const sa = createSubagent({ ...this.masterArgs(), description: this.opts.description, timeout: this.opts.timeoutMs ? Math.ceil(this.opts.timeoutMs / 1000) : 0 });
    this.sa = sa;
    fixMibProxy(sa.mib);
    fixGet(sa, this.opts.objects);
    serveReads(sa, this.opts.objects);
    // The library handlers look up this.mib on each request: make it follow our snapshot.
    Object.defineProperty(sa, 'mib', { get: () => this.opts.mib(), set: () => {}, configurable: true });
    let opened = false;
    sa.on('error', (e: Error) => { if (this.sa === sa) this.down(sa, e.message); });
    sa.on('close', () => { if (this.sa === sa) this.down(sa, 'connection closed'); });
    sa.on('pduError', (e: Error) => this.emit('error', e));
    sa.socket.once('connect', () => {
      sa.open((err: Error | null, pdu: any) => {
        if (err || (pdu && pdu.error)) { this.down(sa, `open refused (error ${pdu?.error ?? err?.message})`); return; }
        opened = true;
        let left = this.opts.subtrees.length;
        for (const oid of this.opts.subtrees) {
          const reg = AgentXPdu.createFromVariables({ pduType: AgentXPduType.Register, sessionID: sa.sessionID, rangeSubid: 0, timeout: 5, priority: 127, oid });
          sa.sendPdu(reg, (e2: Error | null, r: any) => {
            if (e2 || (r && r.error)) { this.emit('error', new Error(`AgentX register ${oid} refused (error ${r?.error ?? e2?.message})`)); }
            if (--left === 0 && this.sa === sa) {
              this.connected = true;
              this.sessions++;
              this.delay = this.opts.retryMs ?? 500;
              this.emit('registered', this.sessions);
              this.startPing(sa);
            }
          });
        }
      });
    });
    void opened;
  }

  private startPing(sa: any): void {
    if (!this.opts.pingMs) return;
    if (this.pingTimer) clearInterval(this.pingTimer);
    let outstanding = 0;
    this.pingTimer = setInterval(() => {
      if (this.sa !== sa) return;
      if (outstanding >= 3) { this.down(sa, 'master does not answer pings'); return; }
      outstanding++;
      sa.ping(() => { outstanding = 0; });
    }, this.opts.pingMs);
    this.pingTimer.unref();
  }

  private down(sa: any, reason: string): void {
    if (this.sa !== sa) return;
    this.sa = null;
    const was = this.connected;
    this.connected = false;
    if (this.pingTimer) { clearInterval(this.pingTimer); this.pingTimer = null; }
    try { sa.socket.destroy(); } catch { /* gone */ }
    this.failInflight(reason);
    if (was) this.emit('down', reason);
    if (this.stopped) return;
    this.timer = setTimeout(() => { this.timer = null; this.connect(); }, this.delay);
    this.delay = Math.min(this.delay * 2, this.opts.maxRetryMs ?? 5_000);
  }

  /**
   * Send a notification through the master (it goes to snmpd's trap sinks). Rejects with a
   * SessionLostError when the session is not open, or is lost before the master answered (the
   * library would never call back then); with a plain Error when the master refused it.
   */
  notify(trapOid: string, varbinds: { oid: string; type: number; value: unknown }[]): Promise<void> {
    const sa = this.sa;
    if (!sa || !this.connected) return Promise.reject(new SessionLostError('AgentX session is not open'));
    return new Promise((resolve, reject) => {
      const lost = (e: SessionLostError) => reject(e);
      this.inflight.add(lost);
      sa.notify(trapOid, varbinds, (e: Error | null, pdu: any) => {
        if (!this.inflight.delete(lost)) return;
        if (e || pdu?.error) reject(new Error(`AgentX notify refused (error ${pdu?.error ?? e?.message})`)); else resolve();
      });
    });
  }

  private failInflight(reason: string): void {
    const waiting = [...this.inflight];
    this.inflight.clear();
    for (const lost of waiting) lost(new SessionLostError(`AgentX session lost before the master answered (${reason})`));
  }

  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    if (this.pingTimer) { clearInterval(this.pingTimer); this.pingTimer = null; }
    const sa = this.sa;
    this.sa = null;
    this.connected = false;
    this.failInflight('stopped');
    if (!sa) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { try { sa.socket.destroy(); } catch { /* gone */ } resolve(); };
      const t = setTimeout(done, 1000);
      try { sa.close(() => { clearTimeout(t); done(); }); } catch { clearTimeout(t); done(); }
    });
  }
}

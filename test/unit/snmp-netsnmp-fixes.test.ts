// Each known net-snmp (npm) AgentX bug: a test that reproduces it with the plain library,
// and shows the fix in src/snmp/netsnmp-fixes.ts.
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  snmp, unpatched, applyGlobalFixes, frameAgentX, fixFraming, answerGet, createMib, toCounter64, ResilientSubagent, serveReads, indexMib, nextInstance, encodeResponse, encodedInstance, encodeVarbind,
  AgentXPdu, AgentXPduType, ObjectType, MibProviderType, MaxAccess,
} from '../../src/snmp/netsnmp-fixes';
import { run } from '../../src/service/run';
import { buildMib, OBJECT_TYPES } from '../../src/snmp/mib-def';
import { emptySnapshot } from '../../src/snmp/subagent';
import type { Snapshot } from '../../src/snmp/model';

const repo = join(__dirname, '..', '..');

/** net-snmp's own SmartBuffer class, taken from the encoder (smart-buffer is not our dependency). */
const SmartBuffer: any = (() => {
  let C: any;
  const orig = AgentXPdu.prototype.writeHeader;
  AgentXPdu.prototype.writeHeader = function (b: any) { C = b.constructor; return orig.call(this, b); };
  try { AgentXPdu.createFromVariables({ pduType: AgentXPduType.Ping, sessionID: 1 }).toBuffer(); } finally { AgentXPdu.prototype.writeHeader = orig; }
  return C;
})();
const dirs: string[] = [];
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const sockPath = () => { const d = mkdtempSync(join(tmpdir(), 'dv7-ax-')); dirs.push(d); return join(d, 'master.sock'); };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Req { type: number; sessionID: number; transactionID: number; packetID: number; raw: Buffer }

/** A minimal AgentX master on a Unix socket (or TCP: a port number, 0 for any). `batch`: answer N requests in ONE write. */
function fakeMaster(path: string | number, opts: { batch?: number } = {}) {
  const conns: Socket[] = [];
  const reqs: Req[] = [];
  const responses: Buffer[] = [];
  let queued: Buffer[] = [];
  const server: Server = createServer((sock) => {
    conns.push(sock);
    sock.on('error', () => {});
    sock.on('data', frameAgentX((b) => {
      const r: Req = { type: b[1], sessionID: b.readUInt32BE(4), transactionID: b.readUInt32BE(8), packetID: b.readUInt32BE(12), raw: b };
      if (r.type === AgentXPduType.Response) { responses.push(b); return; }
      reqs.push(r);
      const resp = AgentXPdu.createFromVariables({ pduType: AgentXPduType.Response, sessionID: r.type === AgentXPduType.Open ? 77 : r.sessionID, transactionID: r.transactionID, packetID: r.packetID }).toBuffer();
      if (r.type === AgentXPduType.Register && opts.batch) {
        queued.push(resp);
        if (queued.length === opts.batch) { sock.write(Buffer.concat(queued)); queued = []; }
      } else sock.write(resp);
    }));
  });
  if (typeof path === 'number') server.listen(path, '127.0.0.1'); else server.listen(path);
  cleanups.push(() => new Promise<void>((r) => { for (const c of conns) c.destroy(); server.close(() => r()); }));
  return { server, conns, reqs, responses };
}

function oidBytes(oid: string, include = 0): Buffer {
  const parts = oid.split('.').map(Number);
  let prefix = 0;
  let sub = parts;
  if (parts.length > 4 && parts.slice(0, 4).join('.') === '1.3.6.1') { prefix = parts[4]; sub = parts.slice(5); }
  const b = Buffer.alloc(4 + 4 * sub.length);
  b[0] = sub.length; b[1] = prefix; b[2] = include;
  sub.forEach((s, i) => b.writeUInt32BE(s, 4 + 4 * i));
  return b;
}

/** agentx-Get-PDU for one OID. */
function getPdu(sessionID: number, oid: string, packetID = 9001): Buffer {
  const payload = Buffer.concat([oidBytes(oid), Buffer.alloc(4)]);
  const h = Buffer.alloc(20);
  h[0] = 1; h[1] = AgentXPduType.Get; h[2] = 0x10;
  h.writeUInt32BE(sessionID, 4); h.writeUInt32BE(1, 8); h.writeUInt32BE(packetID, 12); h.writeUInt32BE(payload.length, 16);
  return Buffer.concat([h, payload]);
}

const openSubagent = (sa: any) => new Promise<void>((res, rej) => { sa.on('error', rej); sa.socket.once('connect', () => sa.open((e: Error | null) => (e ? rej(e) : res()))); });

describe('bug 1: one PDU per read', () => {
  async function registerSix(fix: boolean): Promise<number> {
    const path = sockPath();
    fakeMaster(path, { batch: 6 });
    await sleep(50);
    const sa = snmp.createSubagent({ masterPort: path });
    cleanups.push(() => sa.socket.destroy());
    if (fix) fixFraming(sa);
    await openSubagent(sa);
    let callbacks = 0;
    for (let i = 1; i <= 6; i++) {
      sa.registerProvider({ name: `p${i}`, type: MibProviderType.Scalar, oid: `1.3.6.1.3.7460.1.1.${i}`, scalarType: ObjectType.Integer, maxAccess: MaxAccess['read-only'] }, () => { callbacks++; });
    }
    await sleep(400);
    return callbacks;
  }

  it('plain library: six responses in one read give one callback', async () => {
    expect(await registerSix(false)).toBe(1);
  });

  it('fixed: six callbacks', async () => {
    expect(await registerSix(true)).toBe(6);
  });

  it('the framer splits and joins arbitrary cuts', () => {
    const pdus = [1, 2, 3].map((i) => AgentXPdu.createFromVariables({ pduType: AgentXPduType.Response, sessionID: 1, packetID: i, varbinds: [{ oid: `1.3.6.1.3.7460.1.${i}.0`, type: ObjectType.OctetString, value: 'x'.repeat(i * 5) }] }).toBuffer());
    const all = Buffer.concat(pdus);
    const got: number[] = [];
    const f = frameAgentX((b) => got.push(b.readUInt32BE(12)));
    for (let i = 0; i < all.length; i += 7) f(all.subarray(i, i + 7));
    expect(got).toEqual([1, 2, 3]);
  });
});

describe('bug 2: Mib providers Proxy in strict code', () => {
  it('plain library throws in a strict bundle; the fixed Mib works', async () => {
    const { bundle } = await import(join(repo, 'scripts', 'build.mjs'));
    const d = mkdtempSync(join(tmpdir(), 'dv7-strict-')); dirs.push(d);
    const out = await bundle(join(repo, 'test', 'fixtures', 'snmp', 'strict-mib-entry.ts'), join(d, 'strict.js'), { strict: true, lazy: false }); // lazy: false = net-snmp inlined, as strict as the rest
    const plain = await run(process.execPath, [out, 'plain']);
    expect(plain.stdout).toContain("'set' on proxy: trap returned falsish");
    const fixed = await run(process.execPath, [out, 'fixed']);
    expect(fixed.stdout.trim()).toBe('ok hello 0');
  });
});

describe('bug 3: no reconnect after the master goes away', () => {
  it('plain library stays disconnected', async () => {
    const path = sockPath();
    const m = fakeMaster(path);
    await sleep(50);
    const sa = snmp.createSubagent({ masterPort: path });
    sa.on('error', () => {});
    cleanups.push(() => sa.socket.destroy());
    await openSubagent(sa);
    m.conns[0].destroy();
    await sleep(1500);
    expect(m.conns).toHaveLength(1);
  });

  it('ResilientSubagent re-opens and re-registers', async () => {
    const path = sockPath();
    const m = fakeMaster(path);
    await sleep(50);
    const mib = createMib();
    const rs = new ResilientSubagent({ master: path, description: 'dv7', subtrees: ['1.3.6.1.3.7460.1'], objects: () => [], mib: () => mib, retryMs: 100 });
    cleanups.push(() => rs.stop());
    const registered: number[] = [];
    rs.on('registered', (n: number) => registered.push(n));
    rs.start();
    await sleep(300);
    expect(registered).toEqual([1]);
    m.conns[0].destroy();
    await sleep(800);
    expect(registered).toEqual([1, 2]);
    expect(m.conns).toHaveLength(2);
    expect(m.reqs.filter((r) => r.type === AgentXPduType.Register)).toHaveLength(2);
    expect(m.reqs.filter((r) => r.type === AgentXPduType.Open)).toHaveLength(2);
  });
});

describe('bug 4: Counter64 through Number', () => {
  const MAX = 18446744073709551615n;
  it('plain library loses precision and accepts 2^64', () => {
    expect(unpatched.castSetValue(ObjectType.Counter64, MAX.toString())).not.toBe(MAX);
    expect(unpatched.isValid(ObjectType.Counter64, '18446744073709551616')).toBe(true);
    const pdu = AgentXPdu.createFromVariables({ pduType: AgentXPduType.Notify, sessionID: 1, varbinds: [{ oid: '1.3.6.1.3.7460.1.1.10.0', type: ObjectType.Counter64, value: MAX }] }).toBuffer();
    const buf = SmartBuffer.fromBuffer(pdu.subarray(20));
    expect(() => unpatched.readVarbind(buf)).toThrow();
  });

  it('fixed: exact BigInt both ways, out-of-range refused', () => {
    applyGlobalFixes();
    expect(snmp.ObjectTypeUtil.castSetValue(ObjectType.Counter64, MAX.toString())).toBe(MAX);
    expect(snmp.ObjectTypeUtil.isValid(ObjectType.Counter64, '18446744073709551616')).toBe(false);
    expect(snmp.ObjectTypeUtil.isValid(ObjectType.Counter64, MAX)).toBe(true);
    const pdu = AgentXPdu.createFromVariables({ pduType: AgentXPduType.Notify, sessionID: 1, varbinds: [{ oid: '1.3.6.1.3.7460.1.1.10.0', type: ObjectType.Counter64, value: MAX.toString() }] }).toBuffer();
    expect(snmp.AgentXPdu.readVarbind(SmartBuffer.fromBuffer(pdu.subarray(20)))).toEqual({ type: ObjectType.Counter64, oid: '1.3.6.1.3.7460.1.1.10.0', value: MAX });
    expect(() => toCounter64(2 ** 60)).toThrow(/not a safe integer/);
    expect(() => AgentXPdu.createFromVariables({ pduType: AgentXPduType.Notify, sessionID: 1, varbinds: [{ oid: '1.3.6.1.3.7460.1.1.10.0', type: ObjectType.Counter64, value: 2 ** 60 }] }).toBuffer()).toThrow(/safe integer/);
  });
});

describe('bug 5: a missing row answers noSuchObject', () => {
  function tableMib(mib: any) {
    mib.registerProvider({ name: 't', type: MibProviderType.Table, oid: '1.3.6.1.3.7460.1.2.1', maxAccess: MaxAccess['not-accessible'], tableIndex: [{ columnName: 'i' }],
      tableColumns: [{ number: 1, name: 'i', type: ObjectType.Integer, maxAccess: MaxAccess['not-accessible'] }, { number: 2, name: 'n', type: ObjectType.OctetString, maxAccess: MaxAccess['read-only'] }] });
    mib.addTableRow('t', [1, 'head1']);
    return mib;
  }

  async function getType(fix: boolean, oid: string): Promise<number> {
    const path = sockPath();
    const m = fakeMaster(path);
    await sleep(50);
    const sa = snmp.createSubagent({ masterPort: path });
    cleanups.push(() => sa.socket.destroy());
    fixFraming(sa);
    tableMib(sa.mib);
    if (fix) {
      const objects = ['1.3.6.1.3.7460.1.2.1.2'];
      sa.getRequest = (pdu: any) => sa.sendResponse(pdu.getResponsePduForRequest(), pdu.searchRangeList.map((r: any) => answerGet(sa.mib, objects, r.start)));
    }
    await openSubagent(sa);
    m.conns[0].write(getPdu(77, oid));
    await new Promise<void>((r) => { const t = setInterval(() => { if (m.responses.length) { clearInterval(t); r(); } }, 20); });
    return m.responses[0].readUInt16BE(28);
  }

  it('plain library: noSuchObject for a missing row of an existing column', async () => {
    expect(await getType(false, '1.3.6.1.3.7460.1.2.1.2.99')).toBe(ObjectType.NoSuchObject);
  });

  it('fixed: noSuchInstance; noSuchObject only outside the object types; values still answered', async () => {
    expect(await getType(true, '1.3.6.1.3.7460.1.2.1.2.99')).toBe(ObjectType.NoSuchInstance);
    expect(await getType(true, '1.3.6.1.3.7460.1.2.1.2.1')).toBe(ObjectType.OctetString);
    const mib = tableMib(createMib());
    expect(answerGet(mib, ['1.3.6.1.3.7460.1.2.1.2'], '1.3.6.1.3.7460.1.2.1.9.1').type).toBe(ObjectType.NoSuchObject);
    expect(answerGet(mib, ['1.3.6.1.3.7460.1.2.1.2'], '1.3.6.1.3.7460.1.2.1.2').type).toBe(ObjectType.NoSuchObject);
  });
});

/** agentx-GetNext/GetBulk-PDU with explicit include flags and range ends. */
function readPdu(type: number, sessionID: number, ranges: { start: string; include?: boolean; end?: string }[], bulk?: { nonRepeaters: number; maxRepetitions: number }): Buffer {
  const parts: Buffer[] = [];
  if (bulk) { const b = Buffer.alloc(4); b.writeUInt16BE(bulk.nonRepeaters, 0); b.writeUInt16BE(bulk.maxRepetitions, 2); parts.push(b); }
  for (const r of ranges) parts.push(oidBytes(r.start, r.include ? 1 : 0), r.end ? oidBytes(r.end) : Buffer.alloc(4));
  const payload = Buffer.concat(parts);
  const h = Buffer.alloc(20);
  h[0] = 1; h[1] = type; h[2] = 0x10;
  h.writeUInt32BE(sessionID, 4); h.writeUInt32BE(1, 8); h.writeUInt32BE(4242, 12); h.writeUInt32BE(payload.length, 16);
  return Buffer.concat([h, payload]);
}

/** The varbinds (type, oid) of an agentx-Response-PDU. */
function responseVarbinds(b: Buffer): [number, string][] {
  const out: [number, string][] = [];
  let off = 28;
  while (off < b.length) {
    const type = b.readUInt16BE(off); off += 4;
    const n = b[off]; const prefix = b[off + 1]; off += 4;
    const oid = [...(prefix ? [1, 3, 6, 1, prefix] : [])];
    for (let i = 0; i < n; i++, off += 4) oid.push(b.readUInt32BE(off));
    out.push([type, oid.join('.')]);
    if (type === ObjectType.OctetString) { const len = b.readUInt32BE(off); off += 4 + len + ((4 - (len % 4)) % 4); } else if (type === ObjectType.Integer || type === ObjectType.Gauge) off += 4;
  }
  return out;
}

describe('bug 6: GetNext ignores include and range end, and walks the tree per varbind', () => {
  function scalars(mib: any) {
    for (const i of [1, 2, 3]) {
      mib.registerProvider({ name: `s${i}`, type: MibProviderType.Scalar, oid: `1.3.6.1.3.7460.1.1.${i}`, scalarType: ObjectType.Integer, maxAccess: MaxAccess['read-only'] });
      mib.setScalarValue(`s${i}`, i * 10);
    }
    return mib;
  }

  async function ask(fix: boolean, pdu: (sid: number) => Buffer): Promise<[number, string][]> {
    const path = sockPath();
    const m = fakeMaster(path);
    await sleep(50);
    const sa = snmp.createSubagent({ masterPort: path });
    cleanups.push(() => sa.socket.destroy());
    fixFraming(sa);
    scalars(sa.mib);
    if (fix) serveReads(sa, () => []);
    await openSubagent(sa);
    m.conns[0].write(pdu(77));
    await new Promise<void>((r) => { const t = setInterval(() => { if (m.responses.length) { clearInterval(t); r(); } }, 20); });
    return responseVarbinds(m.responses[0]);
  }

  const includeStart = (sid: number) => readPdu(AgentXPduType.GetNext, sid, [{ start: '1.3.6.1.3.7460.1.1.2.0', include: true }]);
  const bounded = (sid: number) => readPdu(AgentXPduType.GetNext, sid, [{ start: '1.3.6.1.3.7460.1.1.2.0', end: '1.3.6.1.3.7460.1.1.3' }]);

  it('plain library: skips the included start and crosses the range end', async () => {
    expect(await ask(false, includeStart)).toEqual([[ObjectType.Integer, '1.3.6.1.3.7460.1.1.3.0']]);
    expect(await ask(false, bounded)).toEqual([[ObjectType.Integer, '1.3.6.1.3.7460.1.1.3.0']]);
  });

  it('fixed: include and end honoured; GetBulk repeats and ends with endOfMibView', async () => {
    expect(await ask(true, includeStart)).toEqual([[ObjectType.Integer, '1.3.6.1.3.7460.1.1.2.0']]);
    expect(await ask(true, bounded)).toEqual([[ObjectType.EndOfMibView, '1.3.6.1.3.7460.1.1.2.0']]);
    const bulk = await ask(true, (sid) => readPdu(AgentXPduType.GetBulk, sid, [{ start: '1.3.6.1.3.7460.1.1.2.0' }, { start: '1.3.6.1.3.7460.1.1' }], { nonRepeaters: 1, maxRepetitions: 5 }));
    expect(bulk).toEqual([
      [ObjectType.Integer, '1.3.6.1.3.7460.1.1.3.0'],
      [ObjectType.Integer, '1.3.6.1.3.7460.1.1.1.0'], [ObjectType.Integer, '1.3.6.1.3.7460.1.1.2.0'], [ObjectType.Integer, '1.3.6.1.3.7460.1.1.3.0'],
      [ObjectType.EndOfMibView, '1.3.6.1.3.7460.1.1.3.0'],
    ]);
  });

  it('the index is sorted numerically, not as strings', () => {
    const mib = createMib();
    for (const i of [2, 10, 1]) {
      mib.registerProvider({ name: `x${i}`, type: MibProviderType.Scalar, oid: `1.3.6.1.3.7460.1.1.${i}`, scalarType: ObjectType.Integer, maxAccess: MaxAccess['read-only'] });
      mib.setScalarValue(`x${i}`, i);
    }
    const idx = indexMib(mib);
    expect(idx.map((i) => i.str)).toEqual(['1.3.6.1.3.7460.1.1.1.0', '1.3.6.1.3.7460.1.1.2.0', '1.3.6.1.3.7460.1.1.10.0']);
    expect(nextInstance(idx, [1, 3, 6, 1, 3, 7460, 1, 1, 2, 0], false, null)!.str).toBe('1.3.6.1.3.7460.1.1.10.0');
    expect(nextInstance(idx, [1, 3, 6, 1, 3, 7460, 1, 1, 10, 0], false, null)).toBeUndefined();
  });
});

describe('the Response encoder used by serveReads', () => {
  it('writes the same bytes as the library\'s AgentXPdu.toBuffer()', () => {
    applyGlobalFixes();
    const varbinds = [
      { oid: '1.3.6.1.3.7460.1.1.1.0', type: ObjectType.OctetString, value: 'oscar-heads' },
      { oid: '1.3.6.1.3.7460.1.1.2.0', type: ObjectType.Integer, value: -5 },
      { oid: '1.3.6.1.3.7460.1.1.4.0', type: ObjectType.Gauge, value: 4294967295 },
      { oid: '1.3.6.1.3.7460.1.1.10.0', type: ObjectType.Counter64, value: 18446744073709551615n },
      { oid: '1.3.6.1.3.7460.1.3.1.2.1', type: ObjectType.OctetString, value: 'head-1' },
      { oid: '1.3.6.1.3.7460.1.4.1.6.1', type: ObjectType.Counter, value: 7 },
      { oid: '1.3.6.1.2.1.1.2.0', type: ObjectType.OID, value: '1.3.6.1.4.1.8072.3.2.10' },
      { oid: '1.3.6.1.3.7460.1.9.0', type: ObjectType.NoSuchObject, value: null },
      { oid: '1.3.6.1.3.7460.1.2.1.2.9', type: ObjectType.NoSuchInstance, value: null },
      { oid: '1.3.6.1.3.7460.2', type: ObjectType.EndOfMibView, value: null },
      { oid: '2.5.4', type: ObjectType.TimeTicks, value: 100 },
    ];
    const lib = AgentXPdu.createFromVariables({ pduType: AgentXPduType.Response, sessionID: 3, transactionID: 4, packetID: 5, sysUpTime: 0, error: 0, index: 0, varbinds }).toBuffer();
    expect(encodeResponse({ sessionID: 3, transactionID: 4, packetID: 5, varbinds }).toString('hex')).toBe(lib.toString('hex'));
  });

  it('bug 7: the library writes a non-ASCII string\'s length in characters, not bytes; fixed in bytes', () => {
    const plain = new SmartBuffer();
    unpatched.writeOctetString(plain, 'héad');
    expect(plain.toBuffer().readUInt32BE(0)).toBe(4); // 'héad'.length, but 5 bytes follow: the PDU is corrupt
    applyGlobalFixes();
    const fixed = new SmartBuffer();
    AgentXPdu.writeOctetString(fixed, 'héad');
    expect(fixed.toBuffer().toString('hex')).toBe('00000005' + Buffer.from('héad').toString('hex') + '000000');
    const varbinds = [{ oid: '1.3.6.1.3.7460.1.1.1.0', type: ObjectType.OctetString, value: 'héad' }];
    const lib = AgentXPdu.createFromVariables({ pduType: AgentXPduType.Response, sessionID: 3, transactionID: 4, packetID: 5, varbinds }).toBuffer();
    expect(encodeResponse({ sessionID: 3, transactionID: 4, packetID: 5, varbinds }).toString('hex')).toBe(lib.toString('hex'));
  });
});

describe('8. the read index and cached encodings, through the onread socket', () => {
  // HA-OSCAR-MIB as the subagent publishes it: a Mib built from a snapshot, swapped on refresh.
  const R = '1.3.6.1.3.7460.1';
  function snapshot(resources: string[], dc = 'head1'): Snapshot {
    const s = emptySnapshot();
    s.cluster = { ...s.cluster, name: 'oscar', quorum: 1, dc, nodesConfigured: 2, nodesOnline: 2, resourcesConfigured: resources.length, failovers: 3n };
    s.nodes = [1, 2].map((i) => ({ index: i, name: `head${i}`, id: String(i), state: 1, isDc: i === 1 ? 1 : 2, running: 1, health: 1, healthAttributes: '' }));
    s.resources = resources.map((id, i) => ({ index: i + 1, id, agent: 'ocf:heartbeat:Dummy', role: 1, node: 'head1', failCount: 0, managed: 1, failed: 2, lastFailure: '' }));
    s.readAt = Date.now();
    return s;
  }

  /** Decoded varbinds [type, oid, value] of an agentx-Response-PDU (the library's decoder). */
  const decode = (b: Buffer) => AgentXPdu.readVarbinds(SmartBuffer.fromBuffer(b.subarray(28)), b.length - 28).map((v: any) => [v.type, v.oid, v.value]);

  async function session(tcp = false) {
    const path = tcp ? 0 : sockPath();
    const m = fakeMaster(path);
    await sleep(50);
    let mib = buildMib(snapshot(['r-a', 'r-b', 'r-c']));
    const master = tcp ? `127.0.0.1:${(m.server.address() as { port: number }).port}` : String(path);
    const rs = new ResilientSubagent({ master, description: 'dv7', subtrees: [R], objects: () => OBJECT_TYPES, mib: () => mib, retryMs: 100 });
    cleanups.push(() => rs.stop());
    rs.start();
    for (let i = 0; i < 50 && !rs.connected; i++) await sleep(20);
    expect(rs.connected).toBe(true);
    let packet = 5000;
    /** Send PDUs (all in one write, or cut into `cut`-byte writes), return each answer's varbinds. */
    const ask = async (pdus: Buffer[], cut = 0): Promise<unknown[][][]> => {
      const before = m.responses.length;
      const bytes = Buffer.concat(pdus.map((p) => { const c = Buffer.from(p); c.writeUInt32BE(++packet, 12); return c; }));
      if (cut) for (let i = 0; i < bytes.length; i += cut) { m.conns[0].write(bytes.subarray(i, i + cut)); await sleep(5); }
      else m.conns[0].write(bytes);
      for (let i = 0; i < 100 && m.responses.length < before + pdus.length; i++) await sleep(10);
      const got = m.responses.slice(before);
      expect(got.map((r) => r.readUInt32BE(12))).toEqual(pdus.map((_, i) => packet - pdus.length + 1 + i));
      return got.map(decode);
    };
    const next = (start: string, o: { include?: boolean; end?: string } = {}) => readPdu(AgentXPduType.GetNext, 77, [{ start, ...o }]);
    return { m, rs, ask, next, swap: (s: Snapshot) => { mib = buildMib(s); return mib; } };
  }

  it('GetNext crosses scalar -> table, column -> column and table -> table boundaries', async () => {
    const { ask, next } = await session();
    const [a, b, c, d, e] = await ask([
      next(`${R}.1.13.0`), // last scalar -> first node column (the index column is not-accessible)
      next(`${R}.2.1.2.2`), // last row of haOscarNodeName -> first row of haOscarNodeId
      next(`${R}.2.1.8.2`), // last cell of the node table -> the resource table
      next(`${R}.3.1.2`), // a column OID without instance -> its first row
      next(`${R}.1.10.0`, { include: true }), // Counter64, included start
    ]);
    expect(a).toEqual([[ObjectType.OctetString, `${R}.2.1.2.1`, 'head1']]);
    expect(b).toEqual([[ObjectType.OctetString, `${R}.2.1.3.1`, '1']]);
    expect(c).toEqual([[ObjectType.OctetString, `${R}.3.1.2.1`, 'r-a']]);
    expect(d).toEqual([[ObjectType.OctetString, `${R}.3.1.2.1`, 'r-a']]);
    expect(e).toEqual([[ObjectType.Counter64, `${R}.1.10.0`, 3n]]);
  });

  it('past the last instance or the range end: endOfMibView; Get of a missing row: noSuchInstance, outside: noSuchObject', async () => {
    const { ask, next } = await session();
    const [a, b, c] = await ask([
      next(`${R}.3.1.9.3`), // the last instance of the Mib (no service/link/raid rows in this snapshot)
      next(`${R}.3.1.2.3`, { end: `${R}.3.1.3` }), // the range ends before the next column
      readPdu(AgentXPduType.Get, 77, [{ start: `${R}.3.1.2.4` }, { start: `${R}.3.1.99.1` }, { start: `${R}.1.1.0` }]),
    ]);
    expect(a).toEqual([[ObjectType.EndOfMibView, `${R}.3.1.9.3`, null]]);
    expect(b).toEqual([[ObjectType.EndOfMibView, `${R}.3.1.2.3`, null]]);
    expect(c).toEqual([[ObjectType.NoSuchInstance, `${R}.3.1.2.4`, null], [ObjectType.NoSuchObject, `${R}.3.1.99.1`, null], [ObjectType.OctetString, `${R}.1.1.0`, 'oscar']]);
  });

  it('after a refresh the new Mib answers (removed rows skipped), and an in-place value change is re-encoded', async () => {
    const { ask, next, swap } = await session();
    expect(await ask([next(`${R}.3.1.2.1`)])).toEqual([[[ObjectType.OctetString, `${R}.3.1.2.2`, 'r-b']]]);
    expect(await ask([next(`${R}.1.2.0`)])).toEqual([[[ObjectType.OctetString, `${R}.1.3.0`, 'head1']]]);
    const mib = swap(snapshot(['r-a', 'r-c'], 'head2')); // r-b gone: r-c is row 2 now
    expect(await ask([next(`${R}.3.1.2.1`), next(`${R}.3.1.2.2`), next(`${R}.1.2.0`)])).toEqual([
      [[ObjectType.OctetString, `${R}.3.1.2.2`, 'r-c']],
      [[ObjectType.OctetString, `${R}.3.1.3.1`, 'ocf:heartbeat:Dummy']],
      [[ObjectType.OctetString, `${R}.1.3.0`, 'head2']],
    ]);
    // haOscarClusterDataAge is set in place between snapshots (subagent.ts): the cache follows.
    expect(await ask([next(`${R}.1.10.0`)])).toEqual([[[ObjectType.Gauge, `${R}.1.11.0`, 0]]]);
    mib.setScalarValue('haOscarClusterDataAge', 42);
    expect(await ask([next(`${R}.1.10.0`)])).toEqual([[[ObjectType.Gauge, `${R}.1.11.0`, 42]]]);
  });

  it('GetBulk across tables, PDUs cut into 7-byte writes and several in one write', async () => {
    const { ask } = await session();
    const bulk = readPdu(AgentXPduType.GetBulk, 77, [{ start: `${R}.2.1.8.1` }], { nonRepeaters: 0, maxRepetitions: 4 });
    const want = [
      [ObjectType.OctetString, `${R}.2.1.8.2`, ''],
      [ObjectType.OctetString, `${R}.3.1.2.1`, 'r-a'],
      [ObjectType.OctetString, `${R}.3.1.2.2`, 'r-b'],
      [ObjectType.OctetString, `${R}.3.1.2.3`, 'r-c'],
    ];
    expect(await ask([bulk], 7)).toEqual([want]);
    expect(await ask([bulk, bulk, bulk])).toEqual([want, want, want]);
  });

  it('the same over a TCP master (host:port)', async () => {
    const { ask, next } = await session(true);
    expect(await ask([next(`${R}.2.1.8.2`)], 7)).toEqual([[[ObjectType.OctetString, `${R}.3.1.2.1`, 'r-a']]]);
  });

  it('the cached encoding is the encoder\'s bytes for the current value, and is reused while it holds', () => {
    const mib = buildMib(snapshot(['r-a']));
    const index = indexMib(mib);
    for (const i of index) expect(encodedInstance(i).toString('hex')).toBe(encodeVarbind({ oid: i.str, type: i.node.valueType, value: i.node.value }).toString('hex'));
    const age = index.find((i) => i.str === `${R}.1.11.0`)!;
    const first = encodedInstance(age);
    expect(encodedInstance(age)).toBe(first);
    mib.setScalarValue('haOscarClusterDataAge', 7);
    expect(encodedInstance(age)).not.toBe(first);
    expect(encodedInstance(age).readUInt32BE(encodedInstance(age).length - 4)).toBe(7);
  });
});

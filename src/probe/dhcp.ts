// DHCP client for probes and tests, DHCPv4 (RFC 2131/2132) and DHCPv6 (RFC 8415), over plain
// UDP sockets: no helper binary, no raw sockets. No OCF knowledge: the dhcpd agent's monitor
// and the lab's compute-node side both use it.
//
//   dhcpDiscover({family, iface|localAddress|server, mac?, timeoutMs})  DISCOVER/OFFER, SOLICIT/ADVERTISE
//   dhcpInform(...)                                                     INFORM/ACK, INFORMATION-REQUEST/REPLY
//   dhcpLease(...)           a full lease: DISCOVER/OFFER/REQUEST/ACK, SOLICIT/ADVERTISE/REQUEST/REPLY
//   dhcpRenew(lease, ...)    RENEW (unicast to the server), REBIND (broadcast) or INIT-REBOOT (v4)
//   dhcpRelease(lease, ...)
//
// Binding the DHCP client ports (68, 546) needs root (or CAP_NET_BIND_SERVICE).
import { createSocket, type Socket, type RemoteInfo } from 'node:dgram';
import { randomBytes, createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import {
  V6, V6_NAMES, O6, decodeDhcp6, encodeDhcp6, opt6, decodeIaNa, encodeIaNa, status6, duidLL, type Dhcp6Message, type Dhcp6Option,
} from './dhcp6';

export { Dhcp6DecodeError, decodeDhcp6, encodeDhcp6 } from './dhcp6';

// ---- DHCPv4 codec ------------------------------------------------------------------------

export const MT = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 } as const;
export const MT_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MT).map(([k, v]) => [v, `DHCP${k}`]));

export const O4 = {
  PAD: 0, SUBNET_MASK: 1, ROUTER: 3, DNS: 6, HOSTNAME: 12, DOMAIN: 15, BROADCAST: 28, NTP: 42, REQUESTED_IP: 50,
  LEASE_TIME: 51, OVERLOAD: 52, MESSAGE_TYPE: 53, SERVER_ID: 54, PARAM_LIST: 55, MESSAGE: 56, T1: 58, T2: 59,
  VENDOR_CLASS: 60, CLIENT_ID: 61, TFTP_SERVER: 66, BOOTFILE: 67, CLIENT_ARCH: 93, END: 255,
} as const;

const MAGIC = 0x63825363;

export class DhcpDecodeError extends Error {}

export interface Dhcp4Packet {
  op: 1 | 2;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** 16 bytes; the first hlen are the hardware address. */
  chaddr: Buffer;
  sname: string;
  file: string;
  /** Option code -> value (repeated options concatenated, RFC 3396). */
  options: Map<number, Buffer>;
}

const ip4 = (b: Buffer, o: number) => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
function putIp4(b: Buffer, o: number, a: string) {
  const parts = (a || '0.0.0.0').split('.').map(Number);
  for (let i = 0; i < 4; i++) b[o + i] = parts[i] ?? 0;
}
const cstr = (b: Buffer) => { const z = b.indexOf(0); return b.toString('latin1', 0, z < 0 ? b.length : z); };

function parseOptions4(b: Buffer, into: Map<number, Buffer>, where: string): void {
  let i = 0;
  while (i < b.length) {
    const code = b[i]!;
    if (code === O4.END) return;
    if (code === O4.PAD) { i++; continue; }
    if (i + 1 >= b.length) throw new DhcpDecodeError(`option ${code} in ${where} has no length`);
    const len = b[i + 1]!;
    if (i + 2 + len > b.length) throw new DhcpDecodeError(`option ${code} in ${where} claims ${len} bytes, ${b.length - i - 2} left`);
    const v = b.subarray(i + 2, i + 2 + len);
    const prev = into.get(code);
    into.set(code, prev ? Buffer.concat([prev, v]) : Buffer.from(v));
    i += 2 + len;
  }
}

/** Decode one BOOTP/DHCPv4 message. Throws DhcpDecodeError on a malformed one. */
export function decodeDhcp4(buf: Buffer): Dhcp4Packet {
  if (buf.length < 240) throw new DhcpDecodeError(`message too short (${buf.length} bytes, at least 240)`);
  const op = buf[0]!;
  if (op !== 1 && op !== 2) throw new DhcpDecodeError(`bad op ${op}`);
  if (buf.readUInt32BE(236) !== MAGIC) throw new DhcpDecodeError('no DHCP magic cookie');
  const hlen = buf[2]!;
  if (hlen > 16) throw new DhcpDecodeError(`hardware address length ${hlen} > 16`);
  const options = new Map<number, Buffer>();
  parseOptions4(buf.subarray(240), options, 'options');
  const overload = options.get(O4.OVERLOAD)?.[0] ?? 0;
  if (overload & 1) parseOptions4(buf.subarray(108, 236), options, 'file field');
  if (overload & 2) parseOptions4(buf.subarray(44, 108), options, 'sname field');
  return {
    op, htype: buf[1]!, hlen, hops: buf[3]!, xid: buf.readUInt32BE(4), secs: buf.readUInt16BE(8), flags: buf.readUInt16BE(10),
    ciaddr: ip4(buf, 12), yiaddr: ip4(buf, 16), siaddr: ip4(buf, 20), giaddr: ip4(buf, 24),
    chaddr: Buffer.from(buf.subarray(28, 44)),
    sname: overload & 2 ? '' : cstr(buf.subarray(44, 108)),
    file: overload & 1 ? '' : cstr(buf.subarray(108, 236)),
    options,
  };
}

export function encodeDhcp4(p: Partial<Dhcp4Packet> & { xid: number; chaddr: Buffer; options: Map<number, Buffer> }): Buffer {
  const head = Buffer.alloc(240);
  head[0] = p.op ?? 1;
  head[1] = p.htype ?? 1;
  head[2] = p.hlen ?? 6;
  head[3] = p.hops ?? 0;
  head.writeUInt32BE(p.xid >>> 0, 4);
  head.writeUInt16BE(p.secs ?? 0, 8);
  head.writeUInt16BE(p.flags ?? 0, 10);
  putIp4(head, 12, p.ciaddr ?? '');
  putIp4(head, 16, p.yiaddr ?? '');
  putIp4(head, 20, p.siaddr ?? '');
  putIp4(head, 24, p.giaddr ?? '');
  p.chaddr.copy(head, 28, 0, Math.min(16, p.chaddr.length));
  if (p.sname) head.write(p.sname.slice(0, 63), 44, 'latin1');
  if (p.file) head.write(p.file.slice(0, 127), 108, 'latin1');
  head.writeUInt32BE(MAGIC, 236);
  const opts: Buffer[] = [];
  for (const [code, v] of p.options) {
    for (let off = 0; off < v.length || off === 0; off += 255) {
      const part = v.subarray(off, off + 255);
      opts.push(Buffer.from([code, part.length]), part);
      if (v.length === 0) break;
    }
  }
  opts.push(Buffer.from([O4.END]));
  const msg = Buffer.concat([head, ...opts]);
  return msg.length >= 300 ? msg : Buffer.concat([msg, Buffer.alloc(300 - msg.length)]); // BOOTP minimum
}

export const messageType4 = (p: Dhcp4Packet) => p.options.get(O4.MESSAGE_TYPE)?.[0];

// ---- client API -----------------------------------------------------------------------------

export interface DhcpClientOptions {
  family: 4 | 6;
  /** Interface to use: needed for DHCPv6 multicast (ff02::1:2%iface) when `server` is not given. */
  iface?: string;
  /** v4: source address to send from (selects the interface for 255.255.255.255; ciaddr of an INFORM). */
  localAddress?: string;
  /** Unicast to this server address instead of broadcast (v4) / All_DHCP_Relay_Agents_and_Servers (v6). */
  server?: string;
  /** Client hardware address, "02:00:00:00:00:01". Default: a random locally administered one. */
  mac?: string;
  /** Whole exchange budget. Default 3000 ms. */
  timeoutMs?: number;
  /** Retransmission interval. Default 500 ms. */
  retransmitMs?: number;
  /** Defaults 68/67 (v4), 546/547 (v6). */
  clientPort?: number;
  serverPort?: number;
  /** v4: ask for a broadcast reply (default true: a client without an address needs it). */
  broadcastFlag?: boolean;
  /** v4 option 60, e.g. "PXEClient:Arch:00000:UNDI:002001". Default: PXE x86 BIOS. */
  vendorClass?: string;
  /** Only accept an answer whose server identifier is this (v4 address, v6 DUID hex). */
  expectServerId?: string;
  /** v4/v6 address to ask for (option 50 / IAADDR hint). */
  requestAddress?: string;
  /** dhcpDiscover: after the first answer, keep listening this long and count every answer
   *  (a server answering twice, e.g. Kea bound to a bare interface, shows as answers > 1). */
  settleMs?: number;
}

export interface DhcpResult {
  ok: boolean;
  error?: string;
  family: 4 | 6;
  /** The address offered/leased (yiaddr, IAADDR). */
  address?: string;
  /** v4 file / option 67; v6 OPT_BOOTFILE_URL. */
  bootFile?: string;
  /** v4 option 54 (an address); v6 the server DUID in hex. */
  serverId?: string;
  /** v4 siaddr / option 66. */
  nextServer?: string;
  leaseTime?: number;
  /** Name of the message that answered (DHCPOFFER, ADVERTISE...). */
  answer?: string;
  /** Address the answer came from. */
  from?: string;
  /** dhcpDiscover with settleMs: every answer seen (source address of each). */
  answers?: string[];
  ms: number;
}

export interface DhcpLease extends DhcpResult {
  ok: true;
  address: string;
  serverId: string;
  mac: string;
  /** v6 only */
  iaid?: number;
  /** v6 only: where the server answered from (its link-local or unicast address). */
  serverAddress?: string;
  obtainedAt: number;
}

export type DhcpRenewMode = 'renew' | 'rebind' | 'reboot';

const macBuf = (mac: string) => Buffer.from(mac.split(/[:-]/).map((h) => Number.parseInt(h, 16)));
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0]! & 0xfc) | 0x02; // locally administered, unicast
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
/** A stable locally administered MAC derived from a name (for monitors: one lease, not one per probe). */
export function macFor(name: string): string {
  const b = createHash('sha256').update(name).digest().subarray(0, 6);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function checkOpts(o: DhcpClientOptions): string | undefined {
  if (o.mac !== undefined && !/^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$/.test(o.mac)) return `bad MAC address ${JSON.stringify(o.mac)}`;
  if (o.family === 4) {
    for (const [k, v] of [['server', o.server], ['localAddress', o.localAddress], ['requestAddress', o.requestAddress]] as const) {
      if (v !== undefined && !isIPv4(v)) return `${k} ${JSON.stringify(v)} is not an IPv4 address`;
    }
  } else if (o.family === 6) {
    if (o.server !== undefined && !isIPv6(o.server.replace(/%.*$/, ''))) return `server ${JSON.stringify(o.server)} is not an IPv6 address`;
    if (o.server === undefined && !o.iface) return 'DHCPv6 needs an interface (for ff02::1:2) or a server address';
    if (o.iface !== undefined && !/^[A-Za-z0-9_.@-]{1,15}$/.test(o.iface)) return `bad interface name ${JSON.stringify(o.iface)}`;
  } else return `family must be 4 or 6`;
  return undefined;
}

// -- the socket side: one exchange = send, retransmit, wait for an accepted answer ----------

interface Wire { socks: Socket[]; send(buf: Buffer, cb: (e: Error | null) => void): void; close(): void }

async function openWire(o: DhcpClientOptions): Promise<Wire> {
  const socks: Socket[] = [];
  const bind = (s: Socket, address: string, port: number) => new Promise<void>((res, rej) => {
    s.once('error', rej);
    s.bind({ address, port, exclusive: true }, () => { s.off('error', rej); res(); });
  });
  try {
    if (o.family === 4) {
      const port = o.clientPort ?? 68;
      // a socket bound to a unicast address does not receive broadcasts: one for each
      const main = createSocket({ type: 'udp4', reuseAddr: true });
      socks.push(main);
      await bind(main, o.localAddress ?? '0.0.0.0', port);
      main.setBroadcast(true);
      if (o.localAddress) {
        const bc = createSocket({ type: 'udp4', reuseAddr: true });
        socks.push(bc);
        await bind(bc, '0.0.0.0', port);
      }
      const dst = o.server ?? '255.255.255.255';
      const sport = o.serverPort ?? 67;
      return { socks, send: (b, cb) => main.send(b, sport, dst, cb), close: () => socks.forEach((s) => { try { s.close(); } catch { /* closed */ } }) };
    }
    const s = createSocket({ type: 'udp6', reuseAddr: true, ipv6Only: true });
    socks.push(s);
    await bind(s, '::', o.clientPort ?? 546);
    if (o.iface) { try { s.setMulticastInterface(`::%${o.iface}`); } catch { /* unicast only */ } }
    const dst = o.server ?? `ff02::1:2%${o.iface}`;
    const sport = o.serverPort ?? 547;
    return { socks, send: (b, cb) => s.send(b, sport, dst, cb), close: () => { try { s.close(); } catch { /* closed */ } } };
  } catch (e) {
    for (const s of socks) try { s.close(); } catch { /* closed */ }
    const err = e as NodeJS.ErrnoException;
    throw new Error(err.code === 'EACCES' ? `cannot bind the DHCP client port (needs root): ${err.message}` : `cannot open DHCP client socket: ${err.message}`);
  }
}

/** Send `msg` (retransmitting) until accept() returns a value or the budget runs out. */
function exchange<T>(w: Wire, msg: () => Buffer, accept: (m: Buffer, r: RemoteInfo) => T | undefined, timeoutMs: number, retransmitMs: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const t0 = Date.now();
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (timer) clearTimeout(timer);
      for (const s of w.socks) s.off('message', onMsg);
      f();
    };
    const deadline = setTimeout(() => finish(() => reject(new Error(`no answer to ${what} within ${timeoutMs} ms`))), timeoutMs);
    const onMsg = (m: Buffer, r: RemoteInfo) => {
      if (done) return;
      try {
        const v = accept(m, r);
        if (v !== undefined) finish(() => resolve(v));
      } catch (e) { finish(() => reject(e)); }
    };
    for (const s of w.socks) {
      s.on('message', onMsg);
      s.on('error', (e) => finish(() => reject(e)));
    }
    const tick = () => {
      if (done) return;
      const sendFailed = (e: Error | null) => {
        if (e) finish(() => reject(new Error(`cannot send ${what}: ${(e as NodeJS.ErrnoException).code === 'ENETUNREACH' ? 'network unreachable (no address or route on the interface?)' : e.message}`)));
      };
      try { w.send(msg(), sendFailed); } catch (e) { finish(() => reject(e)); return; }
      timer = setTimeout(tick, Math.min(retransmitMs, Math.max(1, timeoutMs - (Date.now() - t0))));
    };
    tick();
  });
}

// -- DHCPv4 exchanges -------------------------------------------------------------------------

interface V4Ctx { o: DhcpClientOptions; mac: string; chaddr: Buffer; xid: number; t0: number }

function v4Message(c: V4Ctx, type: number, extra: { ciaddr?: string; requested?: string; serverId?: string } = {}): Buffer {
  const options = new Map<number, Buffer>();
  options.set(O4.MESSAGE_TYPE, Buffer.from([type]));
  options.set(O4.CLIENT_ID, Buffer.concat([Buffer.from([1]), c.chaddr]));
  if (extra.requested) options.set(O4.REQUESTED_IP, Buffer.from(extra.requested.split('.').map(Number)));
  if (extra.serverId) options.set(O4.SERVER_ID, Buffer.from(extra.serverId.split('.').map(Number)));
  options.set(O4.PARAM_LIST, Buffer.from([1, 3, 6, 12, 15, 28, 42, 51, 54, 58, 59, 66, 67]));
  const vc = c.o.vendorClass ?? 'PXEClient:Arch:00000:UNDI:002001';
  if (vc) options.set(O4.VENDOR_CLASS, Buffer.from(vc, 'latin1'));
  if (vc.startsWith('PXEClient')) options.set(O4.CLIENT_ARCH, Buffer.from([0, 0]));
  const secs = Math.min(0xffff, Math.floor((Date.now() - c.t0) / 1000));
  const bcast = extra.ciaddr ? false : c.o.broadcastFlag ?? true;
  return encodeDhcp4({ op: 1, xid: c.xid, secs, flags: bcast ? 0x8000 : 0, ciaddr: extra.ciaddr, chaddr: c.chaddr, options });
}

function v4Result(p: Dhcp4Packet, r: RemoteInfo, t0: number): DhcpResult {
  const so = p.options.get(O4.SERVER_ID);
  const lt = p.options.get(O4.LEASE_TIME);
  const bf = p.options.get(O4.BOOTFILE);
  const ts = p.options.get(O4.TFTP_SERVER);
  return {
    ok: true, family: 4,
    address: p.yiaddr !== '0.0.0.0' ? p.yiaddr : undefined,
    bootFile: bf ? cstr(bf) : p.file || undefined,
    serverId: so && so.length === 4 ? ip4(so, 0) : undefined,
    nextServer: ts ? cstr(ts) : p.siaddr !== '0.0.0.0' ? p.siaddr : undefined,
    leaseTime: lt && lt.length === 4 ? lt.readUInt32BE(0) : undefined,
    answer: MT_NAMES[messageType4(p) ?? 0],
    from: r.address,
    ms: Date.now() - t0,
  };
}

/** Accepts a reply to our xid/chaddr of one of the wanted types; a NAK throws. */
function v4Accept(c: V4Ctx, want: number[]) {
  return (m: Buffer, r: RemoteInfo): DhcpResult | undefined => {
    let p: Dhcp4Packet;
    try { p = decodeDhcp4(m); } catch { return undefined; } // not for us / garbage on the port: ignore
    if (p.op !== 2 || p.xid !== c.xid || !p.chaddr.subarray(0, 6).equals(c.chaddr)) return undefined;
    const t = messageType4(p);
    const res = v4Result(p, r, c.t0);
    if (c.o.expectServerId && res.serverId !== c.o.expectServerId) return undefined;
    if (t === MT.NAK) {
      const why = p.options.get(O4.MESSAGE);
      throw new Error(`DHCPNAK from ${res.serverId ?? r.address}${why ? `: ${cstr(why)}` : ''}`);
    }
    return t !== undefined && want.includes(t) ? res : undefined;
  };
}

function v4Ctx(o: DhcpClientOptions, mac?: string): V4Ctx {
  const m = mac ?? o.mac ?? randomMac();
  return { o, mac: m, chaddr: macBuf(m), xid: randomBytes(4).readUInt32BE(0), t0: Date.now() };
}

// -- DHCPv6 exchanges -------------------------------------------------------------------------

interface V6Ctx { o: DhcpClientOptions; mac: string; duid: Buffer; iaid: number; xid: number; t0: number }

function v6Ctx(o: DhcpClientOptions, mac?: string, iaid?: number): V6Ctx {
  const m = mac ?? o.mac ?? randomMac();
  const b = macBuf(m);
  return { o, mac: m, duid: duidLL(b), iaid: iaid ?? b.readUInt32BE(2), xid: randomBytes(3).readUIntBE(0, 3), t0: Date.now() };
}

function v6Message(c: V6Ctx, type: number, extra: { serverDuid?: Buffer; ia?: boolean; addresses?: string[] } = {}): Buffer {
  const elapsed = Buffer.alloc(2);
  elapsed.writeUInt16BE(Math.min(0xffff, Math.floor((Date.now() - c.t0) / 10)));
  const oro = Buffer.alloc(6);
  oro.writeUInt16BE(O6.BOOTFILE_URL, 0); oro.writeUInt16BE(O6.BOOTFILE_PARAM, 2); oro.writeUInt16BE(O6.DNS_SERVERS, 4);
  const options: Dhcp6Option[] = [{ code: O6.CLIENTID, data: c.duid }];
  if (extra.serverDuid) options.push({ code: O6.SERVERID, data: extra.serverDuid });
  options.push({ code: O6.ORO, data: oro }, { code: O6.ELAPSED_TIME, data: elapsed });
  if (extra.ia) options.push({ code: O6.IA_NA, data: encodeIaNa(c.iaid, (extra.addresses ?? []).map((address) => ({ address }))) });
  if (c.o.vendorClass === undefined || c.o.vendorClass.startsWith('PXEClient')) {
    options.push({ code: O6.CLIENT_ARCH_TYPE, data: Buffer.from([0, 7]) }); // EFI x86-64: the usual DHCPv6 PXE client
  }
  return encodeDhcp6({ type, xid: c.xid, options });
}

function v6Accept(c: V6Ctx, want: number, needAddress: boolean) {
  return (m: Buffer, r: RemoteInfo): (DhcpResult & { serverDuid: Buffer; iaid?: number }) | undefined => {
    let msg: Dhcp6Message;
    try { msg = decodeDhcp6(m); } catch { return undefined; }
    if (msg.xid !== c.xid || msg.type !== want) return undefined;
    const cid = opt6(msg, O6.CLIENTID);
    if (cid && !cid.equals(c.duid)) return undefined;
    const sid = opt6(msg, O6.SERVERID);
    if (!sid) return undefined;
    if (c.o.expectServerId && sid.toString('hex') !== c.o.expectServerId.replace(/:/g, '').toLowerCase()) return undefined;
    const st = status6(msg);
    if (st && st.code !== 0) throw new Error(`${V6_NAMES[msg.type]} from ${r.address}: status ${st.code}${st.message ? ` ${st.message}` : ''}`);
    const iaRaw = opt6(msg, O6.IA_NA);
    const ia = iaRaw ? decodeIaNa(iaRaw) : undefined;
    if (ia?.status && ia.status.code !== 0) throw new Error(`${V6_NAMES[msg.type]} from ${r.address}: IA_NA status ${ia.status.code}${ia.status.message ? ` ${ia.status.message}` : ''}`);
    const addr = ia?.addresses.find((a) => !a.status || a.status.code === 0);
    if (needAddress && !addr) throw new Error(`${V6_NAMES[msg.type]} from ${r.address} carries no address`);
    const bf = opt6(msg, O6.BOOTFILE_URL);
    return {
      ok: true, family: 6, address: addr?.address, bootFile: bf?.toString('utf8'), serverId: sid.toString('hex'),
      leaseTime: addr?.valid, answer: V6_NAMES[msg.type], from: r.address, ms: Date.now() - c.t0, serverDuid: Buffer.from(sid), iaid: ia?.iaid,
    };
  };
}

// -- public functions ---------------------------------------------------------------------------

async function guarded<T extends DhcpResult>(o: DhcpClientOptions, body: (w: Wire, t0: number) => Promise<T>): Promise<T | DhcpResult> {
  const t0 = Date.now();
  const bad = checkOpts(o);
  if (bad) return { ok: false, family: o.family, error: bad, ms: 0 };
  let w: Wire;
  try { w = await openWire(o); } catch (e) { return { ok: false, family: o.family, error: (e as Error).message, ms: Date.now() - t0 }; }
  try { return await body(w, t0); } catch (e) {
    return { ok: false, family: o.family, error: (e as Error).message, ms: Date.now() - t0 };
  } finally { w.close(); }
}

const budget = (o: DhcpClientOptions) => ({ timeout: o.timeoutMs ?? 3000, rexmit: o.retransmitMs ?? 500 });
const left = (o: DhcpClientOptions, t0: number) => Math.max(1, (o.timeoutMs ?? 3000) - (Date.now() - t0));

/** DHCPDISCOVER -> DHCPOFFER (v4), SOLICIT -> ADVERTISE (v6). Nothing is leased. Never rejects. */
export function dhcpDiscover(o: DhcpClientOptions): Promise<DhcpResult> {
  const { timeout, rexmit } = budget(o);
  return guarded(o, async (w) => {
    // with settleMs, a listener of its own counts every answer to this transaction
    const seen: string[] = [];
    let count: ((m: Buffer, r: RemoteInfo) => void) | undefined;
    const settle = async <T extends DhcpResult>(res: T): Promise<T> => {
      if (!o.settleMs) return res;
      await new Promise((r) => setTimeout(r, o.settleMs));
      for (const sk of w.socks) sk.off('message', count!);
      return { ...res, answers: seen };
    };
    if (o.family === 4) {
      const c = v4Ctx(o);
      const acc = v4Accept(c, [MT.OFFER]);
      count = (m, r) => { try { if (acc(m, r)) seen.push(r.address); } catch { /* a NAK */ } };
      if (o.settleMs) for (const sk of w.socks) sk.on('message', count);
      return settle(await exchange(w, () => v4Message(c, MT.DISCOVER, { requested: o.requestAddress }), acc, timeout, o.settleMs ? Math.max(rexmit, o.settleMs * 2) : rexmit, 'DHCPDISCOVER'));
    }
    const c = v6Ctx(o);
    const acc = v6Accept(c, V6.ADVERTISE, false);
    count = (m, r) => { try { if (acc(m, r)) seen.push(r.address); } catch { /* a status */ } };
    if (o.settleMs) for (const sk of w.socks) sk.on('message', count);
    const r = await exchange(w, () => v6Message(c, V6.SOLICIT, { ia: true, addresses: o.requestAddress ? [o.requestAddress] : [] }), acc, timeout, o.settleMs ? Math.max(rexmit, o.settleMs * 2) : rexmit, 'SOLICIT');
    const { serverDuid: _s, ...res } = r;
    return settle(res);
  });
}

/** DHCPINFORM -> DHCPACK (v4, ciaddr = localAddress), INFORMATION-REQUEST -> REPLY (v6). Never rejects. */
export function dhcpInform(o: DhcpClientOptions): Promise<DhcpResult> {
  const { timeout, rexmit } = budget(o);
  return guarded(o, async (w) => {
    if (o.family === 4) {
      if (!o.localAddress) throw new Error('DHCPINFORM needs localAddress (the ciaddr)');
      const c = v4Ctx(o);
      return exchange(w, () => v4Message(c, MT.INFORM, { ciaddr: o.localAddress }), v4Accept(c, [MT.ACK]), timeout, rexmit, 'DHCPINFORM');
    }
    const c = v6Ctx(o);
    const r = await exchange(w, () => v6Message(c, V6.INFORMATION_REQUEST), v6Accept(c, V6.REPLY, false), timeout, rexmit, 'INFORMATION-REQUEST');
    const { serverDuid: _s, ...res } = r;
    return res;
  });
}

/** A full lease: DISCOVER/OFFER/REQUEST/ACK (v4), SOLICIT/ADVERTISE/REQUEST/REPLY (v6). Never rejects. */
export function dhcpLease(o: DhcpClientOptions): Promise<DhcpLease | DhcpResult> {
  const { timeout, rexmit } = budget(o);
  return guarded(o, async (w, t0) => {
    if (o.family === 4) {
      const c = v4Ctx(o);
      const offer = await exchange(w, () => v4Message(c, MT.DISCOVER, { requested: o.requestAddress }), v4Accept(c, [MT.OFFER]), timeout, rexmit, 'DHCPDISCOVER');
      if (!offer.address || !offer.serverId) throw new Error(`DHCPOFFER from ${offer.from} lacks an address or server identifier`);
      c.o = { ...o, expectServerId: offer.serverId };
      const ack = await exchange(w, () => v4Message(c, MT.REQUEST, { requested: offer.address, serverId: offer.serverId }), v4Accept(c, [MT.ACK]), left(o, t0), rexmit, 'DHCPREQUEST');
      if (ack.address !== offer.address) throw new Error(`DHCPACK for ${ack.address}, offered ${offer.address}`);
      return { ...ack, ok: true as const, address: ack.address!, serverId: offer.serverId, mac: c.mac, obtainedAt: Date.now(), ms: Date.now() - t0 };
    }
    const c = v6Ctx(o);
    const adv = await exchange(w, () => v6Message(c, V6.SOLICIT, { ia: true, addresses: o.requestAddress ? [o.requestAddress] : [] }), v6Accept(c, V6.ADVERTISE, true), timeout, rexmit, 'SOLICIT');
    c.xid = randomBytes(3).readUIntBE(0, 3);
    const rep = await exchange(w, () => v6Message(c, V6.REQUEST, { serverDuid: adv.serverDuid, ia: true, addresses: [adv.address!] }), v6Accept(c, V6.REPLY, true), left(o, t0), rexmit, 'REQUEST');
    const { serverDuid: _s, ...res } = rep;
    return { ...res, ok: true as const, address: rep.address!, serverId: rep.serverId!, mac: c.mac, iaid: c.iaid, serverAddress: rep.from, obtainedAt: Date.now(), ms: Date.now() - t0 };
  });
}

/**
 * Extend a lease. v4: 'renew' = DHCPREQUEST unicast to the server with ciaddr (the client must
 * own lease.address, as a real client does); 'rebind' = the same, broadcast; 'reboot' =
 * INIT-REBOOT, broadcast with the address in option 50 (no address needed on the client).
 * v6: 'renew' = RENEW with the server DUID, 'rebind' = REBIND to any server ('reboot' = REBIND).
 * `o.mac` defaults to the lease's. Never rejects.
 */
export function dhcpRenew(lease: DhcpLease, o: DhcpClientOptions & { mode?: DhcpRenewMode }): Promise<DhcpLease | DhcpResult> {
  const { timeout, rexmit } = budget(o);
  const mode = o.mode ?? 'renew';
  const opts: DhcpClientOptions = { ...o, mac: o.mac ?? lease.mac };
  if (o.family === 4 && mode === 'renew' && !opts.server) opts.server = lease.serverId;
  if (o.family === 4 && mode === 'renew' && !opts.localAddress) opts.localAddress = lease.address;
  return guarded(opts, async (w, t0) => {
    if (o.family === 4) {
      const c = v4Ctx(opts);
      const msg = mode === 'reboot'
        ? () => v4Message(c, MT.REQUEST, { requested: lease.address })
        : () => v4Message(c, MT.REQUEST, { ciaddr: lease.address });
      const ack = await exchange(w, msg, v4Accept(c, [MT.ACK]), timeout, rexmit, `DHCPREQUEST (${mode})`);
      if (ack.address !== lease.address) throw new Error(`DHCPACK for ${ack.address}, asked to extend ${lease.address}`);
      return { ...ack, ok: true as const, address: ack.address!, serverId: ack.serverId ?? lease.serverId, mac: c.mac, obtainedAt: Date.now(), ms: Date.now() - t0 };
    }
    const c = v6Ctx(opts, undefined, lease.iaid);
    const type = mode === 'renew' ? V6.RENEW : V6.REBIND;
    const serverDuid = mode === 'renew' ? Buffer.from(lease.serverId, 'hex') : undefined;
    const rep = await exchange(w, () => v6Message(c, type, { serverDuid, ia: true, addresses: [lease.address] }), v6Accept(c, V6.REPLY, true), timeout, rexmit, V6_NAMES[type]!);
    const { serverDuid: _s, ...res } = rep;
    return { ...res, ok: true as const, address: rep.address!, serverId: rep.serverId!, mac: c.mac, iaid: c.iaid, serverAddress: rep.from, obtainedAt: Date.now(), ms: Date.now() - t0 };
  });
}

/** Give a lease back (DHCPRELEASE / RELEASE). v6 waits for the REPLY; v4 gets no answer. Never rejects. */
export function dhcpRelease(lease: DhcpLease, o: DhcpClientOptions): Promise<DhcpResult> {
  const opts: DhcpClientOptions = { ...o, mac: o.mac ?? lease.mac };
  if (o.family === 4) { opts.server ??= lease.serverId; }
  return guarded(opts, async (w, t0) => {
    if (o.family === 4) {
      const c = v4Ctx(opts);
      await new Promise<void>((res, rej) => w.send(v4Message(c, MT.RELEASE, { ciaddr: lease.address, serverId: lease.serverId }), (e) => (e ? rej(e) : res())));
      await new Promise((r) => setTimeout(r, 50));
      return { ok: true, family: 4 as const, ms: Date.now() - t0 };
    }
    const c = v6Ctx(opts, undefined, lease.iaid);
    const { timeout, rexmit } = budget(o);
    const rep = await exchange(w, () => v6Message(c, V6.RELEASE, { serverDuid: Buffer.from(lease.serverId, 'hex'), ia: true, addresses: [lease.address] }), v6Accept(c, V6.REPLY, false), timeout, rexmit, 'RELEASE');
    const { serverDuid: _s, ...res } = rep;
    return res;
  });
}

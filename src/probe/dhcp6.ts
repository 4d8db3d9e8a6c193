// DHCPv6 (RFC 8415) message codec. The exchanges live in dhcp.ts, beside DHCPv4.
// No OCF knowledge.

export const V6 = {
  SOLICIT: 1, ADVERTISE: 2, REQUEST: 3, CONFIRM: 4, RENEW: 5, REBIND: 6, REPLY: 7, RELEASE: 8,
  DECLINE: 9, RECONFIGURE: 10, INFORMATION_REQUEST: 11, RELAY_FORW: 12, RELAY_REPL: 13,
} as const;
export const V6_NAMES: Record<number, string> = Object.fromEntries(Object.entries(V6).map(([k, v]) => [v, k.replace(/_/g, '-')]));

export const O6 = {
  CLIENTID: 1, SERVERID: 2, IA_NA: 3, IAADDR: 5, ORO: 6, PREFERENCE: 7, ELAPSED_TIME: 8, STATUS_CODE: 13,
  RAPID_COMMIT: 14, DNS_SERVERS: 23, BOOTFILE_URL: 59, BOOTFILE_PARAM: 60, CLIENT_ARCH_TYPE: 61,
} as const;

export class Dhcp6DecodeError extends Error {}

export interface Dhcp6Option { code: number; data: Buffer }
export interface Dhcp6Message { type: number; xid: number; options: Dhcp6Option[] }

export interface IaAddr { address: string; preferred: number; valid: number; status?: { code: number; message: string } }
export interface IaNa { iaid: number; t1: number; t2: number; addresses: IaAddr[]; status?: { code: number; message: string } }

export function decodeOptions6(buf: Buffer, what = 'message'): Dhcp6Option[] {
  const out: Dhcp6Option[] = [];
  let i = 0;
  while (i < buf.length) {
    if (i + 4 > buf.length) throw new Dhcp6DecodeError(`truncated option header in ${what}`);
    const code = buf.readUInt16BE(i);
    const len = buf.readUInt16BE(i + 2);
    if (i + 4 + len > buf.length) throw new Dhcp6DecodeError(`option ${code} in ${what} claims ${len} bytes, ${buf.length - i - 4} left`);
    out.push({ code, data: buf.subarray(i + 4, i + 4 + len) });
    i += 4 + len;
  }
  return out;
}

export function encodeOptions6(opts: Dhcp6Option[]): Buffer {
  return Buffer.concat(opts.map((o) => {
    const h = Buffer.alloc(4);
    h.writeUInt16BE(o.code, 0);
    h.writeUInt16BE(o.data.length, 2);
    return Buffer.concat([h, o.data]);
  }));
}

export function decodeDhcp6(buf: Buffer): Dhcp6Message {
  if (buf.length < 4) throw new Dhcp6DecodeError(`message too short (${buf.length} bytes)`);
  const type = buf[0]!;
  if (type === V6.RELAY_FORW || type === V6.RELAY_REPL) throw new Dhcp6DecodeError('relay messages are not handled');
  if (!V6_NAMES[type]) throw new Dhcp6DecodeError(`unknown message type ${type}`);
  return { type, xid: buf.readUIntBE(1, 3), options: decodeOptions6(buf.subarray(4)) };
}

export function encodeDhcp6(m: Dhcp6Message): Buffer {
  const h = Buffer.alloc(4);
  h[0] = m.type;
  h.writeUIntBE(m.xid & 0xffffff, 1, 3);
  return Buffer.concat([h, encodeOptions6(m.options)]);
}

export const opt6 = (m: Dhcp6Message, code: number) => m.options.find((o) => o.code === code)?.data;

export function ipv6ToBuffer(a: string): Buffer {
  const addr = a.replace(/%.*$/, '');
  let [head, tail] = addr.includes('::') ? addr.split('::') as [string, string] : [addr, undefined];
  const parse = (s: string) => (s ? s.split(':') : []);
  let h = parse(head);
  let t = tail === undefined ? [] : parse(tail);
  const v4 = (arr: string[]) => {
    const last = arr[arr.length - 1];
    if (last && last.includes('.')) {
      const b = last.split('.').map(Number);
      arr.splice(arr.length - 1, 1, ((b[0]! << 8) | b[1]!).toString(16), ((b[2]! << 8) | b[3]!).toString(16));
    }
    return arr;
  };
  if (tail === undefined) h = v4(h); else t = v4(t);
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  if (groups.length !== 8) throw new Dhcp6DecodeError(`not an IPv6 address: ${a}`);
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(Number.parseInt(g, 16), i * 2));
  return b;
}

export function bufferToIpv6(b: Buffer): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push(b.readUInt16BE(i));
  // RFC 5952: compress the longest run of zero groups (length >= 2)
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

function decodeStatus(d: Buffer): { code: number; message: string } {
  if (d.length < 2) throw new Dhcp6DecodeError('status code option shorter than 2 bytes');
  return { code: d.readUInt16BE(0), message: d.toString('utf8', 2) };
}

export function decodeIaNa(d: Buffer): IaNa {
  if (d.length < 12) throw new Dhcp6DecodeError(`IA_NA of ${d.length} bytes (at least 12)`);
  const ia: IaNa = { iaid: d.readUInt32BE(0), t1: d.readUInt32BE(4), t2: d.readUInt32BE(8), addresses: [] };
  for (const o of decodeOptions6(d.subarray(12), 'IA_NA')) {
    if (o.code === O6.STATUS_CODE) ia.status = decodeStatus(o.data);
    if (o.code === O6.IAADDR) {
      if (o.data.length < 24) throw new Dhcp6DecodeError(`IAADDR of ${o.data.length} bytes (at least 24)`);
      const a: IaAddr = { address: bufferToIpv6(o.data.subarray(0, 16)), preferred: o.data.readUInt32BE(16), valid: o.data.readUInt32BE(20) };
      for (const s of decodeOptions6(o.data.subarray(24), 'IAADDR')) if (s.code === O6.STATUS_CODE) a.status = decodeStatus(s.data);
      ia.addresses.push(a);
    }
  }
  return ia;
}

export function encodeIaNa(iaid: number, addresses: { address: string; preferred?: number; valid?: number }[] = []): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt32BE(iaid >>> 0, 0);
  const inner = addresses.map((a) => {
    const t = Buffer.alloc(8);
    t.writeUInt32BE(a.preferred ?? 0, 0);
    t.writeUInt32BE(a.valid ?? 0, 4);
    return { code: O6.IAADDR, data: Buffer.concat([ipv6ToBuffer(a.address), t]) };
  });
  return Buffer.concat([h, encodeOptions6(inner)]);
}

/** The top-level status code, if any (absent means Success). */
export function status6(m: Dhcp6Message): { code: number; message: string } | undefined {
  const d = opt6(m, O6.STATUS_CODE);
  return d ? decodeStatus(d) : undefined;
}

/** DUID-LL (type 3) from a MAC address. */
export function duidLL(mac: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(3, 0);
  h.writeUInt16BE(1, 2);
  return Buffer.concat([h, mac]);
}

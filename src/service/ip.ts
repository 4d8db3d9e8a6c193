// Small, dependency-free IPv4/IPv6 helpers for the cluster description:
// parse an address or a CIDR, test containment, and give one canonical text
// per address so that "2001:DB8::1" and "2001:db8:0::1" count as the same.
import { isIPv4, isIPv6 } from 'node:net';

export type Family = 'ipv4' | 'ipv6';

export interface Addr { family: Family; value: bigint; text: string }
export interface Cidr { family: Family; base: bigint; prefix: number; text: string }

export function familyOf(s: string): Family | undefined {
  if (isIPv4(s)) return 'ipv4';
  if (isIPv6(s) && !s.includes('%')) return 'ipv6';
  return undefined;
}

function v4ToBig(s: string): bigint {
  return s.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
}

function v6ToBig(s: string): bigint {
  let t = s;
  // an embedded IPv4 tail (::ffff:192.0.2.1)
  const m = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (m) {
    const v = v4ToBig(m[2]);
    t = `${m[1]}${(v >> 16n).toString(16)}:${(v & 0xffffn).toString(16)}`;
  }
  const [head, tail] = t.includes('::') ? t.split('::') : [t, undefined];
  const h = head ? head.split(':') : [];
  const tl = tail === undefined ? [] : (tail ? tail.split(':') : []);
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

function bigToV4(v: bigint): string {
  return [24n, 16n, 8n, 0n].map((sh) => String((v >> sh) & 0xffn)).join('.');
}

/** RFC 5952 text: lower case, longest run of zero groups (>= 2) compressed. */
function bigToV6(v: bigint): string {
  const g: number[] = [];
  for (let i = 7; i >= 0; i--) g.push(Number((v >> BigInt(i * 16)) & 0xffffn));
  let best = -1; let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i; while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** The canonical text of an address value (dotted quad, or RFC 5952). */
export function addrText(family: Family, value: bigint): string {
  return family === 'ipv4' ? bigToV4(value) : bigToV6(value);
}

export function parseAddr(s: string): Addr | undefined {
  const family = familyOf(s);
  if (!family) return undefined;
  const value = family === 'ipv4' ? v4ToBig(s) : v6ToBig(s);
  return { family, value, text: addrText(family, value) };
}

/** "192.0.2.0/24" -> Cidr; host bits must be zero. Returns a reason string on error. */
export function parseCidr(s: string): Cidr | string {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return 'not a network in CIDR form (address/prefix)';
  const a = parseAddr(m[1]);
  if (!a) return 'not a network in CIDR form (address/prefix)';
  const bits = a.family === 'ipv4' ? 32 : 128;
  const prefix = Number(m[2]);
  if (prefix > bits) return `prefix /${prefix} is longer than ${bits} bits`;
  const host = (1n << BigInt(bits - prefix)) - 1n;
  if ((a.value & host) !== 0n) return `host bits set in ${s}`;
  return { family: a.family, base: a.value, prefix, text: `${a.text}/${prefix}` };
}

export function contains(net: Cidr, a: Addr): boolean {
  if (net.family !== a.family) return false;
  const bits = net.family === 'ipv4' ? 32 : 128;
  const shift = BigInt(bits - net.prefix);
  return (a.value >> shift) === (net.base >> shift);
}

/** The network address itself, or the IPv4 broadcast: not usable for a host. */
export function isNetworkOrBroadcast(net: Cidr, a: Addr): boolean {
  if (a.value === net.base && !(net.family === 'ipv4' && net.prefix >= 31) && !(net.family === 'ipv6' && net.prefix >= 127)) return true;
  if (net.family === 'ipv4' && net.prefix < 31) {
    const bcast = net.base | ((1n << BigInt(32 - net.prefix)) - 1n);
    if (a.value === bcast) return true;
  }
  return false;
}

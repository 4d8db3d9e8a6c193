// Kea HA in load-balancing: each head allocates from its own part of every pool. Kea's
// reference configuration ties each pool to one server through the classes the HA hook gives
// every query, HA_<server-name> (Kea ARM, "Load-Balancing Configuration"). With a pool both
// heads draw from, both may hand the same free address to two clients at once: each sends its
// lease to the partner, which overwrites its own (measured in the lab by npm run bench:dhcp:
// 1,872 addresses bound to two clients after a 40-s DHCPv6 storm). A survivor in partner-down
// serves both parts, each query from the part of the head it belongs to, so a client keeps
// its address across the failover.
//
// The agent's derived config (src/service/kea.ts) therefore splits every pool the admin left
// without a client-class in two halves, the first for the first head of ha_peers, the second
// for the other. A pool with a client-class is the admin's own split and stays as written.
import { addrText, parseAddr, parseCidr, type Family } from './ip';

interface Range { family: Family; start: bigint; end: bigint }

/** A Kea pool, "first - last" or "prefix/len", as a range; a reason when it is neither. */
export function parsePool(s: string): Range | string {
  const t = s.trim();
  const dash = /^(\S+)\s*-\s*(\S+)$/.exec(t);
  if (dash) {
    const a = parseAddr(dash[1]!);
    const b = parseAddr(dash[2]!);
    if (!a || !b || a.family !== b.family) return `pool '${s}': not two addresses of one family`;
    if (b.value < a.value) return `pool '${s}': the last address comes before the first`;
    return { family: a.family, start: a.value, end: b.value };
  }
  const c = parseCidr(t);
  if (typeof c === 'string') return `pool '${s}': ${c}`;
  const bits = c.family === 'ipv4' ? 32 : 128;
  return { family: c.family, start: c.base, end: c.base + (1n << BigInt(bits - c.prefix)) - 1n };
}

const rangeText = (r: Range): string => `${addrText(r.family, r.start)} - ${addrText(r.family, r.end)}`;

type Obj = Record<string, unknown>;
const objs = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter((x): x is Obj => typeof x === 'object' && x !== null) : []);

/**
 * Split every pool and pd-pool without a client-class between the two heads (names: ha_peers'
 * order), in the subnets of `d` (the Dhcp4 or Dhcp6 object) and of its shared networks. Changes
 * `d`; a one-line reason when a pool cannot be split (a single address, a pd-pool already at
 * its delegated length, a pool Kea would reject).
 */
export function splitPools(d: Obj, names: [string, string]): string | undefined {
  const classes = names.map((n) => `HA_${n}`) as [string, string];
  const subnets = [...objs(d.subnet4), ...objs(d.subnet6)];
  for (const sn of objs(d['shared-networks'])) subnets.push(...objs(sn.subnet4), ...objs(sn.subnet6));
  for (const sub of subnets) {
    const where = `subnet ${String(sub.subnet ?? '?')}`;
    if (Array.isArray(sub.pools)) {
      const out: Obj[] = [];
      for (const p of objs(sub.pools)) {
        if (p['client-class'] !== undefined || typeof p.pool !== 'string') { out.push(p); continue; }
        const r = parsePool(p.pool);
        if (typeof r === 'string') return `${where}: ${r}`;
        if (r.end === r.start) return `${where}: pool '${p.pool}' has one address; load-balancing gives each head half of every pool (give it a client-class, HA_${names[0]} or HA_${names[1]})`;
        const mid = r.start + (r.end - r.start) / 2n;
        const halves: [Range, Range] = [{ ...r, end: mid }, { ...r, start: mid + 1n }];
        out.push({ ...p, pool: rangeText(halves[0]), 'client-class': classes[0] }, { ...p, pool: rangeText(halves[1]), 'client-class': classes[1] });
      }
      sub.pools = out;
    }
    if (Array.isArray(sub['pd-pools'])) {
      const out: Obj[] = [];
      for (const p of objs(sub['pd-pools'])) {
        if (p['client-class'] !== undefined || typeof p.prefix !== 'string') { out.push(p); continue; }
        const len = Number(p['prefix-len']);
        const del = Number(p['delegated-len']);
        const a = parseAddr(p.prefix);
        if (!a || a.family !== 'ipv6' || !Number.isInteger(len) || !Number.isInteger(del) || len < 0 || len > 127) return `${where}: pd-pool ${String(p.prefix)}/${String(p['prefix-len'])}: not an IPv6 prefix Kea takes`;
        if (len >= del) return `${where}: pd-pool ${p.prefix}/${len} delegates one /${del}; load-balancing gives each head half of every pool (give it a client-class, HA_${names[0]} or HA_${names[1]})`;
        const second = a.value + (1n << BigInt(128 - (len + 1)));
        const halves = [addrText('ipv6', a.value), addrText('ipv6', second)];
        out.push({ ...p, prefix: halves[0], 'prefix-len': len + 1, 'client-class': classes[0] }, { ...p, prefix: halves[1], 'prefix-len': len + 1, 'client-class': classes[1] });
      }
      sub['pd-pools'] = out;
    }
  }
  return undefined;
}

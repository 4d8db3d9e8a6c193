// IPv6 router discovery from the client side: send a router solicitation with rdisc6
// (ndisc6) and read the router advertisements that answer it; this host's link-local
// addresses from /proc/net/if_inet6. No OCF knowledge: the radvd agent's monitor and the
// tests (later the lab's client) use the same code.
import { readFileSync } from 'node:fs';
import { run } from '../service/run';

export interface RaPrefix { prefix: string; length: number; onLink: boolean; autonomous: boolean }

export interface RouterAdvert {
  /** Source address of the RA (a link-local address). */
  from: string;
  /** M flag: addresses by DHCPv6 ("Stateful address conf."). */
  managed: boolean;
  /** O flag: other configuration by DHCPv6 ("Stateful other conf."). */
  other: boolean;
  /** Router lifetime in seconds (0: not a default router). */
  routerLifetime: number;
  prefixes: RaPrefix[];
}

/** The 8 16-bit groups of an IPv6 address (no embedded IPv4), or undefined. */
export function ipv6Groups(a: string): number[] | undefined {
  const s = a.toLowerCase().replace(/%.*$/, '');
  if (!/^[0-9a-f:]+$/.test(s)) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const part = (x: string) => (x === '' ? [] : x.split(':'));
  const head = part(halves[0]!);
  const tail = halves.length === 2 ? part(halves[1]!) : [];
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...head, ...Array<string>(fill).fill('0'), ...tail];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return all.map((g) => Number.parseInt(g, 16));
}

/** Two IPv6 addresses are the same address (any spelling). */
export function sameIPv6(a: string, b: string): boolean {
  const x = ipv6Groups(a);
  const y = ipv6Groups(b);
  return !!x && !!y && x.every((g, i) => g === y[i]);
}

/** Two prefixes are the same network: equal length and equal bits up to it. */
export function samePrefix(a: string, aLen: number, b: string, bLen: number): boolean {
  if (aLen !== bLen) return false;
  const x = ipv6Groups(a);
  const y = ipv6Groups(b);
  if (!x || !y) return false;
  for (let bit = 0; bit < aLen; bit++) {
    const g = bit >> 4;
    const m = 0x8000 >> (bit & 15);
    if ((x[g]! & m) !== (y[g]! & m)) return false;
  }
  return true;
}

/** The RAs in rdisc6's verbose output (one block per RA, ending with " from <address>"). */
export function parseRdisc6(out: string): RouterAdvert[] {
  const ras: RouterAdvert[] = [];
  let cur: RouterAdvert = { from: '', managed: false, other: false, routerLifetime: -1, prefixes: [] };
  let prefix: RaPrefix | undefined;
  const yes = (v: string) => /^yes$/i.test(v.trim());
  for (const line of out.split('\n')) {
    const m = /^\s*([^:]+?)\s*:\s*(.*)$/.exec(line);
    const from = /^\s*from\s+(\S+)/.exec(line);
    if (from) {
      cur.from = from[1]!;
      ras.push(cur);
      cur = { from: '', managed: false, other: false, routerLifetime: -1, prefixes: [] };
      prefix = undefined;
      continue;
    }
    if (!m) continue;
    const [, key, val] = m as unknown as [string, string, string];
    if (key === 'Stateful address conf.') cur.managed = yes(val);
    else if (key === 'Stateful other conf.') cur.other = yes(val);
    else if (key === 'Router lifetime') cur.routerLifetime = Number.parseInt(val, 10);
    else if (key === 'Prefix') {
      const [addr, len] = val.trim().split('/');
      prefix = { prefix: addr ?? '', length: Number(len), onLink: false, autonomous: false };
      cur.prefixes.push(prefix);
    } else if (key === 'On-link' && prefix) prefix.onLink = yes(val);
    else if (key === 'Autonomous address conf.' && prefix) prefix.autonomous = yes(val);
  }
  return ras;
}

export interface SolicitResult {
  ok: boolean;
  adverts: RouterAdvert[];
  /** ms from sending the solicitation to rdisc6's exit. */
  ms: number;
  error?: string;
}

/**
 * One router solicitation on `iface` (to ff02::2, or unicast to `target`), rdisc6 -1: returns
 * at the first RA, or after `waitMs` x `retries` without one (rdisc6 sends the solicitation
 * again after each `waitMs` without an answer). `all`: no -1, every RA answering within
 * `waitMs` of the solicitation that got one (e.g. one from each head).
 */
export async function solicit(iface: string, opts: { target?: string; waitMs: number; retries?: number; all?: boolean; rdisc6?: string }): Promise<SolicitResult> {
  const retries = opts.retries ?? 1;
  const args = [...(opts.all ? [] : ['-1']), '-n', '-w', String(Math.max(1, Math.round(opts.waitMs))), '-r', String(retries)];
  if (opts.target) args.push(opts.target);
  args.push(iface);
  const t0 = Date.now();
  const r = await run(opts.rdisc6 ?? 'rdisc6', args, { timeoutMs: opts.waitMs * retries + 2000 });
  const ms = Date.now() - t0;
  const adverts = parseRdisc6(r.stdout);
  if (adverts.length) return { ok: true, adverts, ms };
  if (r.spawnError) return { ok: false, adverts, ms, error: `cannot run rdisc6: ${r.spawnError}` };
  if (r.timedOut) return { ok: false, adverts, ms, error: 'rdisc6 timed out' };
  const said = (r.stderr + r.stdout).split('\n').map((l) => l.trim()).filter((l) => l && !/^Soliciting /.test(l));
  return { ok: false, adverts, ms, error: said.length ? said.join(' ') : `rdisc6 exit ${r.code}` };
}

export interface LinkLocal { address: string; tentative: boolean; dadFailed: boolean }

const IFA_F_DADFAILED = 0x08;
const IFA_F_TENTATIVE = 0x40;

/** The link-local IPv6 addresses of `iface` in this network namespace (/proc/net/if_inet6). */
export function linkLocalAddresses(iface: string, file = '/proc/net/if_inet6'): LinkLocal[] {
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { return []; }
  const out: LinkLocal[] = [];
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6 || f[5] !== iface || f[3] !== '20') continue; // scope 0x20: link
    const hex = f[0]!;
    const groups = hex.match(/.{4}/g)?.map((g) => Number.parseInt(g, 16).toString(16)) ?? [];
    const flags = Number.parseInt(f[4]!, 16);
    out.push({ address: compress(groups), tentative: (flags & IFA_F_TENTATIVE) !== 0, dadFailed: (flags & IFA_F_DADFAILED) !== 0 });
  }
  return out;
}

/** RFC 5952 text of 8 hex groups: the longest run (2+) of zero groups becomes "::". */
function compress(groups: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < groups.length;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

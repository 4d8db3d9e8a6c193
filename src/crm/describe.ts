// The cluster description (/etc/ha-oscar/cluster.yaml): parse and validate.
// Every error names the field path and what is wrong; unknown keys are errors.
import { parseDocument, isMap } from 'yaml';
import { type Addr, type Cidr, type Family, contains, familyOf, isNetworkOrBroadcast, parseAddr, parseCidr } from '../service/ip';
import { FENCE, HEALTH, HEURISTIC, type Kind, type ParamSpec, SERVICES, SNMP_ALERT } from './agents';
import { checkExportsParam, isExportsFile, parseInlineExports } from '../service/nfs-exports';

export type Mode = 'active-standby' | 'active-active';

/**
 * IPv6 router advertisements on a network (networks.<name>.ipv6.ra): ocf:ha-oscar:radvd as a
 * clone on both heads. Defaults for a PXE network served by DHCPv6 (docs/pxe.md).
 */
export interface RouterAdverts {
  /** M flag: addresses by DHCPv6 (UEFI firmware does DHCPv6 only with it). */
  managed: boolean;
  /** O flag: other configuration (boot file URL, DNS) by DHCPv6. */
  other: boolean;
  /** Seconds; 0: the heads are not the nodes' default router. */
  routerLifetime: number;
  /** The prefix's A flag (SLAAC). */
  autonomous: boolean;
  /** MaxRtrAdvInterval, seconds. */
  interval: number;
}

export const RA_DEFAULTS: RouterAdverts = { managed: true, other: true, routerLifetime: 0, autonomous: false, interval: 30 };

export interface Network {
  name: string;
  ipv4?: Cidr;
  ipv6?: Cidr;
  interface?: string;
  services: boolean;
  /** Router advertisements on the IPv6 prefix (networks.<name>.ipv6.ra). */
  ra?: RouterAdverts;
}

export interface Head {
  name: string;
  nodeid: number;
  /** network name -> family -> address */
  addresses: Record<string, Partial<Record<Family, Addr>>>;
}

export interface Vip { addr: Addr; network: Network }

export interface ServiceConf {
  /** Description key -> value text (already checked against the table). */
  params: Record<string, string>;
  /** Variant (v4/v6) -> key -> value text. */
  variants: Record<string, Record<string, string>>;
}

export interface ServiceSet { name: string; prefer?: string; vips: Vip[]; services: string[] }

export interface FenceDevice { head: string; index: number; method: string; params: Record<string, string> }

/** fence_heuristics_ping before every head's fence device (agents.ts HEURISTIC). */
export interface Heuristics { ping: string[]; count: number; good: number; interval: number; timeout: number; maxfail: number }

/**
 * quorum.device: corosync-qdevice on both heads, voting through corosync-qnetd on a third host
 * (corosync.conf `quorum { device { model: net ... } }`, docs/config.md "Quorum device").
 */
export interface QuorumDevice {
  /** The qnetd host: an IP address or a DNS name, never a head. */
  host: string;
  port: number;
  algorithm: 'ffsplit' | 'lms';
  /** lowest, highest, or the nodeid of a head */
  tieBreaker: string;
  tls: 'on' | 'off' | 'required';
  /** quorum.device.timeout in ms; undefined: derived from the token (src/crm/corosync.ts qdeviceTimeout) */
  timeout?: number;
  /** qdevice heuristics: commands run on each head (no shell); every one must succeed. */
  heuristics?: { mode: 'sync' | 'on'; exec: [string, string][] };
}

/** How a qdevice heuristic pings one address (execv, so an absolute path; no shell). */
export const QDEVICE_PING = ['/usr/bin/ping', '-q', '-n', '-c', '1', '-W', '1'];

/** SNMP notifications through the alert agent alert_haoscar (one Pacemaker alert). */
export interface SnmpNotifications {
  /** snmptrap: the alert agent sends to each recipient; subagent: queued for ha-oscar-snmp-agent (snmpd's trap sinks). */
  transport: 'snmptrap' | 'subagent';
  /** net-snmp transport addresses, canonical: udp:192.0.2.5:162, udp6:[2001:db8::5]:162 (snmptrap only). */
  recipients: string[];
  snmpConfDir?: string;
  inform?: boolean;
  spoolDir?: string;
}

export interface Description {
  cluster: { name: string };
  mode: Mode;
  networks: Network[];
  corosync: { links: string[]; family: Family; cipher: string; hash: string };
  heads: Head[];
  sets: ServiceSet[];
  services: Record<string, ServiceConf>;
  health: { link?: Record<string, string>; raid?: Record<string, string> };
  fencing: {
    enabled: boolean; priorityDelay?: string; delayMax?: string; devices: FenceDevice[];
    /**
     * When the split-brain delays apply. peer-answers (default): only when the head to be
     * fenced still answers ping on one of its addresses, through the pseudo device
     * fence_haoscar_delay (agents.ts DELAY); always: Pacemaker's own priority-fencing-delay and
     * pcmk_delay_max, which also wait before fencing a head that has lost power.
     */
    delayWhen: 'peer-answers' | 'always';
    /** stonith-action: what fencing does to a head (Pacemaker's default: reboot). */
    action?: 'off' | 'reboot';
    /** stonith-timeout */
    timeout?: string;
    heuristics?: Heuristics;
  };
  timings: { token: number; stickiness: number; migrationThreshold: number; failureTimeout: string };
  notifications: { snmp?: SnmpNotifications };
  /** Without a device: corosync's two_node, as before. */
  quorum: { device?: QuorumDevice };
}

export class DescriptionError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} problems:\n  ${problems.join('\n  ')}`);
  }
}

const NAME_RE = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/;
const HOST_RE = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const IFACE_RE = /^[A-Za-z0-9_.:-]{1,15}$/;
const DURATION_RE = /^(\d+)(ms|s|sec|m|min|h|hr)?$/;
const DURATION_S: Record<string, number> = { s: 1, sec: 1, m: 60, min: 60, h: 3600, hr: 3600 };

/** Seconds of a description duration (15s, 500ms, 2min; a bare number is seconds); 0 when unset. */
export function durationS(v: string | undefined): number {
  const m = v === undefined ? null : DURATION_RE.exec(v);
  if (!m) return 0;
  return m[2] === 'ms' ? Number(m[1]) / 1000 : Number(m[1]) * DURATION_S[m[2] ?? 's']!;
}

type Obj = Record<string, unknown>;

class Ctx {
  errors: string[] = [];
  err(path: string, msg: string): undefined { this.errors.push(`${path}: ${msg}`); return undefined; }

  /** A mapping with only the given keys; required keys are marked with a trailing '!'. */
  obj(v: unknown, path: string, keys: string[]): Obj | undefined {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return this.err(path, 'must be a mapping');
    const allowed = new Map(keys.map((k) => [k.replace(/!$/, ''), k.endsWith('!')]));
    const o = v as Obj;
    for (const k of Object.keys(o)) {
      if (!allowed.has(k)) this.err(join(path, k), `unknown key (allowed: ${[...allowed.keys()].join(', ')})`);
    }
    for (const [k, req] of allowed) if (req && (o[k] === undefined || o[k] === null)) this.err(join(path, k), 'missing');
    return o;
  }

  str(v: unknown, path: string, re?: RegExp, what?: string): string | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' && typeof v !== 'number') return this.err(path, 'must be a string');
    const s = String(v);
    if (!s || /[\n\r\0]/.test(s)) return this.err(path, 'must be a non-empty single-line string');
    if (re && !re.test(s)) return this.err(path, `not a valid ${what ?? 'value'}: '${s}'`);
    return s;
  }

  int(v: unknown, path: string, min: number, max: number): number | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) return this.err(path, 'must be an integer');
    if (v < min || v > max) return this.err(path, `must be between ${min} and ${max}`);
    return v;
  }

  duration(v: unknown, path: string): string | undefined {
    if (v === undefined || v === null) return undefined;
    const s = String(v);
    const m = DURATION_RE.exec(s);
    if (!m || typeof v === 'boolean') return this.err(path, `not a duration (like 30s, 2min, 1h): '${s}'`);
    return m[2] ? s : `${s}s`;
  }

  list(v: unknown, path: string): unknown[] | undefined {
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v)) return this.err(path, 'must be a list');
    return v;
  }

  addr(v: unknown, path: string, family?: Family): Addr | undefined {
    const s = this.str(v, path);
    if (s === undefined) return undefined;
    const a = parseAddr(s);
    if (!a) return this.err(path, `not an ${family === 'ipv6' ? 'IPv6' : family === 'ipv4' ? 'IPv4' : 'IP'} address: '${s}'`);
    if (family && a.family !== family) return this.err(path, `not an ${family === 'ipv6' ? 'IPv6' : 'IPv4'} address: '${s}'`);
    return a;
  }

  cidr(v: unknown, path: string, family: Family): Cidr | undefined {
    const s = this.str(v, path);
    if (s === undefined) return undefined;
    const c = parseCidr(s);
    if (typeof c === 'string') return this.err(path, `${c}: '${s}'`);
    if (c.family !== family) return this.err(path, `not an ${family === 'ipv6' ? 'IPv6' : 'IPv4'} network: '${s}'`);
    return c;
  }

  /** A value for an agent parameter, per the table's kind. */
  param(v: unknown, path: string, spec: ParamSpec): string | undefined {
    if (v === undefined || v === null) return undefined;
    const k: Kind = spec.kind;
    let out: string | undefined;
    switch (k) {
      case 'string': out = this.str(v, path, /^[^"\\]*$/, 'value (no double quote or backslash)'); break;
      case 'path': out = this.str(v, path, /^\/[^\s'"]*$/, 'absolute path'); break;
      case 'int': { const n = this.int(v, path, 0, 2 ** 31 - 1); out = n === undefined ? undefined : String(n); break; }
      case 'bool': out = typeof v === 'boolean' ? String(v) : this.err(path, 'must be true or false'); break;
      case 'duration': out = this.duration(v, path); break;
      case 'addr': out = this.addr(v, path)?.text; break;
      case 'addrs': case 'list': case 'hosts': {
        const items = typeof v === 'string' || typeof v === 'number' ? [v] : this.list(v, path);
        if (!items) return undefined;
        if (items.length === 0) return this.err(path, 'must not be empty');
        const texts: string[] = [];
        items.forEach((it, i) => {
          const ip = `${path}[${i}]`;
          if (k === 'addrs') { const a = this.addr(it, ip); if (a) texts.push(a.text); return; }
          const s = this.str(it, ip, /^\S+$/, 'item (no spaces)');
          if (s === undefined) return;
          if (k === 'hosts' && !familyOf(s) && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(s)) { this.err(ip, `not a host name or address: '${s}'`); return; }
          texts.push(s);
        });
        out = texts.length === items.length ? texts.join(' ') : undefined;
        break;
      }
      case 'exports': {
        // One string: an exports file (absolute path) or inline exports ("/srv 192.0.2.0/24(rw); /sw *(ro)").
        // A list: one export line per item ("PATH CLIENT(OPTIONS) ..."), joined with "; ".
        if (typeof v === 'string') {
          const s = this.str(v, path);
          if (s === undefined) return undefined;
          const why = checkExportsParam(s);
          out = why ? this.err(path, `${why}: '${s}'`) : s;
          break;
        }
        const items = this.list(v, path);
        if (!items) return undefined;
        if (items.length === 0) return this.err(path, 'must not be empty');
        const lines: string[] = [];
        items.forEach((it, i) => {
          const ip = `${path}[${i}]`;
          const s = this.str(it, ip, /^[^;]*$/, 'export line (one export per item, no ";")');
          if (s === undefined) return;
          if (isExportsFile(s)) { this.err(ip, `not an export line (PATH CLIENT(OPTIONS) ...): '${s}'`); return; }
          try { parseInlineExports(s); lines.push(s.trim().split(/\s+/).join(' ')); } catch (e) { this.err(ip, (e as Error).message); }
        });
        if (lines.length !== items.length) return undefined;
        const why = checkExportsParam(lines.join('; '));
        out = why ? this.err(path, why) : lines.join('; ');
        break;
      }
    }
    if (out !== undefined && spec.values && !spec.values.includes(out)) return this.err(path, `must be one of ${spec.values.join(', ')}: '${out}'`);
    return out;
  }

  params(o: Obj, path: string, keys: Record<string, ParamSpec>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, spec] of Object.entries(keys)) {
      const t = this.param(o[k], join(path, k), spec);
      if (t !== undefined) out[k] = t;
    }
    return out;
  }
}

function join(path: string, key: string): string { return path ? `${path}.${key}` : key; }

/** Parse YAML text into a validated Description, or throw DescriptionError. */
export function parseDescription(text: string, source = 'description'): Description {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    const e = doc.errors[0];
    const pos = e.linePos?.[0];
    const msg = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new DescriptionError([`${source}${pos ? `:${pos.line}:${pos.col}` : ''}: YAML: ${msg}`]);
  }
  if (!isMap(doc.contents)) throw new DescriptionError([`${source}: must be a YAML mapping`]);
  return validate(doc.toJS({ maxAliasCount: 100 }) as unknown);
}

export function validate(raw: unknown): Description {
  const c = new Ctx();
  const top = c.obj(raw, '', ['cluster!', 'mode!', 'networks!', 'corosync!', 'heads!', 'sets!', 'services', 'health', 'fencing!', 'timings', 'notifications', 'quorum']);
  if (!top) throw new DescriptionError(c.errors.map((e) => e.replace(/^: /, 'description: ')));

  // cluster
  const cl = top.cluster === undefined ? undefined : c.obj(top.cluster, 'cluster', ['name!']);
  const clusterName = cl ? c.str(cl.name, 'cluster.name', NAME_RE, 'cluster name (letter, then letters, digits, - or _; at most 32)') : undefined;

  // mode
  let mode: Mode = 'active-standby';
  if (top.mode !== undefined) {
    if (top.mode === 'active-standby' || top.mode === 'active-active') mode = top.mode;
    else c.err('mode', `must be active-standby or active-active: '${String(top.mode)}'`);
  }

  // networks
  const networks: Network[] = [];
  const nets = top.networks === undefined ? undefined : c.obj(top.networks, 'networks', Object.keys((top.networks ?? {}) as Obj));
  if (nets) {
    for (const [name, v] of Object.entries(nets)) {
      const path = `networks.${name}`;
      if (!NAME_RE.test(name)) c.err(path, 'network name must be a letter followed by letters, digits, - or _');
      const n = c.obj(v, path, ['ipv4', 'ipv6', 'interface', 'services']);
      if (!n) continue;
      // ipv6: a prefix (2001:db8:a::/64), or { prefix, ra } to advertise it
      const v6 = n.ipv6 !== null && typeof n.ipv6 === 'object' ? c.obj(n.ipv6, `${path}.ipv6`, ['prefix!', 'ra']) : undefined;
      const net: Network = {
        name,
        ipv4: c.cidr(n.ipv4, `${path}.ipv4`, 'ipv4'),
        ipv6: c.cidr(v6 ? v6.prefix : n.ipv6, v6 ? `${path}.ipv6.prefix` : `${path}.ipv6`, 'ipv6'),
        interface: c.str(n.interface, `${path}.interface`, IFACE_RE, 'interface name'),
        services: false,
      };
      if (v6 && v6.ra !== undefined) net.ra = routerAdverts(c, v6.ra, `${path}.ipv6.ra`, net, n.interface !== undefined);
      if (n.services !== undefined) {
        if (typeof n.services !== 'boolean') c.err(`${path}.services`, 'must be true or false');
        else net.services = n.services;
      }
      if (n.ipv4 === undefined && n.ipv6 === undefined) c.err(path, 'needs ipv4, ipv6 or both');
      networks.push(net);
    }
    if (networks.length === 0) c.err('networks', 'must describe at least one network');
    const svc = networks.filter((n) => n.services);
    if (svc.length !== 1 && networks.length) c.err('networks', `exactly one network must have 'services: true' (the one that carries the compute-node services and the VIPs); found ${svc.length}`);
    for (let i = 0; i < networks.length; i++) for (let j = 0; j < i; j++) {
      for (const f of ['ipv4', 'ipv6'] as const) {
        const a = networks[i][f]; const b = networks[j][f];
        if (a && b && (contains(a, { family: f, value: b.base, text: '' }) || contains(b, { family: f, value: a.base, text: '' }))) {
          c.err(`networks.${networks[i].name}.${f}`, `overlaps networks.${networks[j].name}.${f}`);
        }
      }
    }
  }
  const netByName = new Map(networks.map((n) => [n.name, n]));

  // corosync
  const co = top.corosync === undefined ? undefined : c.obj(top.corosync, 'corosync', ['links!', 'family', 'crypto']);
  const links: string[] = [];
  let linkFamily: Family = 'ipv4';
  let cipher = 'aes256'; let hash = 'sha256';
  if (co) {
    const l = c.list(co.links, 'corosync.links');
    l?.forEach((x, i) => {
      const s = c.str(x, `corosync.links[${i}]`);
      if (s === undefined) return;
      if (!netByName.has(s)) c.err(`corosync.links[${i}]`, `unknown network '${s}' (described: ${[...netByName.keys()].join(', ') || 'none'})`);
      else if (links.includes(s)) c.err(`corosync.links[${i}]`, `network '${s}' listed twice`);
      else links.push(s);
    });
    if (l && l.length === 0) c.err('corosync.links', 'must list at least one network');
    if (l && l.length > 8) c.err('corosync.links', 'knet supports at most 8 links');
    if (co.family !== undefined) {
      if (co.family === 'ipv4' || co.family === 'ipv6') linkFamily = co.family;
      else c.err('corosync.family', `must be ipv4 or ipv6: '${String(co.family)}'`);
    }
    for (const [i, ln] of links.entries()) {
      if (!netByName.get(ln)?.[linkFamily]) c.err(`corosync.links[${i}]`, `network '${ln}' has no ${linkFamily} network (corosync.family is ${linkFamily})`);
    }
    if (co.crypto !== undefined) {
      const cr = c.obj(co.crypto, 'corosync.crypto', ['cipher', 'hash']);
      if (cr) {
        const ci = c.str(cr.cipher, 'corosync.crypto.cipher'); const ha = c.str(cr.hash, 'corosync.crypto.hash');
        const ciphers = ['aes256', 'aes192', 'aes128']; const hashes = ['sha256', 'sha384', 'sha512', 'sha1'];
        if (ci !== undefined) { if (ciphers.includes(ci)) cipher = ci; else c.err('corosync.crypto.cipher', `must be one of ${ciphers.join(', ')} (encryption is not optional)`); }
        if (ha !== undefined) { if (hashes.includes(ha)) hash = ha; else c.err('corosync.crypto.hash', `must be one of ${hashes.join(', ')}`); }
      }
    }
  }

  // addresses: every one must be unique (heads, VIPs)
  const seen = new Map<string, string>();
  const claim = (a: Addr, path: string) => {
    const prev = seen.get(a.text);
    if (prev) c.err(path, `duplicate address ${a.text} (also ${prev})`);
    else seen.set(a.text, path);
  };
  const placeIn = (a: Addr, net: Network, path: string) => {
    const cidr = net[a.family];
    if (!cidr) return c.err(path, `network '${net.name}' has no ${a.family} network`);
    if (!contains(cidr, a)) return c.err(path, `${a.text} is outside networks.${net.name}.${a.family} (${cidr.text})`);
    if (isNetworkOrBroadcast(cidr, a)) return c.err(path, `${a.text} is the network or broadcast address of ${cidr.text}`);
    return true;
  };

  // heads
  const heads: Head[] = [];
  const hl = c.list(top.heads, 'heads');
  if (hl) {
    if (hl.length !== 2) c.err('heads', `must list exactly 2 heads, found ${hl.length}`);
    hl.forEach((hv, i) => {
      const path = `heads[${i}]`;
      const h = c.obj(hv, path, ['name!', 'addresses!']);
      if (!h) return;
      const name = c.str(h.name, `${path}.name`, HOST_RE, 'node name (a host name without dots)');
      if (name && heads.some((x) => x.name === name)) c.err(`${path}.name`, `duplicate head name '${name}'`);
      const head: Head = { name: name ?? `?${i}`, nodeid: i + 1, addresses: {} };
      const ad = h.addresses === undefined ? undefined : c.obj(h.addresses, `${path}.addresses`, [...netByName.keys()]);
      if (ad) {
        for (const net of networks) {
          const ap = `${path}.addresses.${net.name}`;
          if (ad[net.name] === undefined) { c.err(ap, 'missing (every head needs an address on every network)'); continue; }
          const fam = c.obj(ad[net.name], ap, [...(net.ipv4 ? ['ipv4!'] : ['ipv4']), ...(net.ipv6 ? ['ipv6!'] : ['ipv6'])]);
          if (!fam) continue;
          head.addresses[net.name] = {};
          for (const f of ['ipv4', 'ipv6'] as const) {
            if (fam[f] === undefined || fam[f] === null) continue;
            const a = c.addr(fam[f], `${ap}.${f}`, f);
            if (!a) continue;
            if (!net[f]) { c.err(`${ap}.${f}`, `networks.${net.name} has no ${f} network`); continue; }
            if (placeIn(a, net, `${ap}.${f}`)) { claim(a, `${ap}.${f}`); head.addresses[net.name][f] = a; }
          }
        }
      }
      heads.push(head);
    });
  }
  const headNames = heads.map((h) => h.name);

  // services (their parameters)
  const services: Record<string, ServiceConf> = {};
  const sv = top.services === undefined ? {} : c.obj(top.services, 'services', Object.keys(SERVICES));
  for (const [name, v] of Object.entries(sv ?? {})) {
    const spec = SERVICES[name];
    if (!spec) continue; // already reported as unknown key
    const path = `services.${name}`;
    const vars = spec.variants ?? {};
    const o = c.obj(v ?? {}, path, [...Object.keys(spec.keys), ...Object.keys(vars)]);
    if (!o) continue;
    const conf: ServiceConf = { params: c.params(o, path, spec.keys), variants: {} };
    for (const [vn, variant] of Object.entries(vars)) {
      if (o[vn] === undefined) continue;
      const vo = c.obj(o[vn] ?? {}, `${path}.${vn}`, Object.keys(variant.keys));
      if (vo) conf.variants[vn] = c.params(vo, `${path}.${vn}`, variant.keys);
    }
    if (spec.variants && Object.keys(conf.variants).length === 0 && !Object.keys(vars).some((vn) => o[vn] !== undefined)) {
      c.err(path, `needs at least one of ${Object.keys(vars).join(', ')}`);
    }
    services[name] = conf;
    if (name === 'dhcp' && conf.params.ha !== undefined) {
      if (conf.params.server !== 'kea') c.err(`${path}.ha`, 'Kea HA needs server: kea');
      for (const vn of ['v4', 'v6']) if (conf.variants[vn]?.server_id !== undefined) c.err(`${path}.${vn}.server_id`, 'with ha each head answers from its own address (and DUID): remove server_id');
    } else if (name === 'dhcp' && conf.params.ha_port !== undefined) c.err(`${path}.ha_port`, 'only with ha (Kea HA)');
  }

  // sets
  const sets: ServiceSet[] = [];
  const sl = c.list(top.sets, 'sets');
  const placed = new Map<string, string>();
  if (sl) {
    const want = mode === 'active-standby' ? 1 : 2;
    if (sl.length !== want) c.err('sets', `${mode} needs exactly ${want} service set${want > 1 ? 's' : ''}, found ${sl.length}`);
    sl.forEach((sv0, i) => {
      const path = `sets[${i}]`;
      const s = c.obj(sv0, path, ['name!', 'prefer', 'vips!', 'services']);
      if (!s) return;
      const name = c.str(s.name, `${path}.name`, NAME_RE, 'set name') ?? `?${i}`;
      if (sets.some((x) => x.name === name)) c.err(`${path}.name`, `duplicate set name '${name}'`);
      const prefer = c.str(s.prefer, `${path}.prefer`);
      if (prefer !== undefined && !headNames.includes(prefer)) c.err(`${path}.prefer`, `unknown head '${prefer}' (heads: ${headNames.join(', ')})`);
      if (mode === 'active-active' && s.prefer === undefined) c.err(`${path}.prefer`, 'missing (active-active: each set prefers one head)');
      const vips: Vip[] = [];
      const vl = c.list(s.vips, `${path}.vips`);
      if (vl && vl.length === 0) c.err(`${path}.vips`, 'must list at least one VIP');
      vl?.forEach((x, j) => {
        const vp = `${path}.vips[${j}]`;
        const a = c.addr(x, vp);
        if (!a) return;
        const inside = networks.filter((n) => n[a.family] && contains(n[a.family]!, a));
        if (inside.length === 0) {
          const nets4or6 = networks.map((n) => n[a.family]?.text).filter(Boolean).join(', ');
          c.err(vp, `VIP ${a.text} is outside every network (${a.family} networks: ${nets4or6 || 'none'})`);
          return;
        }
        if (!placeIn(a, inside[0], vp)) return;
        claim(a, vp);
        vips.push({ addr: a, network: inside[0] });
      });
      const svcs: string[] = [];
      const svl = s.services === undefined ? [] : c.list(s.services, `${path}.services`);
      svl?.forEach((x, j) => {
        const sp = `${path}.services[${j}]`;
        const n = c.str(x, sp);
        if (n === undefined) return;
        if (!SERVICES[n]) { c.err(sp, `unknown service '${n}' (known: ${Object.keys(SERVICES).join(', ')})`); return; }
        if (placed.has(n)) { c.err(sp, `service '${n}' is already in ${placed.get(n)}`); return; }
        if (!services[n]) {
          if (SERVICES[n].variants) { c.err(sp, `service '${n}' needs a services.${n} section (with ${Object.keys(SERVICES[n].variants!).join(' and/or ')})`); return; }
          services[n] = { params: {}, variants: {} };
        }
        placed.set(n, sp);
        svcs.push(n);
      });
      sets.push({ name, prefer, vips, services: svcs });
    });
    if (mode === 'active-active' && sets.length === 2 && sets[0].prefer && sets[0].prefer === sets[1].prefer) {
      c.err('sets[1].prefer', `both sets prefer '${sets[0].prefer}'; active-active needs one set per head`);
    }
  }
  for (const name of Object.keys(services)) {
    if (!placed.has(name)) c.err(`services.${name}`, 'described but not listed in any sets[].services');
  }

  // health
  const health: Description['health'] = {};
  if (top.health !== undefined) {
    const h = c.obj(top.health, 'health', Object.keys(HEALTH));
    for (const [k, spec] of Object.entries(HEALTH)) {
      if (!h || h[k] === undefined) continue;
      const o = c.obj(h[k] ?? {}, `health.${k}`, Object.keys(spec.keys));
      if (o) health[k as keyof typeof HEALTH] = c.params(o, `health.${k}`, spec.keys);
    }
  }

  // quorum (before fencing: a quorum device changes the fencing delays' defaults)
  const quorum: Description['quorum'] = {};
  if (top.quorum !== undefined) {
    const q = c.obj(top.quorum, 'quorum', ['device']);
    if (q && q.device !== undefined && q.device !== null) quorum.device = quorumDevice(c, q.device, seen, heads);
  }

  // fencing
  const fencing: Description['fencing'] = { enabled: false, devices: [], delayWhen: 'peer-answers' };
  if (top.fencing !== undefined) {
    const f = c.obj(top.fencing, 'fencing', ['enabled', 'delay', 'devices', 'action', 'timeout', 'heuristics']);
    if (f) {
      fencing.enabled = true;
      if (f.enabled !== undefined) {
        if (typeof f.enabled !== 'boolean') c.err('fencing.enabled', 'must be true or false');
        else fencing.enabled = f.enabled;
      }
      // With a quorum device only the quorate partition fences: no delay is needed (unless asked for).
      if (!quorum.device) { fencing.priorityDelay = '15s'; fencing.delayMax = '5s'; }
      if (f.delay !== undefined) {
        const d = c.obj(f.delay, 'fencing.delay', ['priority', 'max', 'when']);
        if (d) {
          if (d.when !== undefined) {
            if (d.when === 'peer-answers' || d.when === 'always') fencing.delayWhen = d.when;
            else c.err('fencing.delay.when', `must be peer-answers or always: '${String(d.when)}'`);
          }
          if (d.priority !== undefined) fencing.priorityDelay = d.priority === 0 ? undefined : c.duration(d.priority, 'fencing.delay.priority');
          if (d.max !== undefined) fencing.delayMax = d.max === 0 ? undefined : c.duration(d.max, 'fencing.delay.max');
        }
      }
      if (f.action !== undefined) {
        if (f.action === 'off' || f.action === 'reboot') fencing.action = f.action;
        else c.err('fencing.action', `must be off or reboot: '${String(f.action)}'`);
      }
      if (f.timeout !== undefined) fencing.timeout = c.duration(f.timeout, 'fencing.timeout');
      if (fencing.enabled && !quorum.device && !fencing.priorityDelay && !fencing.delayMax) {
        c.err('fencing.delay', 'at least one of priority or max must be set: without a delay both heads can shoot each other in a split brain');
      }
      const dv = f.devices === undefined ? {} : c.obj(f.devices, 'fencing.devices', headNames);
      if (dv) {
        for (const head of headNames) {
          const dp = `fencing.devices.${head}`;
          const v = dv[head];
          if (v === undefined || v === null) {
            if (fencing.enabled) c.err(dp, `missing: fencing is on, so head '${head}' needs a fence device (a PDU outlet or IPMI)`);
            continue;
          }
          const list = Array.isArray(v) ? v : [v];
          if (list.length === 0 && fencing.enabled) c.err(dp, `empty: fencing is on, so head '${head}' needs a fence device`);
          list.forEach((dv0, i) => {
            const p = Array.isArray(v) ? `${dp}[${i}]` : dp;
            const m = (dv0 && typeof dv0 === 'object') ? (dv0 as Obj).method : undefined;
            const keys = typeof m === 'string' ? FENCE.methods[m] : undefined;
            if (!keys) { c.obj(dv0, p, ['method!']); if (m !== undefined) c.err(`${p}.method`, `must be one of ${Object.keys(FENCE.methods).join(', ')}: '${String(m)}'`); return; }
            if ((dv0 as Obj).password !== undefined) { c.err(`${p}.password`, 'a literal password is not accepted (it would sit in the CIB): give password_script, a program that prints it'); delete (dv0 as Obj).password; }
            const o = c.obj(dv0, p, ['method!', ...Object.keys(keys).map((k) => (k === 'ip' ? 'ip!' : k))]);
            if (!o) return;
            const params = c.params(o, p, keys);
            for (const [k, val] of Object.entries(params)) {
              if (!val.startsWith(FENCE.secretMarker)) continue;
              if (!FENCE.cibSecrets.includes(k)) c.err(`${p}.${k}`, `${FENCE.secretMarker} (a Pacemaker CIB secret) is only for ${FENCE.cibSecrets.join(', ')}`);
              else if (val !== FENCE.secretMarker) c.err(`${p}.${k}`, `write exactly '${FENCE.secretMarker}' (the value itself goes into /var/lib/pacemaker/lrm/secrets/<device>/${k} on both heads: cibsecret set)`);
            }
            if (params.ip !== undefined && seen.has(params.ip)) c.err(`${p}.ip`, `${params.ip} is ${seen.get(params.ip)}: a fence device needs its own address`);
            if (m === 'snmp' && params.plug === undefined) c.err(`${p}.plug`, 'missing (the PDU outlet that powers this head)');
            if (m === 'snmp' && params.community === undefined && params.username === undefined) c.err(p, 'needs community (SNMP v1/v2c) or username (SNMP v3)');
            if (m === 'ipmi' && params.username === undefined) c.err(`${p}.username`, 'missing');
            if (m === 'ipmi' && params.password_script === undefined) c.err(`${p}.password_script`, 'missing (a program that prints the password: the password itself never goes into the CIB)');
            if (m === 'snmp' && params.username !== undefined && params.password_script === undefined) c.err(`${p}.password_script`, 'missing (SNMP v3: a program that prints the authentication key)');
            fencing.devices.push({ head, index: i, method: m as string, params });
          });
        }
      }
      if (f.heuristics !== undefined) fencing.heuristics = heuristics(c, f.heuristics, seen, fencing.devices);
    }
  }

  // timings
  const timings: Description['timings'] = { token: 3000, stickiness: 100, migrationThreshold: 3, failureTimeout: '120s' };
  if (top.timings !== undefined) {
    const t = c.obj(top.timings, 'timings', ['token', 'stickiness', 'migration_threshold', 'failure_timeout']);
    if (t) {
      timings.token = c.int(t.token, 'timings.token', 200, 60000) ?? timings.token;
      timings.stickiness = c.int(t.stickiness, 'timings.stickiness', 0, 1000000) ?? timings.stickiness;
      timings.migrationThreshold = c.int(t.migration_threshold, 'timings.migration_threshold', 1, 1000000) ?? timings.migrationThreshold;
      timings.failureTimeout = c.duration(t.failure_timeout, 'timings.failure_timeout') ?? timings.failureTimeout;
    }
  }

  // notifications
  const notifications: Description['notifications'] = {};
  if (top.notifications !== undefined) {
    const n = c.obj(top.notifications, 'notifications', ['snmp']);
    if (n && n.snmp !== undefined) notifications.snmp = snmpNotifications(c, n.snmp, seen);
  }

  if (c.errors.length) throw new DescriptionError(c.errors);
  return {
    cluster: { name: clusterName! }, mode, networks, corosync: { links, family: linkFamily, cipher, hash },
    heads, sets, services, health, fencing, timings, notifications, quorum,
  };
}

/**
 * networks.<name>.ipv6.ra: true (the defaults, RA_DEFAULTS), false (none), or a mapping
 * { managed, other, router_lifetime, autonomous, interval }. The limits are the radvd agent's
 * (agents/radvd.ts) and RFC 4861's, so a description that passes never fails the agent's
 * validate-all.
 */
function routerAdverts(c: Ctx, v: unknown, path: string, net: Network, hasInterface: boolean): RouterAdverts | undefined {
  if (v === false) return undefined;
  if (v !== true && (v === null || typeof v !== 'object' || Array.isArray(v))) return c.err(path, 'must be true, false or a mapping (managed, other, router_lifetime, autonomous, interval)');
  const o = v === true ? {} : c.obj(v, path, ['managed', 'other', 'router_lifetime', 'autonomous', 'interval']);
  if (!o) return undefined;
  const before = c.errors.length;
  const bool = (k: string, d: boolean): boolean => {
    if (o[k] === undefined || o[k] === null) return d;
    if (typeof o[k] !== 'boolean') { c.err(join(path, k), 'must be true or false'); return d; }
    return o[k] as boolean;
  };
  const ra: RouterAdverts = {
    managed: bool('managed', RA_DEFAULTS.managed),
    other: bool('other', RA_DEFAULTS.other),
    autonomous: bool('autonomous', RA_DEFAULTS.autonomous),
    routerLifetime: c.int(o.router_lifetime, join(path, 'router_lifetime'), 0, 9000) ?? RA_DEFAULTS.routerLifetime,
    interval: c.int(o.interval, join(path, 'interval'), 4, 1800) ?? RA_DEFAULTS.interval,
  };
  if (ra.routerLifetime > 0 && ra.routerLifetime < ra.interval) {
    c.err(join(path, 'router_lifetime'), `${ra.routerLifetime} s is shorter than interval (${ra.interval} s): must be 0 (not a default router) or at least interval (RFC 4861)`);
  }
  const p6 = net.ipv6;
  if (p6 && ra.autonomous && p6.prefix !== 64) c.err(join(path, 'autonomous'), `SLAAC needs a /64 prefix, and ${p6.text} is not one`);
  if (p6 && (p6.base >> 118n) === 0x3fan) c.err(path, `${p6.text} is link-local: every interface has fe80::/64 already, there is nothing to advertise`);
  if (p6 && (p6.base >> 120n) === 0xffn) c.err(path, `${p6.text} is multicast, not a prefix to advertise`);
  if (!hasInterface) c.err(path, `needs networks.${net.name}.interface (the interface radvd advertises on, on both heads)`);
  return c.errors.length > before ? undefined : ra;
}

/**
 * fencing.heuristics: { ping: [ADDRESS...], count, good, interval, timeout, maxfail }.
 * Targets are IP addresses (fencing must not wait on DNS), on the compute nodes' side: never a
 * head, a VIP or a fence device, which a head cut from the compute nodes may still reach (its
 * own address and a VIP it holds always answer; the PDU sits on the management net).
 */
/**
 * quorum.device: { host, port, algorithm: ffsplit|lms, tie_breaker: lowest|highest|NODEID,
 * tls: on|off|required, heuristics: { mode: sync|on, ping: [ADDR...], exec: { NAME: COMMAND } } }
 */
function quorumDevice(c: Ctx, v: unknown, seen: Map<string, string>, heads: Head[]): QuorumDevice | undefined {
  const p = 'quorum.device';
  const o = c.obj(v, p, ['host!', 'port', 'algorithm', 'tie_breaker', 'tls', 'timeout', 'heuristics']);
  if (!o) return undefined;
  const before = c.errors.length;
  const host = c.str(o.host, `${p}.host`);
  if (host !== undefined) {
    const a = parseAddr(host);
    if (!a && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host)) c.err(`${p}.host`, `not an IP address or host name: '${host}'`);
    const owner = a ? seen.get(a.text) : undefined;
    if (owner) c.err(`${p}.host`, `${a!.text} is ${owner}: corosync-qnetd must run on a third machine, never on a head (a head that is down would take the tie-breaker with it)`);
    if (heads.some((h) => h.name === host)) c.err(`${p}.host`, `'${host}' is a head: corosync-qnetd must run on a third machine`);
  }
  const port = c.int(o.port, `${p}.port`, 1, 65535) ?? 5403;
  // ms; qnetd refuses a heartbeat under 1000 ms (0.8 x timeout) or over 120000 ms
  const timeout = o.timeout === undefined ? undefined : c.int(o.timeout, `${p}.timeout`, 1250, 150_000);
  let algorithm: QuorumDevice['algorithm'] = 'ffsplit';
  if (o.algorithm !== undefined) {
    if (o.algorithm === 'ffsplit' || o.algorithm === 'lms') algorithm = o.algorithm;
    else c.err(`${p}.algorithm`, `must be ffsplit or lms: '${String(o.algorithm)}'`);
  }
  let tieBreaker = 'lowest';
  if (o.tie_breaker !== undefined) {
    const t = String(o.tie_breaker);
    if (t === 'lowest' || t === 'highest') tieBreaker = t;
    else if (heads.some((h) => String(h.nodeid) === t)) tieBreaker = t;
    else c.err(`${p}.tie_breaker`, `must be lowest, highest or the nodeid of a head (${heads.map((h) => `${h.name}: ${h.nodeid}`).join(', ')}): '${t}'`);
  }
  // YAML 1.2 reads on/off as strings; true/false are taken too
  let tls: QuorumDevice['tls'] = 'on';
  if (o.tls !== undefined) {
    const t = o.tls === true ? 'on' : o.tls === false ? 'off' : o.tls;
    if (t === 'on' || t === 'off' || t === 'required') tls = t;
    else c.err(`${p}.tls`, `must be on, off or required: '${String(o.tls)}'`);
  }
  let heur: QuorumDevice['heuristics'];
  if (o.heuristics !== undefined && o.heuristics !== null) {
    const hp = `${p}.heuristics`;
    const h = c.obj(o.heuristics, hp, ['mode', 'ping', 'exec']);
    if (h) {
      const hBefore = c.errors.length;
      let mode: 'sync' | 'on' = 'sync';
      if (h.mode !== undefined) {
        if (h.mode === 'sync' || h.mode === 'on') mode = h.mode;
        else c.err(`${hp}.mode`, `must be sync (at start and membership changes) or on (also every interval): '${String(h.mode)}'`);
      }
      const exec: [string, string][] = [];
      const pings = typeof h.ping === 'string' ? [h.ping] : c.list(h.ping, `${hp}.ping`) ?? [];
      pings.forEach((it, i) => {
        const ip = Array.isArray(h.ping) ? `${hp}.ping[${i}]` : `${hp}.ping`;
        const s = c.str(it, ip);
        if (s === undefined) return;
        const a = parseAddr(s);
        if (!a) { c.err(ip, `not an IP address (the heuristic must not depend on DNS): '${s}'`); return; }
        const owner = seen.get(a.text);
        if (owner) { c.err(ip, `${a.text} is ${owner}: a head answers its own addresses and the VIPs it holds, so the heuristic would pass on a cut-off head`); return; }
        exec.push([`ping${i}`, [...QDEVICE_PING, a.text].join(' ')]);
      });
      if (h.exec !== undefined) {
        const e = c.obj(h.exec, `${hp}.exec`, Object.keys((h.exec && typeof h.exec === 'object') ? h.exec : {}));
        for (const [name, cmd] of Object.entries(e ?? {})) {
          const ep = `${hp}.exec.${name}`;
          if (!/^[A-Za-z0-9_]{1,32}$/.test(name)) { c.err(ep, 'the name must be letters, digits or _ (it becomes the corosync key exec_NAME)'); continue; }
          if (exec.some(([n]) => n === name)) { c.err(ep, `the name ${name} is taken by a ping heuristic`); continue; }
          const s = c.str(cmd, ep);
          if (s === undefined) continue;
          if (!/^\/\S+/.test(s)) { c.err(ep, `must start with the command's absolute path (corosync-qdevice runs it with execv, no PATH search): '${s}'`); continue; }
          if (/["'\\|&;<>$`(){}*?~]/.test(s)) { c.err(ep, `no quotes, backslashes or shell syntax: corosync-qdevice splits the words itself and runs no shell: '${s}'`); continue; }
          exec.push([name, s.trim().split(/\s+/).join(' ')]);
        }
      }
      if (exec.length === 0 && c.errors.length === hBefore) c.err(hp, 'give at least one ping address or exec command');
      else if (exec.length > 32) c.err(hp, `corosync-qdevice runs at most 32 commands, got ${exec.length}`);
      heur = { mode, exec };
    }
  }
  if (c.errors.length > before || host === undefined) return undefined;
  return { host: parseAddr(host)?.text ?? host, port, algorithm, tieBreaker, tls, ...(timeout !== undefined ? { timeout } : {}), heuristics: heur };
}

function heuristics(c: Ctx, v: unknown, seen: Map<string, string>, devices: FenceDevice[]): Heuristics | undefined {
  const p = 'fencing.heuristics';
  const o = c.obj(v, p, ['ping!', 'count', 'good', 'interval', 'timeout', 'maxfail']);
  if (!o) return undefined;
  const before = c.errors.length;
  const items = typeof o.ping === 'string' ? [o.ping] : c.list(o.ping, `${p}.ping`);
  const ping: string[] = [];
  if (items && items.length === 0) c.err(`${p}.ping`, 'must list at least one address to ping (a compute node, a switch on the compute nodes\' net)');
  items?.forEach((it, i) => {
    const ip = Array.isArray(o.ping) ? `${p}.ping[${i}]` : `${p}.ping`;
    const s = c.str(it, ip);
    if (s === undefined) return;
    const a = parseAddr(s);
    if (!a) { c.err(ip, `not an IP address (host names are not accepted: fencing must not depend on DNS): '${s}'`); return; }
    if (ping.includes(a.text)) { c.err(ip, `${a.text} listed twice`); return; }
    const owner = seen.get(a.text);
    if (owner) { c.err(ip, `${a.text} is ${owner}: a head answers its own addresses and the VIPs it holds, so the heuristic would pass on a cut-off head`); return; }
    const dev = devices.find((d) => d.params.ip === a.text);
    if (dev) { c.err(ip, `${a.text} is the fence device of ${dev.head}: a head cut from the compute nodes may still reach it`); return; }
    ping.push(a.text);
  });
  const clash = devices.find((x) => `fence-${x.head}` === HEURISTIC.id);
  if (clash) c.err(p, `the heuristic's device is ${HEURISTIC.id}, the id of head '${clash.head}''s fence device: rename the head`);
  const d = HEURISTIC.defaults;
  const count = c.int(o.count, `${p}.count`, 1, 100) ?? d.count;
  const good = c.int(o.good, `${p}.good`, 1, 100) ?? d.good;
  const interval = c.int(o.interval, `${p}.interval`, 1, 60) ?? d.interval;
  const timeout = c.int(o.timeout, `${p}.timeout`, 1, 60) ?? d.timeout;
  const maxfail = c.int(o.maxfail, `${p}.maxfail`, 0, 100) ?? d.maxfail;
  if (good > count) c.err(`${p}.good`, `${good} good replies out of ${count} pings (count) can never happen`);
  if (ping.length && maxfail >= ping.length) c.err(`${p}.maxfail`, `${maxfail} failed targets allowed out of ${ping.length}: the heuristic would always pass`);
  if (c.errors.length > before) return undefined;
  return { ping, count, good, interval, timeout, maxfail };
}

/**
 * A trap receiver as a net-snmp transport address, canonical (udp:A:PORT, udp6:[A]:PORT), or
 * the reason it is not one. Accepted: A, A:PORT, [A6]:PORT, udp:A[:PORT], udp6:[A6][:PORT].
 */
export function parseRecipient(s: string): string | { error: string } {
  const m = /^(?:(udp6?):)?(?:\[([^\]]*)\]|([^:[\]]+)|([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*))(?::(\d{1,5}))?$/.exec(s);
  const bare6 = m?.[4];
  // a bare IPv6 address without brackets: the whole text, no port
  const text = bare6 !== undefined ? (m![1] ? s.slice(m![1].length + 1) : s) : (m?.[2] ?? m?.[3]);
  const portText = bare6 !== undefined ? undefined : m?.[5];
  if (!m || text === undefined) return { error: 'not a trap receiver (ADDRESS, udp:IPV4[:PORT] or udp6:[IPV6][:PORT])' };
  const a = parseAddr(text);
  if (!a) return { error: 'not an IP address (host names are not accepted: the alert must not depend on DNS)' };
  if (m[1] === 'udp' && a.family === 'ipv6') return { error: 'an IPv6 receiver is written udp6:[ADDRESS]:PORT' };
  if (m[1] === 'udp6' && a.family === 'ipv4') return { error: 'udp6: needs an IPv6 address' };
  if (a.family === 'ipv6' && m[3] !== undefined) return { error: 'an IPv6 receiver is written udp6:[ADDRESS]:PORT' };
  if (a.family === 'ipv4' && m[2] !== undefined) return { error: 'brackets are for IPv6 addresses' };
  const port = portText === undefined ? SNMP_ALERT.port : Number(portText);
  if (port < 1 || port > 65535) return { error: `port ${portText} is not between 1 and 65535` };
  const v4 = a.family === 'ipv4';
  const special = v4
    ? (a.value === 0n ? 'the unspecified address' : a.value >> 24n === 127n ? 'a loopback address' : a.value >> 28n === 14n ? 'a multicast address' : a.value === 0xffffffffn ? 'the broadcast address' : undefined)
    : (a.value === 0n ? 'the unspecified address' : a.value === 1n ? 'the loopback address' : a.value >> 120n === 0xffn ? 'a multicast address' : undefined);
  if (special) return { error: `${special}, not an SNMP manager's` };
  return v4 ? `udp:${a.text}:${port}` : `udp6:[${a.text}]:${port}`;
}

function snmpNotifications(c: Ctx, v: unknown, taken: Map<string, string>): SnmpNotifications | undefined {
  const path = 'notifications.snmp';
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const k of ['community', 'password', 'auth_passphrase', 'priv_passphrase']) {
      if ((v as Obj)[k] === undefined) continue;
      c.err(join(path, k), `a literal ${k === 'community' ? 'community' : 'secret'} is not accepted (it would sit in the CIB): put it in snmp.conf (defCommunity, or SNMPv3 defSecurityName/defAuthPassphrase) in snmp_conf_dir, mode 0640, group haclient`);
      delete (v as Obj)[k];
    }
  }
  const o = c.obj(v ?? {}, path, ['transport', 'recipients', 'snmp_conf_dir', 'inform', 'spool_dir']);
  if (!o) return undefined;
  let transport: SnmpNotifications['transport'] = 'snmptrap';
  if (o.transport !== undefined) {
    if (o.transport === 'snmptrap' || o.transport === 'subagent') transport = o.transport;
    else return c.err(join(path, 'transport'), `must be snmptrap or subagent: '${String(o.transport)}'`);
  }
  const out: SnmpNotifications = { transport, recipients: [] };
  const onlyWith = (key: string, t: SnmpNotifications['transport'], why: string) => {
    if (o[key] !== undefined && transport !== t) c.err(join(path, key), `only with transport ${t} (${why})`);
  };
  onlyWith('recipients', 'snmptrap', 'transport subagent sends to snmpd\'s trap sinks: trap2sink in snmpd.conf');
  onlyWith('snmp_conf_dir', 'snmptrap', 'with transport subagent snmpd\'s trap sink settings apply');
  onlyWith('inform', 'snmptrap', 'with transport subagent snmpd\'s trap sink settings apply');
  onlyWith('spool_dir', 'subagent', 'the queue ha-oscar-snmp-agent --spool reads');
  const pathRe = /^\/[^\s'"\\]*$/;
  out.snmpConfDir = c.str(o.snmp_conf_dir, join(path, 'snmp_conf_dir'), pathRe, 'absolute path (a directory holding snmp.conf)');
  out.spoolDir = c.str(o.spool_dir, join(path, 'spool_dir'), pathRe, 'absolute path');
  if (o.inform !== undefined) {
    if (typeof o.inform !== 'boolean') c.err(join(path, 'inform'), 'must be true or false');
    else out.inform = o.inform;
  }
  if (transport === 'snmptrap') {
    const rp = join(path, 'recipients');
    const list = o.recipients === undefined ? undefined : c.list(typeof o.recipients === 'string' ? [o.recipients] : o.recipients, rp);
    if (o.recipients === undefined || o.recipients === null) c.err(rp, 'missing (transport snmptrap: the SNMP managers that receive the traps, e.g. udp:192.0.2.5:162)');
    else if (list && list.length === 0) c.err(rp, 'must list at least one SNMP manager');
    list?.forEach((x, i) => {
      const ip = `${rp}[${i}]`;
      const s = c.str(x, ip);
      if (s === undefined) return;
      const r = parseRecipient(s);
      if (typeof r !== 'string') { c.err(ip, `${r.error}: '${s}'`); return; }
      const addr = r.replace(/^udp6?:\[?/, '').replace(/\]?:\d+$/, '');
      const owner = taken.get(addr);
      if (owner) { c.err(ip, `${addr} is ${owner}: the SNMP manager must be outside the head pair (its traps report the heads failing)`); return; }
      if (out.recipients.includes(r)) { c.err(ip, `${r} listed twice`); return; }
      out.recipients.push(r);
    });
  }
  return out;
}

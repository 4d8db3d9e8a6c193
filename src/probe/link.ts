// Link state from sysfs (/sys/class/net) and reachability checks. No OCF knowledge.
//
// An interface is "up" when it is administratively up (IFF_UP in `flags`), has carrier,
// and its operstate is up (or unknown, as for loopback and some virtual devices).
// A bond is up while at least one slave has link; it is "degraded" when any slave is
// down (mii_status/carrier). A VLAN or other stacked device inherits "degraded" from
// the bonds under it (lower_* links).
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { run, type RunOptions, type RunResult } from '../service/run';

export type LinkLevel = 'up' | 'degraded' | 'down';

export interface LinkStatus {
  name: string;
  level: LinkLevel;
  /** One line: why it is degraded or down ("" when up). */
  reason: string;
  /** Bond slaves and their state, when the interface is a bond. */
  slaves?: { name: string; up: boolean }[];
}

export const SYS_CLASS_NET = '/sys/class/net';

const IFF_UP = 0x1;

function read(path: string): string | undefined {
  try { return readFileSync(path, 'utf8').trim(); } catch { return undefined; }
}

/** Carrier, admin state and operstate of one interface, without looking at bonds. */
function physical(sys: string, name: string): { up: boolean; reason: string } {
  const dir = join(sys, name);
  if (!existsSync(dir)) return { up: false, reason: `${name}: no such interface` };
  const flags = Number.parseInt(read(join(dir, 'flags')) ?? '0', 16);
  if (!(flags & IFF_UP)) return { up: false, reason: `${name}: administratively down` };
  const carrier = read(join(dir, 'carrier')); // EINVAL (undefined) when the device is down
  if (carrier !== '1') return { up: false, reason: `${name}: no carrier` };
  const oper = read(join(dir, 'operstate')) ?? 'unknown';
  if (oper !== 'up' && oper !== 'unknown') return { up: false, reason: `${name}: operstate ${oper}` };
  return { up: true, reason: '' };
}

function bondSlaves(sys: string, name: string): string[] | undefined {
  const b = join(sys, name, 'bonding');
  if (!existsSync(b)) return undefined;
  return (read(join(b, 'slaves')) ?? '').split(/\s+/).filter(Boolean);
}

function slaveUp(sys: string, slave: string): boolean {
  const mii = read(join(sys, slave, 'bonding_slave', 'mii_status'));
  if (mii !== undefined && mii !== 'up') return false;
  return physical(sys, slave).up;
}

/** Lower devices of a stacked interface (VLAN on a bond, macvlan...). */
function lowers(sys: string, name: string): string[] {
  try {
    return readdirSync(join(sys, name)).filter((f) => f.startsWith('lower_')).map((f) => f.slice('lower_'.length));
  } catch { return []; }
}

export function linkStatus(name: string, sys = SYS_CLASS_NET, depth = 0): LinkStatus {
  const own = physical(sys, name);
  const slaves = bondSlaves(sys, name);
  if (slaves !== undefined) {
    const st = slaves.map((s) => ({ name: s, up: slaveUp(sys, s) }));
    if (st.length === 0) return { name, level: 'down', reason: `${name}: bond without slaves`, slaves: st };
    if (!own.up) return { name, level: 'down', reason: own.reason || `${name}: no slave has link`, slaves: st };
    if (!st.some((s) => s.up)) return { name, level: 'down', reason: `${name}: no slave has link`, slaves: st };
    const downs = st.filter((s) => !s.up).map((s) => s.name);
    if (downs.length) return { name, level: 'degraded', reason: `${name}: bond slave ${downs.join(', ')} down`, slaves: st };
    return { name, level: 'up', reason: '', slaves: st };
  }
  if (!own.up) return { name, level: 'down', reason: own.reason };
  if (depth < 4) {
    for (const lower of lowers(sys, name)) {
      const l = linkStatus(lower, sys, depth + 1);
      if (l.level !== 'up') return { name, level: l.level === 'down' ? 'down' : 'degraded', reason: `${name} over ${l.reason}` };
    }
  }
  return { name, level: 'up', reason: '' };
}

// ---- reachability -------------------------------------------------------------------

export type Runner = (cmd: string, args: readonly string[], opts?: RunOptions) => Promise<RunResult>;

export interface PingOptions {
  /** Absolute path of ping (iputils: -4/-6 in one binary). */
  ping?: string;
  count?: number;
  /** Seconds to wait for the last reply. */
  timeoutSeconds?: number;
  runner?: Runner;
}

export interface Reach { target: string; ok: boolean; reason: string }

/** ICMP echo to one IPv4 or IPv6 address, as ping does; ok when any reply came back. */
export async function ping(target: string, o: PingOptions = {}): Promise<Reach> {
  const count = o.count ?? 2;
  const w = o.timeoutSeconds ?? 2;
  const family = target.includes(':') ? '-6' : '-4';
  const args = [family, '-n', '-q', '-c', String(count), '-i', '0.2', '-W', String(w), '-w', String(w + count), target];
  const r = await (o.runner ?? run)(o.ping ?? 'ping', args, { timeoutMs: (w + count + 2) * 1000, cleanEnv: true, env: { LC_ALL: 'C' } });
  if (r.code === 0) return { target, ok: true, reason: '' };
  const stats = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
  const why = r.spawnError ? `cannot run ping: ${r.spawnError}` : r.timedOut ? 'ping timed out'
    : stats ? `${stats[2]}/${stats[1]} replies` : (r.stderr.trim().split('\n').pop() ?? `ping exit ${r.code}`);
  return { target, ok: false, reason: `${target} unreachable (${why})` };
}

export async function reachAll(targets: string[], o: PingOptions = {}): Promise<Reach[]> {
  return Promise.all(targets.map((t) => ping(t, o)));
}

// ---- the published value ---------------------------------------------------------------

/** 2 = every link up (and targets answer), 1 = degraded but working, 0 = down. */
export type LinkValue = 0 | 1 | 2;

/**
 * Fold interface states and (optional) reachability into one value:
 *  - any interface down -> 0;
 *  - targets checked: policy "any": no target answers -> 0, some do not -> 1;
 *                     policy "all": one target does not answer -> 0;
 *  - a bond slave down (or a stacked device over such a bond) -> 1;
 *  - otherwise 2.
 */
export function linkValue(links: LinkStatus[], reach: Reach[] | undefined, policy: 'any' | 'all' = 'any'): { value: LinkValue; reasons: string[] } {
  const down = links.filter((l) => l.level === 'down').map((l) => l.reason);
  const degraded = links.filter((l) => l.level === 'degraded').map((l) => l.reason);
  const lost = (reach ?? []).filter((r) => !r.ok).map((r) => r.reason);
  if (down.length) return { value: 0, reasons: [...down, ...degraded, ...lost] };
  if (reach && reach.length && lost.length) {
    const none = lost.length === reach.length;
    if (none || policy === 'all') return { value: 0, reasons: [...lost, ...degraded] };
    return { value: 1, reasons: [...lost, ...degraded] };
  }
  if (degraded.length) return { value: 1, reasons: degraded };
  return { value: 2, reasons: [] };
}

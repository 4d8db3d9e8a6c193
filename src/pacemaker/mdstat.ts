// Reader of Linux md RAID state: /proc/mdstat on this node, plus the per-array node
// attributes (`ha-oscar-raid-<array>`) that the RAID monitor publishes for every node.
import { readFile } from 'node:fs/promises';

export interface RaidArray {
  name: string;
  /** e.g. "active raid1 [2/1] [U_] recovery" */
  state: string;
  degraded: boolean;
}

/**
 * Parse /proc/mdstat:
 *
 *   md0 : active raid1 sdb1[1] sda1[0]
 *         1046528 blocks super 1.2 [2/1] [U_]
 *         [==>.......]  recovery = 12.6% (...)
 */
export function parseMdstat(text: string): RaidArray[] {
  const out: RaidArray[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const m = /^(md\w+)\s*:\s*(\S+)\s*(?:\((?:auto-)?read-only\)\s*)?(raid\w+|linear|multipath)?/.exec(lines[i]);
    if (!m) continue;
    const parts = [m[2], m[3]].filter(Boolean) as string[];
    let degraded = m[2] === 'inactive';
    for (let j = i + 1; j < lines.length && lines[j].trim() !== '' && !/^md\w+\s*:/.test(lines[j]); j++) {
      const c = /\[(\d+)\/(\d+)\]\s*\[([U_]+)\]/.exec(lines[j]);
      if (c) {
        parts.push(`[${c[1]}/${c[2]}]`, `[${c[3]}]`);
        if (Number(c[2]) < Number(c[1]) || c[3].includes('_')) degraded = true;
      }
      const p = /\b(recovery|resync|reshape|check)\s*=/.exec(lines[j]);
      if (p) parts.push(p[1]);
    }
    if (/\(F\)/.test(lines[i])) degraded = true;
    out.push({ name: m[1], state: parts.join(' '), degraded });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export const RAID_ATTR_PREFIX = 'ha-oscar-raid-';
export const RAID_HEALTH_ATTR = '#health-ha-oscar-raid';

/**
 * Arrays from node attributes: `ha-oscar-raid-md0` = "clean", "degraded", or an mdstat-like
 * state such as "active raid1 [2/1] [U_]". degraded when the value says degraded, failed,
 * inactive, or shows a missing member.
 */
export function raidFromAttributes(attributes: Record<string, string>): RaidArray[] {
  const out: RaidArray[] = [];
  for (const [k, v] of Object.entries(attributes)) {
    if (!k.startsWith(RAID_ATTR_PREFIX)) continue;
    const name = k.slice(RAID_ATTR_PREFIX.length);
    if (!name) continue;
    const degraded = /degraded|fail|inactive|\[U*_[U_]*\]/i.test(v);
    out.push({ name, state: v, degraded });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

export async function readMdstat(path = '/proc/mdstat'): Promise<RaidArray[]> {
  try {
    return parseMdstat(await readFile(path, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return []; // no md driver: no arrays
    throw new Error(`${path}: ${(e as Error).message}`);
  }
}

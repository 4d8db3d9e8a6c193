// Prerequisites for tests that need real tools (snmpd, ocf-tester, crm_verify, ...).
//
// Outside CI a missing tool skips the suite, and says which tool and how to get it.
// With CI=true a missing tool is a FAILURE: the suite runs and its first test fails
// naming what is missing. `.ci/run` installs everything, so this never hides a gap.
import { describe, it, expect } from 'vitest';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

const extraPath = ['/usr/sbin', '/sbin', '/usr/local/sbin'];

export function which(bin: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraPath];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, bin);
    try { accessSync(p, constants.X_OK); return p; } catch { /* next */ }
  }
  return undefined;
}

export const isCI = process.env.CI === 'true';
export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export interface Need {
  bins?: string[];
  root?: boolean;
  /** Debian packages that provide the bins, for the message. */
  packages?: string[];
}

export function missing(need: Need): string[] {
  const out: string[] = [];
  if (need.root && !isRoot) out.push('root');
  for (const b of need.bins ?? []) if (!which(b)) out.push(b);
  return out;
}

/**
 * describe() that needs real tools. Missing outside CI: skipped with a reason.
 * Missing in CI: a failing test that names what is missing.
 */
export function describeWith(need: Need, name: string, fn: () => void): void {
  const gone = missing(need);
  if (gone.length === 0) { describe(name, fn); return; }
  const how = need.packages?.length ? ` (apt-get install ${need.packages.join(' ')})` : '';
  const msg = `missing prerequisite: ${gone.join(', ')}${how}`;
  if (isCI) {
    describe(name, () => { it('has its prerequisites', () => { expect.fail(msg); }); });
  } else {
    describe.skip(`${name} [${msg}]`, fn);
  }
}

// Find an executable the way an agent must: PATH plus the sbin directories that
// pacemaker-execd's environment may lack.
import { accessSync, constants, statSync } from 'node:fs';

const SBIN = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

export function which(bin: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  // ocf-tester sets this during its probe test: pretend nothing is installed (as have_binary does)
  if (env.OCF_TESTER_FAIL_HAVE_BINARY === '1') return undefined;
  const candidates = bin.includes('/') ? [bin] : [...(env.PATH ?? '').split(':').filter(Boolean), ...SBIN].map((d) => `${d}/${bin}`);
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      if (statSync(c).isFile()) return c;
    } catch { /* next */ }
  }
  return undefined;
}

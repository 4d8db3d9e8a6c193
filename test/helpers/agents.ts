// Running built agents as real processes, the way pacemaker-execd does: action as argv[1],
// parameters in OCF_RESKEY_*, a clean environment.
import { spawnSync } from './sync';
import { mkdtempSync, readdirSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const root = resolve(__dirname, '../..');
export const distOcf = join(root, 'dist/ocf');

export interface AgentRun { code: number; stdout: string; stderr: string; reasons: string[]; ms: number }

export function runAgent(path: string, action: string | undefined, params: Record<string, string> = {}, extraEnv: Record<string, string> = {}, timeoutMs = 60_000): AgentRun {
  return runAgentIn(undefined, path, action, params, extraEnv, timeoutMs);
}

/**
 * Where the agents run here keep their monitor records (src/ocf/fastpath.ts): one directory per
 * test process, removed when it exits, instead of the host's /run/ha-oscar/monitor.
 */
let monitorDir: string | undefined;
function monitorRecords(): string {
  if (!monitorDir) {
    monitorDir = mkdtempSync(join(tmpdir(), 'ha-oscar-monitor-'));
    const dir = monitorDir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return monitorDir;
}

/** runAgent inside a network namespace (`ip netns exec NETNS`), as on a head of its own; ms is the wall time. */
export function runAgentIn(netns: string | undefined, path: string, action: string | undefined, params: Record<string, string> = {}, extraEnv: Record<string, string> = {}, timeoutMs = 60_000): AgentRun {
  const env: Record<string, string> = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    OCF_ROOT: '/usr/lib/ocf', OCF_RA_VERSION_MAJOR: '1', OCF_RA_VERSION_MINOR: '1',
    OCF_RESOURCE_INSTANCE: 'test', OCF_RESKEY_CRM_meta_timeout: '20000',
    HA_OSCAR_MONITOR_DIR: monitorRecords(),
    ...extraEnv,
  };
  for (const [k, v] of Object.entries(params)) env[`OCF_RESKEY_${k}`] = v;
  const argv = [path, ...(action === undefined ? [] : [action])];
  const t0 = Date.now();
  const r = netns === undefined
    ? spawnSync(argv[0]!, argv.slice(1), { env, encoding: 'utf8', timeout: timeoutMs })
    : spawnSync('ip', ['netns', 'exec', netns, ...argv], { env, encoding: 'utf8', timeout: timeoutMs });
  const reasons = (r.stderr ?? '').split('\n').filter((l) => l.startsWith('ocf-exit-reason:')).map((l) => l.slice('ocf-exit-reason:'.length));
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? '', reasons, ms: Date.now() - t0 };
}

export function builtAgents(): string[] {
  return existsSync(distOcf) ? readdirSync(distOcf).filter((f) => !f.includes('.')).sort() : [];
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `ha-oscar-${prefix}-`));
}

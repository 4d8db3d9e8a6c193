// Reading and writing a file through NFS from the client side, with libnfs-utils
// (nfs-cat, nfs-cp: a userspace NFS client, no kernel NFS support needed). No OCF knowledge:
// the nfsserver agent (level-20 monitor), the lab and the benchmarks use it.
// Resolves, never rejects.
import { run } from '../service/run';
import { which } from '../service/which';

export type NfsVersion = 3 | 4;

export interface NfsIoOptions {
  version?: NfsVersion;
  timeoutMs?: number;
  /** NFS server port when not 2049 (libnfs then skips the portmapper for NFS). */
  nfsPort?: number;
  /** Environment for which(): lets tests point at a PATH. */
  env?: NodeJS.ProcessEnv;
}

export interface NfsIoResult {
  ok: boolean;
  /** File content (nfsRead), when ok. */
  data?: string;
  /** One line, when !ok. `retryable` says whether a client would simply retry it (grace, delay, timeout). */
  error?: string;
  retryable?: boolean;
  ms: number;
}

/**
 * nfs://addr/export/file?version=N. Path components are URL-escaped. IPv6 literals go in
 * WITHOUT brackets: libnfs 4.0 (Debian 12) cannot parse "[v6]" and splits the host at the first
 * "/" (so a port goes in ?nfsport=, never after the address).
 */
export function nfsUrl(address: string, path: string, opts: { version?: NfsVersion; nfsPort?: number } = {}): string {
  const host = address;
  const p = path.split('/').map((c) => encodeURIComponent(c)).join('/');
  const q: string[] = [];
  if (opts.version) q.push(`version=${opts.version}`);
  if (opts.nfsPort && opts.nfsPort !== 2049) q.push(`nfsport=${opts.nfsPort}`);
  return `nfs://${host}${p.startsWith('/') ? '' : '/'}${p}${q.length ? `?${q.join('&')}` : ''}`;
}

const RETRYABLE = /NFS4ERR_GRACE|NFS4ERR_DELAY|NFS3ERR_JUKEBOX|NFS4ERR_STALE_CLIENTID|timed out|timeout|ECONNREFUSED|Connection refused|ECONNRESET|reset by peer|unreachable|No route/i;

function oneLine(s: string): string {
  const lines = s.split('\n').map((l) => l.trim()).filter(Boolean);
  // nfs-cat prints the cause first and "Failed to open nfs://..." last: keep the cause
  const cause = lines.find((l) => !/^Failed to open nfs:/.test(l)) ?? lines[0] ?? '';
  return cause.length > 300 ? `${cause.slice(0, 300)}...` : cause;
}

async function tool(name: string, args: string[], opts: NfsIoOptions): Promise<NfsIoResult & { stdout?: string }> {
  const t0 = Date.now();
  const exe = which(name, opts.env ?? process.env);
  if (!exe) return { ok: false, error: `${name} is not installed (Debian package libnfs-utils)`, retryable: false, ms: 0 };
  const r = await run(exe, args, { timeoutMs: opts.timeoutMs ?? 10_000 });
  const ms = Date.now() - t0;
  if (r.code === 0) return { ok: true, stdout: r.stdout, ms };
  if (r.timedOut) return { ok: false, error: `${name} timed out after ${opts.timeoutMs ?? 10_000} ms`, retryable: true, ms };
  const why = oneLine(`${r.stderr}\n${r.stdout}`) || r.spawnError || `exit ${r.code}`;
  return { ok: false, error: why, retryable: RETRYABLE.test(why), ms };
}

/** Read a whole (small) file: `path` is the export path plus the file, as the server exports it. */
export async function nfsRead(address: string, path: string, opts: NfsIoOptions = {}): Promise<NfsIoResult> {
  const r = await tool('nfs-cat', [nfsUrl(address, path, opts)], opts);
  return r.ok ? { ok: true, data: r.stdout, ms: r.ms } : r;
}

/**
 * Copy a local file to `path` on the server (nfs-cp). ok means the copy was acknowledged:
 * nfs-cp closes the file, and libnfs commits on close.
 */
export async function nfsWrite(address: string, localFile: string, path: string, opts: NfsIoOptions = {}): Promise<NfsIoResult> {
  const r = await tool('nfs-cp', [localFile, nfsUrl(address, path, opts)], opts);
  return r.ok ? { ok: true, ms: r.ms } : r;
}

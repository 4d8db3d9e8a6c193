// The ONE way this project writes a file: atomically.
// Write to a temporary file in the same directory, fsync it, rename it over the
// target, fsync the directory. A reader sees the old file or the new one, never half.
import { closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync, readFileSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

export interface AtomicWriteOptions {
  /** The file's mode, exactly: the process umask does not apply (pacemaker-execd's is 027). Default 0644. */
  mode?: number;
  /** Create missing parent directories (mode 0755). */
  mkdir?: boolean;
}

export function writeFileAtomic(path: string, data: string | Uint8Array, opts: AtomicWriteOptions = {}): void {
  const dir = dirname(path);
  if (opts.mkdir) mkdirSync(dir, { recursive: true, mode: 0o755 });
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}-${Date.now()}`);
  const fd = openSync(tmp, 'wx', opts.mode ?? 0o644);
  try {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fchmodSync(fd, opts.mode ?? 0o644);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* already gone */ }
    throw e;
  }
  try {
    const dfd = openSync(dir, 'r');
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  } catch { /* some filesystems refuse fsync on a directory; the rename is still atomic */ }
}

/** Write only when the content differs. Returns true when the file changed. */
export function writeFileAtomicIfChanged(path: string, data: string, opts: AtomicWriteOptions = {}): boolean {
  try {
    if (readFileSync(path, 'utf8') === data) return false;
  } catch { /* missing: write it */ }
  writeFileAtomic(path, data, opts);
  return true;
}

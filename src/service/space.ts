// Room in a state directory. A DHCP server whose lease directory is full keeps handing out
// addresses it cannot record (ISC dhcpd logs the failed write and goes on): after a takeover the
// peer does not know those leases and may give the same address to another client. The agents
// check for room before they start a server there and in their deep monitor.
import { statfsSync, statSync } from 'node:fs';

/** The least free space a state directory must have, whatever its files' size. */
export const MIN_FREE_BYTES = 64 * 1024;
/** The least free inodes (a rewrite makes a new file before it renames it over the old one). */
export const MIN_FREE_INODES = 8;

const size = (f: string): number => { try { return statSync(f).size; } catch { return 0; } };
const kib = (n: number): string => `${Math.floor(n / 1024)} KiB`;

/**
 * Why `dir` has too little room for `file` to be rewritten (dhcpd and Kea's lease-file cleanup
 * write a whole new copy before renaming it), or undefined when there is enough: at least
 * twice the file's size and MIN_FREE_BYTES free to unprivileged writers, and MIN_FREE_INODES
 * inodes. A directory that cannot be examined is reported too.
 */
export function roomProblem(dir: string, file?: string): string | undefined {
  let st;
  try { st = statfsSync(dir); } catch (e) { return `cannot examine ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`; }
  const free = Number(st.bavail) * Number(st.bsize);
  const need = Math.max(MIN_FREE_BYTES, file ? 2 * size(file) : 0);
  if (free < need) return `${dir} is full: ${kib(free)} free, ${kib(need)} needed${file ? ` (twice the size of ${file}, at least ${kib(MIN_FREE_BYTES)})` : ''}: leases could not be recorded`;
  // file systems without inode accounting (files = 0) report ffree 0 too
  if (Number(st.files) > 0 && Number(st.ffree) < MIN_FREE_INODES) return `${dir} has ${st.ffree} free inodes, ${MIN_FREE_INODES} needed: leases could not be recorded`;
  return undefined;
}

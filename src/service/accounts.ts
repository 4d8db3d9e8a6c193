// Numeric ids of users and groups from /etc/passwd and /etc/group (no NSS: the cluster's
// accounts, hacluster and haclient, are local ones the packages create).
import { readFileSync } from 'node:fs';

/** The id of `name` in a passwd- or group-format file, or undefined (no such entry, unreadable file). */
export function lookupId(file: string, name: string): number | undefined {
  try {
    const f = readFileSync(file, 'utf8').split('\n').map((l) => l.split(':')).find((x) => x[0] === name);
    return f && /^\d+$/.test(f[2] ?? '') ? Number(f[2]) : undefined;
  } catch { return undefined; }
}

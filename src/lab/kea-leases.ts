// Kea's memfile lease files (kea-leases4.csv, kea-leases6.csv), read by the DHCP boot-storm
// bench (src/lab/bench-dhcp.ts) to compare the two heads' lease databases after a storm: every
// address bound to two clients at once is a duplicate.
//
// A memfile is a journal: Kea appends a row for every change, so the last row for an address is
// its state. A row with valid_lifetime 0 is a deleted lease; state 1 is declined, 2 expired and
// reclaimed. The columns are named by the header row (Kea 2.2: v4 address,hwaddr,client_id,
// valid_lifetime,expire,...,state; v6 address,duid,valid_lifetime,expire,...,iaid,...,state).

export interface KeaLease { address: string; client: string; expire: number; validLifetime: number; state: number }

/** The last row for each address, by the header's column names. Rows too short are skipped. */
export function parseKeaLeases(csv: string): Map<string, KeaLease> {
  const lines = csv.split('\n').map((l) => l.trim()).filter(Boolean);
  const out = new Map<string, KeaLease>();
  if (!lines.length) return out;
  const head = lines[0]!.split(',');
  const col = (n: string) => head.indexOf(n);
  const [a, hw, duid, iaid, valid, exp, st] = ['address', 'hwaddr', 'duid', 'iaid', 'valid_lifetime', 'expire', 'state'].map(col);
  if (a! < 0 || valid! < 0 || exp! < 0) throw new Error(`not a Kea lease file: header '${lines[0]!.slice(0, 80)}'`);
  const v6 = duid! >= 0;
  for (const line of lines.slice(1)) {
    const f = line.split(',');
    if (f.length < head.length - 1) continue;
    const client = v6 ? `${f[duid!]}/${iaid! >= 0 ? f[iaid!] : ''}` : (f[hw!] ?? '').toLowerCase();
    out.set(f[a!]!, { address: f[a!]!, client, expire: Number(f[exp!]), validLifetime: Number(f[valid!]), state: st! >= 0 ? Number(f[st!]) : 0 });
  }
  return out;
}

/** Bound at `now` (seconds): not deleted, not declined or reclaimed, not expired. */
export const bound = (l: KeaLease, now: number): boolean => l.validLifetime > 0 && l.state === 0 && l.expire > now;

export interface Duplicate { address: string; clients: string[] }

/**
 * Addresses bound to more than one client across the given lease databases (each one head's
 * file, parsed), at `now` in seconds. A head that was switched off keeps its file as it was:
 * its rows count until they expire, as a client holding such a lease would still use it.
 */
export function duplicates(dbs: Map<string, KeaLease>[], now: number): Duplicate[] {
  const by = new Map<string, Set<string>>();
  for (const db of dbs) {
    for (const l of db.values()) {
      if (!bound(l, now)) continue;
      if (!by.has(l.address)) by.set(l.address, new Set());
      by.get(l.address)!.add(l.client);
    }
  }
  return [...by].filter(([, c]) => c.size > 1).map(([address, c]) => ({ address, clients: [...c].sort() }));
}

// State that must survive a power-off of the active head (issues 5 and 9), proven through
// Pacemaker on the shared lab (test/lab/global-setup.ts): DHCP leases (dhcpd4/dhcpd6 keep them on
// the lab's shared storage, DHCP_STATE) and acknowledged NFS writes (ganesha's export and state
// dir on the shared storage too). ONE power-off of the active head:
//   before  5 fixed MACs lease addresses over DHCPv4 and DHCPv6, in order; the lease files on the
//           shared storage name them; the client writes a stream of files over NFS (v3/v4,
//           IPv4/IPv6 VIP), a write counting as acknowledged only when nfs-cp exits 0;
//   during  the head is powered off while the stream runs; the stream goes on (a failed write is
//           retried under a new name); time from the power-off to the first acknowledged write
//           and to the first DHCP ACK (v4, v6), logged;
//   after   the 5 MACs get the SAME addresses from the survivor, a 6th MAC none of theirs; every
//           acknowledged file reads back byte-exact through the survivor (nfs-cat) and is on the
//           shared storage host-side;
//   restore the head powered on, both heads online, every service answering (afterAll).
//
// Why this fails when the leases are lost (checked by hand in a lab of its own: dhcpd4/dhcpd6
// stopped, their lease files emptied, started again, then the same requests as below):
//  - before the power-off each MAC ASKS for an address (option 50 / IAADDR hint) that ISC dhcpd
//    would not pick by itself: v4 allocates from the bottom of the range (.150, .151, ...), v6
//    derives the address from a hash of the client's DUID+IAID. The test asserts that the hints
//    were granted. After the power-off the MACs ask for nothing, in REVERSE order: a dhcpd with
//    the leases finds each MAC's binding and gives the same address; one without them gave the
//    reversed MACs .150, .151, .152 and the hashed v6 addresses (so the test fails). The hints
//    matter for v6: without them a fresh dhcpd6 gives every DUID its hashed address again, leases
//    or not, and the comparison could not fail.
//  - right after the power-off a 6th MAC asks for the FIRST MAC's address: a dhcpd with the leases
//    refuses it (it is bound) and gives another; one without them granted it (a duplicate
//    hand-out) in that experiment.
//  - the v6 server DUID after the failover must be the one before: ISC keeps it in the lease file
//    (server-duid), while a dhcpd6 without that file makes a new DUID-LLT from its own MAC; and the
//    REPLY must come from the survivor's link-local address, not the old head's.
// NFS: a file counts only when nfs-cp exited 0, and each must read back byte-exact through the
// survivor (an export not on shared storage, or a lost acknowledged write, fails it).
// IPv6 PXE over the RA path (issue 23), on the same power-off: the client does what firmware
// does (`_probe pxe6`: a router solicitation, DHCPv6 only once an RA with M=1 came). Before: an RA
// from EACH head (the radvd clone), M=1 O=1, router lifetime 0, net A's prefix not autonomous, and
// the DHCPv6 REPLY from the active head (the VIP's dhcpd6). Right after the power-off: the RA comes
// at once (the survivor's radvd was already advertising); the DHCPv6 REPLY once dhcpd6 moved.
// After: RAs from the survivor only, and the same address from the survivor's dhcpd6. The times
// (solicitation -> RA, solicitation -> DHCPv6 REPLY) are logged, not asserted (docs/pxe.md).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { describeWith } from '../helpers/prereq';
import { leases } from './client';
import { crmMon, exec, isPoweredOn, loadSpec, powerOff, powerOn, waitOnline, waitServices } from '../../src/lab/lab';
import { corosyncEvents, corosyncTime, logOffset, pacemakerStarts } from '../../src/lab/failover';
import { sleep } from '../../src/lab/procs';
import { DHCP_STATE, NFS_EXPORT } from '../../src/lab/services';
import { HEADS, peerOf, LAB_SHARED, VIP4, VIP6, nodeDir, sharedDir, type LabSpec, type NodeName } from '../../src/lab/spec';
import { duidLL } from '../../src/probe/dhcp6';
import type { LeaseLine } from '../../src/cli/lab';
import type { Pxe6Result } from '../../src/probe/pxe6';
import type { RouterAdvert } from '../../src/probe/ra';

const need = {
  root: true,
  bins: ['dhcpd', 'ganesha.nfsd', 'rpcbind', 'nfs-cp', 'nfs-cat', 'nsenter', 'radvd', 'rdisc6'],
  packages: ['isc-dhcp-server', 'nfs-ganesha', 'nfs-ganesha-vfs', 'rpcbind', 'libnfs-utils', 'util-linux', 'radvd', 'ndisc6'],
};

// Locally administered variants of the documentation MAC block 00-00-5E-00-53-xx (RFC 7042).
const MACS = ['02:00:5e:00:53:51', '02:00:5e:00:53:52', '02:00:5e:00:53:53', '02:00:5e:00:53:54', '02:00:5e:00:53:55'];
const MAC6 = '02:00:5e:00:53:56';
/** The PXE client of the RA path (`_probe pxe6`): DHCPv6 only after an RA with M=1. */
const MAC_PXE = '02:00:5e:00:53:57';
// Addresses the 5 MACs ask for before the power-off: in the ranges (192.0.2.150-199,
// 2001:db8:a::1000-ffff), clear of where ISC would start on its own (.150 up).
const HINT = { 4: MACS.map((_, i) => `192.0.2.${181 + i}`), 6: MACS.map((_, i) => `2001:db8:a::1a8${1 + i}`) } as const;
const RESOURCES = ['vip4', 'vip6', 'dhcpd4', 'dhcpd6', 'nfsserver'];
/** The NFS stream cycles through these: both versions on both VIPs. */
const STREAM: readonly (readonly [string, 3 | 4])[] = [[VIP4, 3], [VIP6, 4], [VIP4, 4], [VIP6, 3]];

const secs = (ms: number | undefined): string => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);

async function until(what: string, ms: number, fn: () => Promise<boolean> | boolean): Promise<void> {
  const t0 = Date.now();
  let last = '';
  for (;;) {
    try { if (await fn()) return; } catch (e) { last = e instanceof Error ? e.message : String(e); }
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms / 1000} s${last ? ` (${last})` : ''}`);
    await sleep(250);
  }
}

/** Every resource of RESOURCES Started, all on one head: that head. */
async function servicesOn(spec: LabSpec): Promise<NodeName | undefined> {
  const m = await crmMon(spec);
  const where = RESOURCES.map((id) => m.resources.find((r) => r.id === id && r.role === 'started')?.nodes[0]);
  return where.every((w) => w !== undefined && w === where[0]) ? (where[0] as NodeName) : undefined;
}

/** `ha-oscar lab _probe pxe6 [--wait MS] MAC_PXE` in the client: its JSON line. */
async function pxe6(spec: LabSpec, waitMs = 0): Promise<Pxe6Result> {
  const argv = [process.execPath, join(spec.repo, 'dist', 'ha-oscar'), 'lab', '_probe', 'pxe6', ...(waitMs ? ['--wait', String(waitMs)] : []), MAC_PXE];
  const r = await exec(spec, 'client', argv, { timeoutMs: waitMs + 30_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`_probe pxe6: no result line: ${r.stdout}${r.stderr}`);
  return JSON.parse(line) as Pxe6Result;
}

/** `_probe ra all` in the client: every RA answering one router solicitation within 1 s. */
async function adverts(spec: LabSpec): Promise<RouterAdvert[]> {
  const r = await exec(spec, 'client', [process.execPath, join(spec.repo, 'dist', 'ha-oscar'), 'lab', '_probe', 'ra', 'all'], { timeoutMs: 20_000 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
  if (!line) throw new Error(`_probe ra all: no result line: ${r.stdout}${r.stderr}`);
  return (JSON.parse(line) as { adverts: RouterAdvert[] }).adverts;
}

/** An RA as the lab's radvd clone sends it (src/lab/services.ts): M=1 O=1, lifetime 0, net A's prefix on-link, not autonomous. */
/** The distinct routers among the RAs one solicitation collected: radvd may add an unsolicited RA of its own
 *  (its initial burst after a start) inside the collection window, so one router can appear twice. */
const routers = (ras: RouterAdvert[]): string[] => [...new Set(ras.map((a) => a.from.replace(/%.*$/, '')))].sort();
const labRa = (a: RouterAdvert): boolean => a.managed && a.other && a.routerLifetime === 0
  && a.prefixes.length === 1 && a.prefixes[0]!.prefix === '2001:db8:a::' && a.prefixes[0]!.length === 64 && a.prefixes[0]!.onLink && !a.prefixes[0]!.autonomous;
const pxeLine = (r: Pxe6Result): string => (r.ok
  ? `RS->RA ${r.raMs} ms (${r.solicitations} RS, from ${r.ra?.from}), RS->DHCPv6 REPLY ${r.replyMs} ms (${r.attempts} exchanges, ${r.address} from ${r.from})`
  : `failed: ${r.error}`);
/** In the lab's DHCPv6 range, 2001:db8:a::1000-ffff (src/lab/services.ts). */
const inRange6 = (a: string | undefined): boolean => /^2001:db8:a::[1-9a-f][0-9a-f]{3}$/.test(a ?? '');

const okLine = (l: LeaseLine): string => (l.ok ? `${l.mac} ${l.address}` : `${l.mac}: ${l.error ?? 'no lease'}`);

/** ISC dhcpd.leases: MAC -> address of its last active lease (the file is a journal: last wins). */
function v4Bindings(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^lease (\S+) \{([^}]*)\}/gm)) {
    const hw = /hardware ethernet ([0-9a-f:]+);/.exec(m[2]!)?.[1];
    if (!hw) continue;
    if (/^\s*binding state active;/m.test(m[2]!)) out.set(hw, m[1]!);
    else if (out.get(hw) === m[1]) out.delete(hw);
  }
  return out;
}

/** An ISC lease-file string ("...\ooo..."): its bytes. */
function iscBytes(s: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\' && /^[0-7]{3}$/.test(s.slice(i + 1, i + 4))) { out.push(Number.parseInt(s.slice(i + 1, i + 4), 8)); i += 3; } else if (s[i] === '\\') { out.push(s.charCodeAt(i + 1)); i += 1; } else out.push(s.charCodeAt(i));
  }
  return Buffer.from(out);
}

/** ISC dhcpd6.leases: client DUID (hex) -> address of its active IA_NA binding. ia-na "<IAID(4)><DUID>". */
function v6Bindings(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of text.matchAll(/^ia-na "((?:[^"\\]|\\.)*)" \{([\s\S]*?)^\}/gm)) {
    const duid = iscBytes(m[1]!).subarray(4).toString('hex');
    const a = /iaaddr (\S+) \{\s*binding state active;/.exec(m[2]!);
    if (a) out.set(duid, a[1]!);
  }
  return out;
}

const duidOf = (mac: string): string => duidLL(Buffer.from(mac.split(':').map((h) => Number.parseInt(h, 16)))).toString('hex');

const pacemakerLog = (spec: LabSpec, node: NodeName): string => join(nodeDir(spec, node), 'var-log', 'pacemaker', 'pacemaker.log');
const sizeOf = (f: string): number => { try { return statSync(f).size; } catch { return 0; } };

/** When the survivor's fencer finished fencing `target` (its pacemaker log, after a byte offset): epoch ms. */
function fencedAt(spec: LabSpec, node: NodeName, target: NodeName, fromOffset: number): number | undefined {
  let text = '';
  try { text = readFileSync(pacemakerLog(spec, node)).subarray(fromOffset).toString('utf8'); } catch { return undefined; }
  const line = text.split('\n').find((l) => new RegExp(`Operation '\\w+' targeting ${target} .*: OK`).test(l));
  return line ? corosyncTime(line) : undefined;
}

async function linkLocal(spec: LabSpec, node: NodeName): Promise<string> {
  const r = await exec(spec, node, ['ip', '-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']);
  const m = /inet6 (fe80::[0-9a-f:]+)\//.exec(r.stdout);
  if (!m) throw new Error(`${node}: no link-local address on eth0: ${r.stdout}${r.stderr}`);
  return m[1]!;
}

interface NfsWrite {
  name: string;
  content: string;
  vip: string;
  version: 3 | 4;
  start: number;
  end: number;
  ok: boolean;
  error?: string;
}

describeWith(need, 'lab failover keeps DHCP leases and acknowledged NFS writes (one power-off of the active head)', () => {
  let spec: LabSpec;
  let tmp: string;
  let active: NodeName | undefined;
  let survivor: NodeName | undefined;
  let poweredOff = false;
  /** The power-off test passed: the "after" tests check what it left. */
  let failedOver = false;
  const before: Record<4 | 6, LeaseLine[]> = { 4: [], 6: [] };
  const sixth: Partial<Record<4 | 6, LeaseLine>> = {};
  const writes: NfsWrite[] = [];
  const tag = Date.now().toString(36);
  let oldLinkLocal = '';
  let survivorLinkLocal = '';
  let t0 = 0;
  /** The PXE client's runs (_probe pxe6): before the power-off, right after it, after the failover. */
  const pxe: { before: Pxe6Result[]; during?: Pxe6Result; after: Pxe6Result[] } = { before: [], after: [] };

  beforeAll(() => {
    // No skip when the lab did not come up: that is a failure.
    const name = inject('labName');
    if (!name) throw new Error(inject('labError') || 'the lab did not come up');
    spec = loadSpec(name);
    // nfs-cp runs in the client and reads its payload here: the client's mount namespace is a
    // copy of the host's, so it sees the host's /tmp (not $TMPDIR: that may be under /run, which
    // is a fresh tmpfs in every lab node)
    tmp = mkdtempSync('/tmp/fstate-');
  });

  afterAll(async () => {
    // Restore: the head back on, both online, every service answering, for the next test file.
    try {
      if (spec && active && poweredOff && !isPoweredOn(spec, active)) await powerOn(spec, active);
      if (spec) {
        await waitOnline(spec, HEADS, 180_000);
        await waitServices(spec, 180_000);
      }
    } finally {
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  }, 420_000);

  const hostShared = (labPath: string): string => join(sharedDir(spec), relative(LAB_SHARED, labPath));

  /** One write of the stream (nfs-cp from the client); a failed one is retried by the caller under a new name. */
  let seq = 0;
  let attempt = 0;
  async function writeOne(): Promise<NfsWrite> {
    const [vip, version] = STREAM[seq % STREAM.length]!;
    attempt += 1;
    const name = `fs-${tag}-${String(seq).padStart(4, '0')}-${attempt}-v${version}-${vip === VIP4 ? 'ip4' : 'ip6'}`;
    // distinct content per file (its name and random bytes). NFSv3: up to ~120 KiB; NFSv4: under
    // 3 KiB, as libnfs 4.0 cannot encode an NFSv4 WRITE of more than ~3.9 KB
    // ("ZDR error: Failed to encode COMPOUND4args": nothing reaches the server; docs/nfs.md).
    const size = 16 + ((seq * 7919) % (version === 3 ? 60_000 : 1_400));
    const content = `${name}\n${randomBytes(size).toString('hex')}\n`;
    const local = join(tmp, name);
    writeFileSync(local, content);
    const url = `nfs://${vip}${NFS_EXPORT}/${name}${version === 4 ? '?version=4' : ''}`; // IPv6 without brackets (libnfs 4.0)
    const start = Date.now();
    let ok = false;
    let error: string | undefined;
    try {
      const r = await exec(spec, 'client', ['nfs-cp', local, url], { timeoutMs: 10_000 });
      ok = r.code === 0;
      if (!ok) error = r.timedOut ? 'nfs-cp timed out (killed after 10 s)' : (r.stderr.trim().split('\n')[0] ?? `exit ${r.code}`);
    } catch (e) { error = e instanceof Error ? e.message : String(e); }
    const w: NfsWrite = { name, content, vip, version, start, end: Date.now(), ok, error };
    rmSync(local, { force: true });
    writes.push(w);
    if (ok) seq += 1;
    return w;
  }

  it('before: 5 MACs lease the addresses they ask for (v4, v6, in order) and the shared lease files name them', async () => {
    // both heads online: powering off the active one must leave a survivor (a test file before
    // this one may have left a head off; that is a failure here, not something to work around)
    await waitOnline(spec, HEADS, 180_000);
    await until('vips, dhcpd4, dhcpd6 and nfsserver started on one head', 120_000, async () => (active = await servicesOn(spec)) !== undefined);
    survivor = peerOf(active!);
    for (const fam of [4, 6] as const) {
      const got = await leases(spec, fam, MACS.map((m, i) => `${m}=${HINT[fam][i]}`), { waitMs: 20_000 });
      expect(got.filter((l) => !l.ok).map(okLine), `v${fam} leases`).toEqual([]);
      // the asked-for addresses were granted: the ones a dhcpd without these leases would not give
      expect(got.map((l) => l.address), `v${fam} addresses`).toEqual([...HINT[fam]]);
      before[fam] = got;
    }
    expect(before[4].every((l) => l.serverId === VIP4)).toBe(true);
    expect(new Set(before[6].map((l) => l.serverId)).size).toBe(1);
    oldLinkLocal = await linkLocal(spec, active!);
    expect(before[6].every((l) => l.from === `${oldLinkLocal}%eth0`), `v6 REPLY from ${active}'s ${oldLinkLocal}: ${before[6].map((l) => l.from).join(' ')}`).toBe(true);

    // on the shared storage (host side) before the power-off: the bindings the survivor must read
    const f4 = readFileSync(join(hostShared(DHCP_STATE[4]), 'dhcpd.leases'), 'utf8');
    const b4 = v4Bindings(f4);
    expect(MACS.map((m) => b4.get(m)), 'dhcpd.leases on the shared storage').toEqual([...HINT[4]]);
    const f6 = readFileSync(join(hostShared(DHCP_STATE[6]), 'dhcpd6.leases'), 'utf8');
    const b6 = v6Bindings(f6);
    expect(MACS.map((m) => b6.get(duidOf(m))), 'dhcpd6.leases on the shared storage').toEqual([...HINT[6]]);

    // IPv6 PXE over the RA path: an RA from each head (the radvd clone), then DHCPv6 from the VIP's dhcpd6
    survivorLinkLocal = await linkLocal(spec, survivor!);
    await until('radvd started on both heads', 120_000, async () => (await crmMon(spec)).resources.filter((r) => r.id === 'radvd' && r.role === 'started').length === 2);
    const ras = await adverts(spec);
    expect(routers(ras), `RAs answering one solicitation: ${JSON.stringify(ras)}`).toEqual([oldLinkLocal, survivorLinkLocal].sort());
    expect(ras.every(labRa), JSON.stringify(ras)).toBe(true);
    for (let i = 0; i < 3; i++) pxe.before.push(await pxe6(spec));
    console.log(`[failover-state] PXE over RA, both heads up: ${pxe.before.map(pxeLine).join('; ')}`);
    for (const r of pxe.before) {
      expect(r.ok, pxeLine(r)).toBe(true);
      expect(r.ra && labRa(r.ra), JSON.stringify(r.ra)).toBe(true);
      expect(r.from, `DHCPv6 REPLY from ${active}'s ${oldLinkLocal} (the VIP's dhcpd6)`).toBe(`${oldLinkLocal}%eth0`);
      expect(r.serverId, 'the server DUID of the 5 leases').toBe(before[6][0]!.serverId);
      expect(inRange6(r.address), r.address).toBe(true);
    }
    expect(new Set(pxe.before.map((r) => r.address)).size, 'one address for the one client').toBe(1);
  }, 240_000);

  it('power-off of the active head during an NFS write stream: writes and DHCP resume from the survivor', async () => {
    expect(active, 'the services run on one head').toBeDefined();
    const victim = active!;
    const surv = survivor!;
    // The stream runs until it has 2 acknowledged cycles after the power-off (or 240 s after it).
    let stop = false;
    let offAt = 0;
    const afterOff = (): NfsWrite[] => writes.filter((w) => w.ok && offAt > 0 && w.start >= offAt);
    const stream = (async () => {
      while (!stop) {
        const w = await writeOne();
        if (!w.ok) await sleep(250);
        if (offAt > 0 && (afterOff().length >= 2 * STREAM.length || Date.now() - offAt > 240_000)) break;
      }
    })();
    try {
      await until('a first cycle of acknowledged writes on the active head', 120_000, () => {
        if (writes.filter((w) => w.ok).length >= STREAM.length) return true;
        const last = writes.at(-1);
        throw new Error(last && !last.ok ? `last write ${last.name}: ${last.error}` : 'writing');
      });
      const coroOff = logOffset(spec, surv);
      const pmOff = sizeOf(pacemakerLog(spec, surv));
      t0 = await powerOff(spec, victim);
      poweredOff = true;
      offAt = t0;
      // first DHCP ACK after the power-off: the 6th MAC asks for the FIRST MAC's address (see the top)
      // and the PXE client solicits at once: the survivor's radvd answers; DHCPv6 once dhcpd6 moved
      const [l4, l6, px] = await Promise.all([
        leases(spec, 4, [`${MAC6}=${HINT[4][0]}`], { waitMs: 180_000 }),
        leases(spec, 6, [`${MAC6}=${HINT[6][0]}`], { waitMs: 180_000 }),
        pxe6(spec, 180_000),
      ]);
      sixth[4] = l4[0];
      sixth[6] = l6[0];
      pxe.during = px;
      await stream;
      const ev = corosyncEvents(spec, surv, coroOff);
      const started = pacemakerStarts(spec, surv, pmOff);
      const done = (rsc: string): string => { const d = started.get(rsc)?.done; return secs(d !== undefined ? d - t0 : undefined); };
      const fenced = fencedAt(spec, surv, victim, pmOff);
      const acked = afterOff();
      const first = (f: (w: NfsWrite) => boolean): number | undefined => {
        const e = acked.filter(f).map((w) => w.end - t0);
        return e.length ? Math.min(...e) : undefined;
      };
      const failed = writes.filter((w) => !w.ok);
      const errors = new Map<string, number>();
      for (const w of failed) { const e = (w.error ?? '').replaceAll(/\bfs-[0-9a-z]+-\d{4}-\d+-v[34]-ip[46]\b/g, 'FILE'); errors.set(e, (errors.get(e) ?? 0) + 1); }
      console.log(`[failover-state] power-off of ${victim} at ${new Date(t0).toISOString()}: corosync membership ${secs(ev.membership !== undefined ? ev.membership - t0 : undefined)}, `
        + `${victim} fenced ${secs(fenced !== undefined ? fenced - t0 : undefined)}, started on ${surv}: vip4 ${done('vip4')}, dhcpd4 ${done('dhcpd4')}, dhcpd6 ${done('dhcpd6')}, nfsserver ${done('nfsserver')}; client: `
        + `first DHCP ACK v4 ${secs(l4[0]!.ok ? l4[0]!.at - t0 : undefined)} (${l4[0]!.attempts} tries), v6 ${secs(l6[0]!.ok ? l6[0]!.at - t0 : undefined)} (${l6[0]!.attempts} tries); `
        + `first acknowledged NFS write ${secs(first(() => true))} (v3 ${secs(first((w) => w.version === 3))}, v4 ${secs(first((w) => w.version === 4))}); `
        + `${writes.filter((w) => w.ok).length} writes acknowledged, ${failed.length} failed and retried under new names; errors seen: ${[...errors].map(([e, n]) => `${n}x ${e}`).join(' | ') || 'none'}; `
        + `PXE over RA started ${secs(px.at - t0 - (px.replyMs ?? 0))} after the power-off: ${pxeLine(px)}`);

      expect(isPoweredOn(spec, victim)).toBe(false);
      expect(await servicesOn(spec), 'vips, dhcpd4, dhcpd6, nfsserver now on the survivor').toBe(surv);
      expect(l4[0]!.ok, okLine(l4[0]!)).toBe(true);
      expect(l6[0]!.ok, okLine(l6[0]!)).toBe(true);
      // the RA came from the survivor (its radvd ran all along), then DHCPv6 from the survivor's dhcpd6
      expect(px.ok, pxeLine(px)).toBe(true);
      expect(px.ra?.from.replace(/%.*$/, ''), pxeLine(px)).toBe(survivorLinkLocal);
      expect(px.ra && labRa(px.ra), JSON.stringify(px.ra)).toBe(true);
      expect(px.from, pxeLine(px)).toBe(`${survivorLinkLocal}%eth0`);
      // the stream resumed: every version on every VIP acknowledged after the power-off
      expect(acked.length).toBeGreaterThanOrEqual(2 * STREAM.length);
      for (const [vip, version] of STREAM) expect(acked.some((w) => w.vip === vip && w.version === version), `NFSv${version} on ${vip} after the power-off`).toBe(true);
      failedOver = true;
    } finally {
      stop = true;
      await stream;
    }
  }, 420_000);

  it('after: the 5 MACs get the same addresses again from the survivor (v4, v6), the 6th MAC none of theirs', async () => {
    expect(failedOver, 'the power-off test passed').toBe(true);
    for (const fam of [4, 6] as const) {
      const mine = before[fam].map((l) => l.address);
      expect(mine, `v${fam} leases before`).toHaveLength(MACS.length);
      // the 6th MAC asked for the first MAC's address: a dhcpd that kept the leases gives another one
      expect(sixth[fam]?.ok, `6th MAC v${fam}: ${sixth[fam] ? okLine(sixth[fam]) : 'no line'}`).toBe(true);
      expect(mine, `6th MAC v${fam} got ${sixth[fam]!.address}: already leased to one of the 5 (duplicate hand-out)`).not.toContain(sixth[fam]!.address);
      // reverse order, nothing asked for: only the survivor's knowledge of the bindings gives these
      const rev = [...MACS].reverse();
      const got = await leases(spec, fam, rev, { waitMs: 30_000 });
      expect(got.filter((l) => !l.ok).map(okLine), `v${fam} leases after`).toEqual([]);
      expect(got.map((l) => l.address), `v${fam}: the same addresses as before the power-off`).toEqual([...mine].reverse());
      if (fam === 4) expect(got.every((l) => l.serverId === VIP4)).toBe(true);
      else {
        // the same server DUID (kept in the shared lease file), answered by the survivor
        expect(got.every((l) => l.serverId === before[6][0]!.serverId), `server DUID ${got.map((l) => l.serverId).join(' ')}, before ${before[6][0]!.serverId}`).toBe(true);
        const ll = await linkLocal(spec, survivor!);
        expect(ll).not.toBe(oldLinkLocal);
        expect(got.every((l) => l.from === `${ll}%eth0`), `v6 REPLY from ${survivor}'s ${ll}: ${got.map((l) => l.from).join(' ')}`).toBe(true);
      }
    }
  }, 240_000);

  it('after: IPv6 PXE over the RA path from the survivor alone: its RA (M=1), the same DHCPv6 address from its dhcpd6', async () => {
    expect(failedOver, 'the power-off test passed').toBe(true);
    expect(pxe.before.length, 'the before test ran its 3 PXE exchanges').toBe(3);
    const ras = await adverts(spec);
    expect(routers(ras), `RAs answering one solicitation: ${JSON.stringify(ras)}`).toEqual([survivorLinkLocal]);
    expect(ras.every(labRa), JSON.stringify(ras)).toBe(true);
    for (let i = 0; i < 3; i++) pxe.after.push(await pxe6(spec));
    console.log(`[failover-state] PXE over RA, after the failover (${survivor} alone): ${pxe.after.map(pxeLine).join('; ')}`);
    for (const r of pxe.after) {
      expect(r.ok, pxeLine(r)).toBe(true);
      expect(r.ra?.from.replace(/%.*$/, ''), pxeLine(r)).toBe(survivorLinkLocal);
      expect(r.from, `DHCPv6 REPLY from ${survivor}'s ${survivorLinkLocal} (the VIP's dhcpd6 now)`).toBe(`${survivorLinkLocal}%eth0`);
      expect(r.serverId, 'the same server DUID').toBe(pxe.before[0]!.serverId);
      expect(r.address, 'the address the client had before the failover').toBe(pxe.before[0]!.address);
    }
  }, 120_000);

  it('after: every acknowledged write reads back byte-exact through the survivor and is on the shared storage', async () => {
    expect(failedOver, 'the power-off test passed').toBe(true);
    const acked = writes.filter((w) => w.ok);
    expect(acked.length).toBeGreaterThanOrEqual(3 * STREAM.length);
    expect(acked.some((w) => w.start < t0) && acked.some((w) => w.start >= t0), 'writes on both sides of the power-off').toBe(true);
    // read through the survivor, over both VIPs and both versions (not the ones each was written with)
    const bad: string[] = [];
    let next = 0;
    const reader = async (): Promise<void> => {
      for (let i = next++; i < acked.length; i = next++) {
        const w = acked[i]!;
        const [vip, version] = STREAM[(i + 1) % STREAM.length]!;
        const url = `nfs://${vip}${NFS_EXPORT}/${w.name}${version === 4 ? '?version=4' : ''}`;
        let r = await exec(spec, 'client', ['nfs-cat', url], { timeoutMs: 20_000 });
        if (r.code !== 0) { await sleep(1000); r = await exec(spec, 'client', ['nfs-cat', url], { timeoutMs: 20_000 }); } // one retry: a loaded machine
        if (r.code !== 0) bad.push(`${url}: ${r.stderr.trim() || `exit ${r.code}`}`);
        else if (r.stdout !== w.content) bad.push(`${url}: ${r.stdout.length} bytes read, ${w.content.length} written, content differs`);
        let host = '';
        try { host = readFileSync(join(hostShared(NFS_EXPORT), w.name), 'utf8'); } catch (e) { host = `(${(e as Error).message})`; }
        if (host !== w.content) bad.push(`${w.name}: not byte-exact on the shared storage (${host.length} bytes)`);
      }
    };
    await Promise.all([reader(), reader(), reader()]);
    expect(bad).toEqual([]);
  }, 300_000);
});

// `ha-oscar config apply` in the shared lab (test/lab/global-setup.ts): the lab descriptions
// (examples/lab-kea-ha.yaml, examples/lab.yaml) loaded into the real two-head cluster
// from inside a head, then failover (issue 4), link-aware placement (issue 10) and Kea HA
// (issue 19):
//  - per mode: the lab's own resources out, apply, every set answers from the client on its
//    VIPs; apply again changes nothing (CIB epoch unchanged), with the other tool (issue 22):
//    lab-kea-ha.yaml is applied with crmsh hidden from the head (apply's lookup finds
//    no `crm`, so it writes with cibadmin, as on an EL head) and re-applied with crmsh;
//    lab.yaml the other way round; each head powered off in turn (active-standby: the active
//    head): its sets answer from the peer (fenced through the lab PDU with the description's devices,
//    whose community is a CIB secret); powered back on;
//  - active-active with Kea HA in load-balancing: both heads answer DHCPv4 and DHCPv6, each its
//    half of eight clients, every lease in both heads' own lease files; at each power-off every
//    client renews its own address from the survivor; back on, the first head serves its half
//    again, every client keeping its address;
//  - active-standby: the active head's net A cable pulled (corosync keeps net B: no fencing):
//    linkmon's attribute goes to 0, the services move to the peer; plugged back: the attribute
//    recovers and the services stay (stickiness).
// At the end (afterAll, also after a failure) the lab's own configuration is back, as the
// other files expect it (vip4, vip6, snmpd, ..., fence-head1, fence-head2).
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  activeResources, cable, clearConfig, exec, execOk, initOf, isPoweredOn, loadConfig, loadSpec, powerOff, powerOn,
  waitOnline, waitServices, whereIs, writeFenceSecrets,
} from '../../src/lab/lab';
import { fencingOn, pduEvents } from '../../src/lab/fence';
import { availableServices, descriptionChecks, type ClientCheck } from '../../src/lab/services';
import { sleep } from '../../src/lab/procs';
import { HEADS, peerOf, nodeDir, type LabSpec, type NodeName } from '../../src/lab/spec';
import { loadDescription, type Description } from '../../src/crm/index';
import { cibVersion } from '../../src/pacemaker/cib';
import { leases } from './client';

const labName = inject('labName');
const labError = inject('labError');
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

async function until<T>(what: string, ms: number, fn: () => Promise<T | undefined | false>, everyMs = 300): Promise<T> {
  const t0 = Date.now();
  let last = '';
  for (;;) {
    try { const v = await fn(); if (v !== undefined && v !== false) return v; } catch (e) { last = e instanceof Error ? e.message : String(e); }
    if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms / 1000} s${last ? ` (${last})` : ''}`);
    await sleep(everyMs);
  }
}

/** A head that is powered on (head1 first). */
const upHead = (spec: LabSpec): NodeName => {
  const h = HEADS.find((x) => initOf(spec, x));
  if (!h) throw new Error('no head is powered on');
  return h;
};

/**
 * Until every check answers from the client; when each first did, in ms after t0 (when the
 * check that answered ended: coarse by a check's own run time). The VIP pings go first; the
 * service checks (several are Node processes) start once the VIPs answer, at most every 0.5 s:
 * on a loaded machine the checks' own start-ups slow the failover they measure.
 */
async function answers(spec: LabSpec, checks: ClientCheck[], t0: number, timeoutMs: number): Promise<Map<string, number>> {
  const got = new Map<string, number>();
  let left = checks;
  const isPing = (c: ClientCheck): boolean => c.argv[0] === 'ping';
  for (;;) {
    const round = Date.now();
    const pingsLeft = left.some(isPing);
    const rs = await Promise.all(left.filter((c) => isPing(c) || !pingsLeft).map(async (c) => {
      const r = await exec(spec, 'client', c.argv, { timeoutMs: c.timeoutMs ?? 10_000 });
      return { c, ok: r.code === 0, at: Date.now() };
    }));
    for (const r of rs) if (r.ok) got.set(r.c.name, r.at - t0);
    left = left.filter((c) => !got.has(c.name));
    if (left.length === 0) return got;
    if (Date.now() - t0 > timeoutMs) throw new Error(`no answer from the client within ${timeoutMs / 1000} s for: ${left.map((c) => c.name).join(', ')}`);
    await sleep(Math.max(100, 500 - (Date.now() - round)));
  }
}
const slowest = (m: Map<string, number>): number => Math.max(...m.values());
const detail = (m: Map<string, number>): string => [...m].map(([n, t]) => `${n} ${secs(t)}`).join(', ');

/** Wait until the cluster has no pending actions (crm_resource --wait, inside a head; again while the head's CIB is not up yet). */
async function settle(spec: LabSpec, timeoutS = 150): Promise<void> {
  const until = Date.now() + timeoutS * 1000;
  for (;;) {
    const left = Math.max(5, Math.round((until - Date.now()) / 1000));
    const r = await exec(spec, upHead(spec), ['crm_resource', '--wait', `--timeout=${left}s`], { timeoutMs: (left + 30) * 1000 });
    if (r.code === 0) return;
    if (Date.now() > until) throw new Error(`the cluster did not settle within ${timeoutS} s: ${(r.stderr || r.stdout).trim()}`);
    await sleep(1000);
  }
}

async function epochs(spec: LabSpec): Promise<string> {
  const r = await exec(spec, upHead(spec), ['cibadmin', '--query'], { timeoutMs: 30_000 });
  expect(r.code, r.stderr).toBe(0);
  const v = cibVersion(r.stdout);
  return `${v.adminEpoch}.${v.epoch}`;
}

/** Every `crm` apply's lookup could find (PATH and the sbin directories), each file once. */
const crmFiles = (): string[] => [...new Set([...(process.env.PATH ?? '').split(':'), '/usr/local/sbin', '/usr/sbin', '/sbin']
  .filter(Boolean).map((d) => join(d, 'crm')).filter((f) => existsSync(f)).map((f) => realpathSync(f)))];

/**
 * `ha-oscar config apply FILE` inside a head. withoutCrmsh: crmsh hidden from that head
 * while apply runs: /dev/null bound over each `crm` in the head's own mount namespace (not
 * executable: apply's lookup finds no crm, so auto picks cibadmin, as on an EL head), and
 * unbound afterwards, also when apply fails. The heads' namespaces are private: the host and
 * the other head keep their crm.
 */
async function apply(spec: LabSpec, file: string, opts: { withoutCrmsh?: boolean } = {}): Promise<string> {
  const head = upHead(spec);
  const hidden: string[] = [];
  try {
    if (opts.withoutCrmsh) {
      const files = crmFiles();
      expect(files.length, 'crmsh installed').toBeGreaterThan(0);
      for (const f of files) { await execOk(spec, head, ['mount', '--bind', '/dev/null', f]); hidden.push(f); }
    }
    const r = await exec(spec, head, [process.execPath, join(spec.repo, 'dist', 'ha-oscar'), 'config', 'apply', file], { timeoutMs: 240_000 });
    expect(r.code, `config apply ${file}: ${r.stderr}${r.stdout}`).toBe(0);
    return r.stdout.trim();
  } finally {
    for (const f of hidden.reverse()) await execOk(spec, head, ['umount', f]);
  }
}

/** The node attribute linkmon publishes, as attrd holds it for a head ('' when unset). */
async function linkAttr(spec: LabSpec, head: NodeName): Promise<string> {
  const r = await exec(spec, upHead(spec), ['attrd_updater', '--query', '--name', 'ha-oscar-link', '--node', head], { timeoutMs: 15_000 });
  return /value="([^"]*)"/.exec(r.stdout)?.[1] ?? '';
}

/**
 * What a head's fencer logged after a byte offset of its pacemaker log (the lab keeps each
 * head's /var/log in its per-node directory). The fencer's history is no use here: it merges
 * operations that look alike, and in the heads' PID namespaces the requesting controller has
 * the same PID after every boot.
 */
const pacemakerLog = (spec: LabSpec, head: NodeName): string => join(nodeDir(spec, head), 'var-log', 'pacemaker', 'pacemaker.log');
const logSize = (spec: LabSpec, head: NodeName): number => { try { return statSync(pacemakerLog(spec, head)).size; } catch { return 0; } };
const fencerLines = (spec: LabSpec, head: NodeName, from: number): string[] =>
  readFileSync(pacemakerLog(spec, head)).subarray(from).toString('utf8').split('\n').filter((l) => / pacemaker-fenced /.test(l));
/** The fencer's line for a successful run of the description's device fence-<victim> against victim. */
const fencedBy = (lines: string[], victim: NodeName): string | undefined =>
  lines.find((l) => new RegExp(`Operation '(off|reboot)' \\[\\d+\\] targeting ${victim} using fence-${victim} returned 0`).test(l));

interface SetInfo { name: string; vip: string; checks: ClientCheck[] }
/** Kea HA (services.dhcp.ha): DHCP runs on both heads, tied to no set: the Kea checks below test it. */
const keaHa = (d: Description): boolean => Boolean(d.services.dhcp?.params.ha);
const setsOf = (spec: LabSpec, d: Description): SetInfo[] => d.sets.map((s) => {
  const v4 = s.vips.find((v) => v.addr.family === 'ipv4')!.addr.text;
  const v6 = s.vips.find((v) => v.addr.family === 'ipv6')!.addr.text;
  const services = keaHa(d) ? s.services.filter((x) => x !== 'dhcp') : s.services;
  return { name: s.name, vip: `vip-${s.name}-ipv4`, checks: descriptionChecks(spec, v4, v6, services) };
});

// ---- Kea HA (examples/lab-kea-ha.yaml, issue 19) ----
// Eight compute nodes lease from the pair. Their MACs are fixed, so Kea's load-balancing hash
// splits them the same way in every run; that both heads get some is asserted.
const KEA_MACS = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `02:00:5e:00:53:d${i}`);
type Family = 4 | 6;
type Held = Record<Family, Map<string, { address: string; head: NodeName }>>;
type Servers = Record<Family, Map<string, NodeName>>;
/** The description's Kea state_dir for a family (each head's own disk): leases, and the DHCPv6 server DUID. */
const keaState = (d: Description, fam: Family): string => d.services.dhcp!.variants[`v${fam}`]!.state_dir!;

/**
 * Which head a server id names: v4 the head's own address on the services network (its Kea
 * answers from it), v6 the DUID its Kea keeps in state_dir (hex).
 */
async function keaServers(spec: LabSpec, d: Description): Promise<Servers> {
  const net = d.networks.find((n) => n.services)!.name;
  const v4 = new Map(d.heads.map((h) => [h.addresses[net]!.ipv4!.text, h.name as NodeName]));
  const v6 = new Map<string, NodeName>();
  for (const h of HEADS) {
    const r = await exec(spec, h, ['cat', `${keaState(d, 6)}/kea-dhcp6-serverid`], { timeoutMs: 15_000 });
    expect(r.code, `${h}'s Kea DHCPv6 server DUID: ${r.stderr}`).toBe(0);
    v6.set(r.stdout.trim().replace(/:/g, '').toLowerCase(), h);
  }
  return { 4: v4, 6: v6 };
}

/**
 * Every KEA_MAC leases, v4 and v6 (asking for the address it held, when it held one), until
 * every one is answered and both heads answered some: the pair in load-balancing. An address
 * other than the one held fails at once.
 */
async function keaHalves(spec: LabSpec, servers: Servers, held?: Held): Promise<Held> {
  // (until() retries whatever throws: a moved address ends the wait as a value, checked below)
  const r = await until('every Kea client answered, by both heads (v4 and v6)', 150_000, async () => {
    const out: Held = { 4: new Map(), 6: new Map() };
    for (const fam of [4, 6] as const) {
      const lines = await leases(spec, fam, KEA_MACS.map((m) => (held ? `${m}=${held[fam].get(m)!.address}` : m)), { timeoutMs: 1500 });
      if (lines.some((l) => !l.ok)) return undefined;
      for (const l of lines) {
        const was = held?.[fam].get(l.mac)?.address;
        if (was !== undefined && l.address !== was) return `lease${fam} ${l.mac}: ${l.address}, not the ${was} it held`;
        const head = servers[fam].get(l.serverId ?? '');
        if (head) out[fam].set(l.mac, { address: l.address!, head });
      }
      if (out[fam].size !== KEA_MACS.length || new Set([...out[fam].values()].map((v) => v.head)).size !== 2) return undefined;
    }
    return out;
  }, 1000);
  if (typeof r === 'string') throw new Error(r);
  return r;
}
const split = (h: Held, fam: Family): string => HEADS.map((x) => `${x} ${[...h[fam].values()].filter((v) => v.head === x).length}`).join(', ');

/**
 * After victim lost power: every KEA_MAC asks for the address it holds (each retried up to 150 s)
 * and gets it from the survivor, v4 and v6 side by side. When the first and the last answered,
 * in ms after t0.
 */
async function keaTakeover(spec: LabSpec, servers: Servers, held: Held, survivor: NodeName, t0: number): Promise<Record<Family, [number, number]>> {
  const took = await Promise.all(([4, 6] as const).map(async (fam) => {
    const lines = await leases(spec, fam, KEA_MACS.map((m) => `${m}=${held[fam].get(m)!.address}`), { waitMs: 150_000, timeoutMs: 1500 });
    for (const l of lines) {
      expect(l.ok, `lease${fam} ${l.mac} after the power-off: ${l.error ?? ''}`).toBe(true);
      expect(l.address, `lease${fam} ${l.mac}: its address`).toBe(held[fam].get(l.mac)!.address);
      expect(servers[fam].get(l.serverId ?? ''), `lease${fam} ${l.mac}: answered by`).toBe(survivor);
    }
    const at = lines.map((l) => l.at - t0);
    return [Math.min(...at), Math.max(...at)] as [number, number];
  }));
  return { 4: took[0]!, 6: took[1]! };
}

/** Both heads powered on, cables in, online: whatever a failed test left. */
async function heal(spec: LabSpec): Promise<void> {
  for (const h of HEADS) {
    if (isPoweredOn(spec, h)) { for (const net of ['A', 'B'] as const) await cable(spec, h, net, true).catch(() => undefined); } else await powerOn(spec, h);
  }
  await waitOnline(spec, HEADS, 180_000);
}

// Each description is applied with one tool and re-applied with the other: the re-apply finds
// nothing to write whichever tool wrote first (issue 22: apply with crmsh alone and without it).
// The active-active description is lab-kea-ha.yaml: lab-active-active.yaml's sets, with DHCP
// in Kea HA (issue 19) instead of ISC dhcpd in set boot; lab.yaml keeps ISC dhcpd in its set.
// (lab-active-active.yaml itself is tested by the unit tests: crm-golden, crm-pcs, crm-apply-cibadmin.)
// Power-offs: active-active both heads in turn (each runs a set, and its Kea half); active-standby
// the active head only (the way back is the same failover; cluster.test and failover-state power
// off the lab's own active head too).
const MODES = [
  { file: 'lab-kea-ha.yaml', mode: 'active-active', first: 'cibadmin', then: 'crmsh', bothHeads: true },
  { file: 'lab.yaml', mode: 'active-standby', first: 'crmsh', then: 'cibadmin', bothHeads: false },
] as const;

describe('cluster descriptions applied in the lab (ha-oscar config apply)', () => {
  let spec: LabSpec;
  // The cluster properties and resource defaults as the lab had them: the descriptions add
  // theirs (migration-threshold, failure-timeout...), and the files after this one get the lab back.
  const saved: Record<string, string> = {};
  beforeAll(async () => {
    // no skip: a lab that did not come up is a failure
    if (!labName) throw new Error(labError || 'the lab did not come up');
    spec = loadSpec(labName);
    for (const scope of ['crm_config', 'rsc_defaults']) {
      const r = await exec(spec, upHead(spec), ['cibadmin', '--query', '--scope', scope], { timeoutMs: 30_000 });
      expect(r.code, r.stderr).toBe(0);
      saved[scope] = r.stdout.trim();
    }
  });

  afterAll(async () => {
    if (!spec) return;
    // The lab's own configuration back, for the files that run after this one.
    await heal(spec);
    await clearConfig(spec);
    for (const [scope, xml] of Object.entries(saved)) {
      const r = await exec(spec, upHead(spec), ['cibadmin', '--replace', '--scope', scope, '--xml-text', xml], { timeoutMs: 30_000 });
      expect(r.code, `cibadmin --replace --scope ${scope}: ${r.stderr}`).toBe(0);
    }
    await loadConfig(spec);
    await waitServices(spec, 180_000);
    const ids = [...availableServices(spec).flatMap((s) => s.members), ...(fencingOn(spec) ? ['fence-head1', 'fence-head2'] : [])];
    await until('the lab\'s own resources all active', 120_000, async () => { const a = await activeResources(spec); return ids.every((i) => a.includes(i)); });
    const defaults = await exec(spec, upHead(spec), ['cibadmin', '--query', '--scope', 'rsc_defaults'], { timeoutMs: 30_000 });
    expect(defaults.stdout.trim()).toBe(saved.rsc_defaults);
  }, 600_000);

  it('the lab is up', () => {
    expect(labError).toBe('');
    expect(labName).not.toBe('');
  });

  for (const m of MODES) {
    describe(`${m.file} (${m.mode})`, () => {
      let d: Description;
      let sets: SetInfo[];
      // Kea HA only: which head each server id is, and the address each client holds
      let servers: Servers | undefined;
      let held: Held | undefined;
      const file = (): string => join(spec.repo, 'examples', m.file);

      it(`the lab's own resources out; apply (inside head1, with ${m.first}${m.first === 'cibadmin' ? ': crmsh hidden' : ''}) loads it; every set answers from the client on its VIPs`, async () => {
        d = loadDescription(file());
        expect(d.mode).toBe(m.mode);
        sets = setsOf(spec, d);
        await clearConfig(spec, 180_000);
        expect(await activeResources(spec)).toEqual([]);
        expect(writeFenceSecrets(spec)).toBe(true); // the PDU community, as a CIB secret (community: lrm://)
        const t0 = Date.now();
        const out = await apply(spec, file(), { withoutCrmsh: m.first === 'cibadmin' });
        expect(out).toMatch(new RegExp(`^applied \\S+ \\(${m.first}: \\d+ added, .*\\): \\d+ object\\(s\\) changed, epoch \\d+ -> \\d+$`));
        const got = await answers(spec, sets.flatMap((s) => s.checks), t0, 240_000);
        console.log(`[config] ${m.file}: applied; every set answers ${secs(slowest(got))} after apply began (${detail(got)})`);
        // active-active: each set on the head it prefers (first placement)
        for (const s of d.sets) if (s.prefer) expect(await whereIs(spec, `vip-${s.name}-ipv4`), s.name).toBe(s.prefer);
        // the stonith devices and linkmon run too (a start that timed out on a loaded machine is retried after failure-timeout)
        await until('fence-head1, fence-head2 and linkmon active', 200_000, async () => {
          const a = await activeResources(spec);
          return ['fence-head1', 'fence-head2'].every((x) => a.includes(x)) && a.filter((x) => x === 'linkmon').length === 2;
        }, 1000);
        // the PDU's community stays out of the CIB: the devices say lrm://, the fencer reads the secret
        const cib = await exec(spec, upHead(spec), ['cibadmin', '--query', '--scope', 'resources'], { timeoutMs: 30_000 });
        expect(cib.stdout).toMatch(/<primitive id="fence-head1"[^]*?name="community" value="lrm:\/\/"/);
        expect(cib.stdout).not.toContain(readFileSync(join(spec.stateDir, 'pdu.community'), 'utf8').trim());
      }, 600_000);

      if (m.file === 'lab-kea-ha.yaml') {
        it('Kea HA: both heads answer DHCPv4 and DHCPv6 from their own addresses, each its half of the clients, and each head\'s own lease file holds every lease', async () => {
          expect(keaHa(d)).toBe(true);
          // the sets answering (the test above) does not wait for the Kea clones: each instance's
          // start waits until its Kea answers (~4 s with its partner starting too)
          await until('dhcpd4 and dhcpd6 active on both heads', 120_000, async () =>
            (await activeResources(spec)).filter((r) => r === 'dhcpd4' || r === 'dhcpd6').length === 4, 1000);
          servers = await keaServers(spec, d);
          expect(servers[6].size, 'two DHCPv6 server DUIDs').toBe(2);
          const t0 = Date.now();
          held = await keaHalves(spec, servers);
          console.log(`[config] lab-kea-ha.yaml: Kea pair answers ${KEA_MACS.length} clients ${secs(Date.now() - t0)} after the check began; v4 ${split(held, 4)}; v6 ${split(held, 6)}`);
          // replicated without shared storage: each lease in BOTH heads' memfiles (their own disks)
          for (const fam of [4, 6] as const) {
            for (const h of HEADS) {
              const r = await exec(spec, h, ['cat', `${keaState(d, fam)}/kea-leases${fam}.csv`], { timeoutMs: 15_000 });
              expect(r.code, r.stderr).toBe(0);
              for (const [mac, v] of held[fam]) expect(r.stdout, `${h}'s kea-leases${fam}.csv: ${mac}'s ${v.address} (granted by ${v.head})`).toContain(`${v.address},`);
            }
          }
        }, 300_000);
      }

      it(`applied again with ${m.then}${m.then === 'cibadmin' ? ' (crmsh hidden)' : ''}: nothing changes, the CIB epoch does not move`, async () => {
        const before = await epochs(spec);
        const out = await apply(spec, file(), { withoutCrmsh: m.then === 'cibadmin' });
        expect(out).toMatch(new RegExp(`^unchanged: the CIB already matches \\S+ \\(${m.then}: nothing to write, epoch \\d+\\)$`));
        expect(await epochs(spec)).toBe(before);
      }, 300_000);

      it(`${m.bothHeads ? 'powering off each head in turn moves its sets' : 'powering off the active head moves its set'} to the peer (fenced through the lab PDU); powered on, it rejoins and the sets stay`, async () => {
        // the head that runs the first set goes first, then (active-active) the other one
        const first = (await whereIs(spec, sets[0]!.vip))!;
        expect(first).toBeDefined();
        for (const [i, victim] of (m.bothHeads ? [first, peerOf(first)] : [first]).entries()) {
          const peer = peerOf(victim);
          const where = new Map<string, NodeName | undefined>();
          for (const s of sets) where.set(s.name, await whereIs(spec, s.vip));
          const moving = sets.filter((s) => where.get(s.name) === victim);
          const staying = sets.filter((s) => where.get(s.name) === peer);
          expect(moving.length, `a set on ${victim}`).toBeGreaterThan(0);
          // Kea: both heads serve their halves before the cut (the second time: the first victim is back in load-balancing)
          if (servers) held = await keaHalves(spec, servers, held);
          const f0 = logSize(spec, peer);
          const t0 = await powerOff(spec, victim);
          try {
            const [got, kea] = await Promise.all([
              answers(spec, moving.flatMap((s) => s.checks), t0, 180_000),
              servers && held ? keaTakeover(spec, servers, held, peer, t0) : undefined,
            ]);
            if (kea) console.log(`[config] lab-kea-ha.yaml: power-off ${victim} -> every Kea client renews its own address from ${peer}: v4 first at ${secs(kea[4][0])}, all ${KEA_MACS.length} by ${secs(kea[4][1])}; v6 first at ${secs(kea[6][0])}, all by ${secs(kea[6][1])}`);
            for (const s of moving) expect(await whereIs(spec, s.vip), s.name).toBe(peer);
            for (const s of staying) expect(await whereIs(spec, s.vip), `${s.name} stays`).toBe(peer);
            console.log(`[config] ${m.file}: power-off ${victim} -> set(s) ${moving.map((s) => s.name).join('+')} answer from ${peer} in ${secs(slowest(got))} (${detail(got)})`);
            // recovery waited for the survivor to fence the lost head: the description's device, through the
            // lab PDU (its outlet already reads off: fence_haoscar reads the status with the CIB-secret community)
            const line = await until(`${peer}'s fencer runs fence-${victim}`, 60_000, async () => fencedBy(fencerLines(spec, peer, f0), victim));
            expect(line).toContain(`targeting ${victim} using fence-${victim} returned 0`);
          } finally {
            await powerOn(spec, victim);
            await waitOnline(spec, HEADS, 180_000);
          }
          // (Kea: the check before the second power-off shows the first victim back, serving its half
          // again with every client's address; after the second, the next mode's clearConfig follows)
          if (i > 0) continue; // what follows (the link test, or the next mode's clearConfig) waits for the cluster itself
          await settle(spec);
          for (const s of moving) expect(await whereIs(spec, s.vip), `${s.name} stays on ${peer} (stickiness)`).toBe(peer);
        }
      }, 900_000);
    });
  }

  it('lab.yaml: pulling the active head\'s net A cable moves the services to the peer (no fencing); plugged back, the attribute recovers and they stay', async () => {
    const d = loadDescription(join(spec.repo, 'examples', 'lab.yaml'));
    const [set] = setsOf(spec, d);
    expect(d.health.link).toBeDefined();
    await settle(spec);
    const active = (await whereIs(spec, set!.vip))!;
    expect(active).toBeDefined();
    const peer = peerOf(active);
    // linkmon runs on both heads and says the service network works
    await until('ha-oscar-link=2 on both heads', 90_000, async () => (await linkAttr(spec, 'head1')) === '2' && (await linkAttr(spec, 'head2')) === '2');
    const inits = HEADS.map((h) => initOf(spec, h)!.pid);
    const f0 = HEADS.map((h) => logSize(spec, h));
    const n0 = pduEvents(spec).length;
    const t0 = Date.now();
    await cable(spec, active, 'A', false);
    try {
      const tAttr = await until(`ha-oscar-link=0 on ${active}`, 60_000, async () => (await linkAttr(spec, active)) === '0' && Date.now() - t0);
      const got = await answers(spec, set!.checks, t0, 180_000);
      expect(await whereIs(spec, set!.vip)).toBe(peer);
      console.log(`[config] lab.yaml: net A cable of ${active} pulled -> ha-oscar-link=0 after ${secs(tAttr)}; services answer from ${peer} in ${secs(slowest(got))} (${detail(got)})`);
      // corosync kept net B: nobody was fenced, both heads still run the same inits
      expect(HEADS.map((h) => initOf(spec, h)?.pid)).toEqual(inits);
      expect(pduEvents(spec).slice(n0).filter((e) => e.from !== undefined || e.event.startsWith('now-'))).toEqual([]);
      expect(HEADS.flatMap((h, i) => fencerLines(spec, h, f0[i]!).filter((l) => /Requesting peer fencing|wants to fence/.test(l)))).toEqual([]);
    } finally {
      await cable(spec, active, 'A', true);
    }
    const t1 = Date.now();
    const tBack = await until(`ha-oscar-link=2 on ${active} again`, 120_000, async () => (await linkAttr(spec, active)) === '2' && Date.now() - t1);
    await sleep(3000); // attrd answers with the new value at once and writes it to the CIB after dampen (2 s)
    await settle(spec); // the scheduler has run with the attribute back: nothing moves
    expect(await whereIs(spec, set!.vip)).toBe(peer);
    const again = await answers(spec, set!.checks, Date.now(), 60_000);
    expect(again.size).toBe(set!.checks.length);
    console.log(`[config] lab.yaml: cable back in -> ha-oscar-link=2 on ${active} after ${secs(tBack)}; the services stay on ${peer}`);
  }, 600_000);
});

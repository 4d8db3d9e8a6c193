// ocf:ha-oscar:radvd — IPv6 router advertisements on the compute network (radvd), run as a
// clone on both heads: PXE firmware waits for an RA before it tries DHCPv6 (UEFI does no
// DHCPv6 at all without M=1), so every head advertises the prefixes with the M and O flags
// from its own link-local address, and an RA never depends on one head.
// Monitor: level 0 = radvd is alive; level 10 = a router solicitation on the interface is
// answered by an RA from THIS head's link-local address, carrying the configured M/O flags,
// router lifetime and prefixes (rdisc6, from ndisc6).
import { defineAgent, p, fail, OCF, OcfError, splitList, checkAbsolutePath, type Context } from '../src/ocf/agent';
import { startDaemon, stopDaemon, daemonState, runningPid, readPidfile } from '../src/service/daemon';
import { writeFileAtomic } from '../src/service/atomic';
import { run, describeFailure } from '../src/service/run';
import { which } from '../src/service/which';
import { ipv6Groups, linkLocalAddresses, samePrefix, sameIPv6, solicit, type RouterAdvert } from '../src/probe/ra';
import { accessSync, closeSync, constants, existsSync, mkdirSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { version } from '../package.json';

const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}$/;

interface Prefix { text: string; addr: string; len: number }

function parsePrefix(s: string): Prefix | string {
  const [addr, len, extra] = s.split('/');
  const bad = `must list IPv6 prefixes such as 2001:db8:a::/64, and ${JSON.stringify(s.slice(0, 50))} is not one`;
  if (extra !== undefined || addr === undefined || len === undefined || !/^\d{1,3}$/.test(len)) return bad;
  const g = ipv6Groups(addr);
  const n = Number(len);
  if (!g || n < 1 || n > 128) return bad;
  if ((g[0]! & 0xffc0) === 0xfe80) return `must not list link-local prefixes (${s.slice(0, 50)}): every interface has fe80::/64 already`;
  if ((g[0]! & 0xff00) === 0xff00) return `must not list multicast prefixes (${s.slice(0, 50)})`;
  return { text: s, addr, len: n };
}

function checkPrefixList(s: string): string | undefined {
  const items = splitList(s);
  if (items.length === 0) return 'must list at least one IPv6 prefix (such as 2001:db8:a::/64)';
  for (const i of items) {
    const r = parsePrefix(i);
    if (typeof r === 'string') return r;
  }
  return undefined;
}

const params = {
  interface: p.string({
    required: true, uniqueGroup: 'interface', pattern: IFNAME,
    patternHint: 'an interface name (1-15 letters, digits or _.@-, starting with a letter or digit)',
    shortdesc: 'Interface to advertise on (the compute network)',
    longdesc: 'The interface of the compute network (the PXE network). It must exist on every head the clone runs on; a head without it gets OCF_ERR_INSTALLED, so the clone keeps running on the other.',
  }),
  prefixes: p.string({
    required: true, check: checkPrefixList,
    shortdesc: 'IPv6 prefixes to advertise (such as 2001:db8:a::/64)',
    longdesc: 'Space- or comma-separated IPv6 prefixes of the compute network, advertised on-link. Ignored when "config" is set.',
  }),
  managed: p.boolean({ default: true, shortdesc: 'M flag: clients take their addresses by DHCPv6', longdesc: 'The RA\'s "managed address configuration" flag. PXE firmware (UEFI) does DHCPv6 only when it is set. Ignored when "config" is set.' }),
  other: p.boolean({ default: true, shortdesc: 'O flag: clients take other configuration (DNS, boot file URL) by DHCPv6', longdesc: 'The RA\'s "other configuration" flag. Ignored when "config" is set.' }),
  autonomous: p.boolean({
    default: false,
    shortdesc: 'A flag of the prefixes: clients may form addresses themselves (SLAAC)',
    longdesc: 'Off for a PXE network served by DHCPv6, so that every node has the one address its DHCPv6 reservation gives it. On needs /64 prefixes. Ignored when "config" is set.',
  }),
  router_lifetime: p.integer({
    default: 0, min: 0, max: 9000,
    shortdesc: 'Router lifetime in seconds (0: the heads are not a default router)',
    longdesc: '0 (default): the heads only announce the prefixes and flags, and the compute nodes take no default route from them. Above 0 the heads become the nodes\' default router; it must then be at least "interval" (RFC 4861), and both heads advertise it, so the route survives either head. Ignored when "config" is set.',
  }),
  interval: p.integer({
    default: 30, min: 4, max: 1800,
    shortdesc: 'Longest interval between unsolicited RAs, in seconds (MaxRtrAdvInterval)',
    longdesc: 'radvd sends an unsolicited RA at a random time between MinRtrAdvInterval (set to a third of this, at least 3 s) and this. Solicited RAs are answered at once (unicast, within radvd\'s random delay of up to 0.5 s). Ignored when "config" is set.',
  }),
  config: p.string({
    check: checkAbsolutePath,
    shortdesc: 'An existing radvd.conf to use as it is (else one is generated)',
    longdesc: 'Absolute path of a radvd configuration, used unchanged (checked with radvd -c in validate-all and before every start). Then prefixes, managed, other, autonomous, router_lifetime and interval are not used, and the level-10 monitor checks only that this head answers a solicitation on "interface".',
  }),
  pidfile: p.string({ check: checkAbsolutePath, shortdesc: 'Pidfile (default /run/ha-oscar/<instance>.pid)' }),
  state_dir: p.string({ check: checkAbsolutePath, shortdesc: 'Directory for the generated config (mode 0600), radvd\'s own pidfile and its log (default /var/lib/ha-oscar/<instance>)' }),
};
type Ctx = Context<typeof params>;

const paths = (c: Ctx) => {
  const state = c.params.state_dir ?? `/var/lib/ha-oscar/${c.instanceId}`;
  return {
    state,
    conf: c.params.config ?? `${state}/radvd.conf`,
    log: `${state}/radvd.log`,
    innerPid: `${state}/radvd.pid`,
    pidfile: c.params.pidfile ?? `/run/ha-oscar/${c.instanceId}.pid`,
  };
};

const prefixesOf = (c: Ctx): Prefix[] => splitList(c.params.prefixes).map((s) => parsePrefix(s) as Prefix);
const onOff = (b: boolean) => (b ? 'on' : 'off');
/** MinRtrAdvInterval for a MaxRtrAdvInterval: a third of it, at least 3 s (RFC 4861; radvd checks 3 <= min <= 0.75 x max). */
const minInterval = (max: number) => Math.max(3, Math.floor(max / 3));

function radvdConfig(c: Ctx): string {
  const pr = c.params;
  const L = [
    `# Generated by ocf:ha-oscar:radvd for resource ${c.instance}. Changes are overwritten at start.`,
    `interface ${pr.interface} {`,
    '    AdvSendAdvert on;',
    `    AdvManagedFlag ${onOff(pr.managed)};`,
    `    AdvOtherConfigFlag ${onOff(pr.other)};`,
    `    AdvDefaultLifetime ${pr.router_lifetime};`,
    `    MaxRtrAdvInterval ${pr.interval};`,
    // radvd's own default (0.33 x max) breaks its own rule (3 s <= min <= 0.75 x max) below 9 s
    `    MinRtrAdvInterval ${minInterval(pr.interval)};`,
    // answer a solicitation at once, to the asker (RFC 7772): not held back by MinDelayBetweenRAs
    '    AdvRASolicitedUnicast on;',
  ];
  for (const x of prefixesOf(c)) {
    L.push(`    prefix ${x.addr}/${x.len} {`, '        AdvOnLink on;', `        AdvAutonomous ${onOff(pr.autonomous)};`, '    };');
  }
  L.push('};');
  return `${L.join('\n')}\n`;
}

/** radvd -c: the configuration as radvd reads it. Throws ERR_CONFIGURED with radvd's own words. */
async function configTest(c: Ctx, exe: string, conf: string): Promise<void> {
  const r = await run(exe, ['-c', '-C', conf, '-m', 'stderr'], { timeoutMs: Math.max(1000, Math.min(10_000, c.remaining() - 500)) });
  if (r.code === 0) return;
  const said = (r.stderr || r.stdout).split('\n').map((l) => l.replace(/^\[[^\]]*\]\s*radvd\s*\(\d+\):\s*/, '').trim())
    .filter((l) => l && !/^(version .* started|Exiting, failed to read config file)/i.test(l));
  fail(OCF.ERR_CONFIGURED, `radvd rejects ${conf}: ${said.slice(0, 2).join(' | ') || describeFailure('radvd -c', r)}`);
}

const sizeOf = (file: string) => { try { return statSync(file).size; } catch { return 0; } };

/** What radvd complained about in its log since it had `from` bytes (its routine lines left out). */
function complaints(file: string, from: number): string[] {
  let text = '';
  try {
    const fd = openSync(file, 'r');
    try {
      const buf = Buffer.alloc(Math.max(0, Math.min(65536, sizeOf(file) - from)));
      readSync(fd, buf, 0, buf.length, from);
      text = buf.toString('utf8');
    } finally { closeSync(fd); }
  } catch { return []; }
  return text.split('\n').map((l) => l.replace(/^\[[^\]]*\]\s*radvd\s*\(\d+\):\s*/, '').trim())
    .filter((l) => l && !/^(version .* started|IPv6 forwarding|exiting, |sending stop adverts|removing .*\.pid|returning from radvd main)/i.test(l));
}

/** This head's usable link-local address on the interface, or why there is none. */
function ownLinkLocal(iface: string): { address?: string; why?: string } {
  const all = linkLocalAddresses(iface);
  const ok = all.find((a) => !a.tentative && !a.dadFailed);
  if (ok) return { address: ok.address };
  if (all.some((a) => a.tentative)) return { why: `the link-local address of ${iface} is still tentative (duplicate address detection)` };
  if (all.some((a) => a.dadFailed)) return { why: `the link-local address of ${iface} failed duplicate address detection` };
  return { why: `${iface} has no link-local IPv6 address (down, or IPv6 disabled on it)` };
}

/** What in an RA differs from the configuration ("" when it matches). */
function mismatch(c: Ctx, ra: RouterAdvert): string {
  if (c.params.config) return '';
  const pr = c.params;
  const bad: string[] = [];
  if (ra.managed !== pr.managed) bad.push(`M=${ra.managed ? 1 : 0} (configured ${pr.managed ? 1 : 0})`);
  if (ra.other !== pr.other) bad.push(`O=${ra.other ? 1 : 0} (configured ${pr.other ? 1 : 0})`);
  if (ra.routerLifetime !== pr.router_lifetime) bad.push(`router lifetime ${ra.routerLifetime} s (configured ${pr.router_lifetime})`);
  for (const x of prefixesOf(c)) {
    const got = ra.prefixes.find((q) => samePrefix(q.prefix, q.length, x.addr, x.len));
    if (!got) bad.push(`prefix ${x.text} missing`);
    else if (got.autonomous !== pr.autonomous) bad.push(`prefix ${x.text} A=${got.autonomous ? 1 : 0} (configured ${pr.autonomous ? 1 : 0})`);
  }
  return bad.join(', ');
}

/**
 * Solicit on the interface, unicast to our own link-local address (so only this head's radvd
 * answers), until an RA from that address arrives or the budget is spent. Returns the RA.
 */
async function ownAdvert(c: Ctx, rdisc6: string, budgetMs: number, waitMs = 1000): Promise<{ ra?: RouterAdvert; ms: number; why?: string }> {
  const ll = ownLinkLocal(c.params.interface);
  if (!ll.address) return { ms: 0, why: ll.why };
  const t0 = Date.now();
  let why = 'no answer';
  do {
    const r = await solicit(c.params.interface, { target: ll.address, waitMs: Math.min(waitMs, Math.max(100, budgetMs - (Date.now() - t0))), rdisc6 });
    const mine = r.adverts.find((a) => sameIPv6(a.from, ll.address!));
    if (mine) return { ra: mine, ms: Date.now() - t0 };
    why = r.adverts.length ? `only RAs from ${r.adverts.map((a) => a.from).join(' ')}` : (r.error ?? 'no answer');
  } while (Date.now() - t0 < budgetMs);
  return { ms: Date.now() - t0, why: `no router advertisement from this head (${ll.address}) on ${c.params.interface} within ${Date.now() - t0} ms: ${why}` };
}

export default defineAgent({
  name: 'radvd',
  version,
  shortdesc: 'IPv6 router advertisements (radvd) on the compute network',
  longdesc: 'Runs radvd (in the foreground, from a configuration generated into state_dir, never /etc/radvd.conf) to advertise the compute network\'s IPv6 prefixes with the M and O flags, so that PXE firmware does DHCPv6 at once instead of waiting for an RA that never comes. Run it as a clone on both heads: each head advertises from its own link-local address, so an RA never depends on one head. The router lifetime is 0 by default (the heads are not the nodes\' default router). Level 10 monitors solicit on the interface and check that this head answers with the configured flags, router lifetime and prefixes.',
  params,
  needsRoot: true,
  binaries: () => ['radvd'],
  timeouts: { start: 20, stop: 20, monitor: 20 },
  monitors: [{ depth: 0, interval: 10 }, { depth: 10, interval: 120, timeout: 20 }],
  // what the level-0 monitor looks at (src/ocf/fastpath.ts: a sh fast path answers it)
  processes: (c) => [{ pidfile: paths(c).pidfile, exe: c.bin('radvd') }],

  async validate(c) {
    const pr = c.params;
    if (!existsSync(`/sys/class/net/${pr.interface}`)) {
      // node-local: the clone keeps running on a head that has the interface
      fail(OCF.ERR_INSTALLED, `interface ${pr.interface} does not exist on this node`);
    }
    if (pr.config) {
      try { accessSync(pr.config, constants.R_OK); } catch { fail(OCF.ERR_CONFIGURED, `config file ${pr.config} does not exist or is not readable`); }
      await configTest(c, c.bin('radvd'), pr.config);
      return;
    }
    if (pr.router_lifetime > 0 && pr.router_lifetime < pr.interval) {
      fail(OCF.ERR_CONFIGURED, `router_lifetime (${pr.router_lifetime}) must be 0 or at least interval (${pr.interval}), as RFC 4861 requires`);
    }
    if (pr.autonomous) {
      const not64 = prefixesOf(c).find((x) => x.len !== 64);
      if (not64) fail(OCF.ERR_CONFIGURED, `autonomous=true needs /64 prefixes (SLAAC), and ${not64.text} is not one`);
    }
  },

  async start(c) {
    const f = paths(c);
    const exe = c.bin('radvd');
    if (daemonState(f.pidfile, exe).state === 'running') return OCF.SUCCESS;
    mkdirSync(f.state, { recursive: true, mode: 0o755 });
    // a radvd of this instance whose pidfile we lost would still advertise: stop it first
    const orphan = runningPid(f.innerPid, exe);
    if (orphan !== undefined) {
      c.log.warn(`stopping a radvd (pid ${orphan}) left over from this instance`);
      await stopDaemon(f.innerPid, exe, Math.min(10_000, c.remaining() / 2));
    }
    rmSync(f.innerPid, { force: true });
    if (!c.params.config) writeFileAtomic(f.conf, radvdConfig(c), { mode: 0o600, mkdir: true });
    await configTest(c, exe, f.conf);
    const rdisc6 = which('rdisc6', c.env);
    if (!rdisc6) c.log.warn('rdisc6 (ndisc6) is not installed: start cannot check the first RA, and level-10 monitors will fail');
    const t0 = Date.now();
    const logStart = sizeOf(f.log);
    let firstRa: number | undefined;
    try {
      const pid = await startDaemon(
        { argv: [exe, '-n', '-C', f.conf, '-p', f.innerPid, '-m', 'stderr'], pidfile: f.pidfile, logfile: f.log },
        {
          // room left to stop what never got ready, and to say why (radvd logs a rejected
          // interface and carries on, silent)
          timeoutMs: Math.max(1000, c.remaining() - 3500),
          // radvd writes its pidfile once it has read the configuration and opened its socket;
          // then this head must answer a solicitation (unless the interface has no usable
          // link-local address yet: radvd starts advertising when it gets one)
          ready: async (p0) => {
            if (readPidfile(f.innerPid) !== p0) return false;
            if (!rdisc6 || !ownLinkLocal(c.params.interface).address) return true;
            const r = await ownAdvert(c, rdisc6, 300, 300);
            if (r.ra) firstRa = Date.now() - t0;
            return r.ra !== undefined;
          },
        },
      );
      const ll = ownLinkLocal(c.params.interface);
      if (!ll.address) c.log.warn(`started radvd (pid ${pid}), but ${ll.why}: it advertises once there is one`);
      else c.log.info(`started radvd (pid ${pid}) on ${c.params.interface} from ${ll.address}${firstRa !== undefined ? `, answering solicitations after ${firstRa} ms` : ''}`);
    } catch (e) {
      if (e instanceof OcfError) throw e;
      // radvd logs an interface it rejects (e.g. interval rules) and carries on without it
      const said = complaints(f.log, logStart);
      const msg = (e as Error).message;
      fail(OCF.ERR_GENERIC, `start failed: ${said.length ? `${msg.replace(/: .*$/, '')}: radvd said: ${said.slice(-2).join(' | ')}` : msg}`);
    }
  },

  async stop(c) {
    const f = paths(c);
    await stopDaemon(f.pidfile, c.bin('radvd'), c.remaining());
    rmSync(f.innerPid, { force: true });
  },

  async monitor(c) {
    const f = paths(c);
    const st = daemonState(f.pidfile, c.bin('radvd'));
    if (st.state === 'stopped') {
      // a pidfile without its radvd: it died (a failure); a probe only asks "running here?"
      if (st.stalePidfile && !c.isProbe) fail(OCF.ERR_GENERIC, `radvd (pidfile ${f.pidfile}) is not running: it died`);
      return OCF.NOT_RUNNING;
    }
    if (c.checkLevel >= 10) {
      const rdisc6 = which('rdisc6', c.env);
      if (!rdisc6) fail(OCF.ERR_INSTALLED, 'rdisc6 is not installed (apt-get install ndisc6): the level-10 monitor needs it');
      const r = await ownAdvert(c, rdisc6, Math.min(5000, Math.max(500, c.remaining() / 2)));
      if (!r.ra) fail(OCF.ERR_GENERIC, r.why ?? 'no router advertisement from this head');
      const bad = mismatch(c, r.ra);
      if (bad) fail(OCF.ERR_GENERIC, `the RA from this head (${r.ra.from}) on ${c.params.interface} differs from the configuration: ${bad}`);
      c.log.debug(`RA from ${r.ra.from} on ${c.params.interface} after ${r.ms} ms`);
    }
    return OCF.SUCCESS;
  },
}).main();

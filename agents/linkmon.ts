// ocf:ha-oscar:linkmon — link health of a head as a node attribute (a clone, one per head).
// Monitor: level 0 = carrier/operstate of every interface (bonds: a slave down = degraded);
// level 10 = also ICMP reachability of the targets (IPv4 and IPv6).
// Publishes <attribute> (default ha-oscar-link) through attrd_updater: 2 = all links ok,
// 1 = degraded (a bond slave down, or some targets silent), 0 = the service network is down.
import { defineAgent, p, fail, OCF, splitList, checkAddressList, checkAbsolutePath, type Context } from '../src/ocf/agent';
import { linkStatus, linkValue, reachAll, SYS_CLASS_NET, type Reach } from '../src/probe/link';
import { Attrd, AttrdError, ATTR_NAME, publish, unpublish, readPublished } from '../src/pacemaker/attrd';
import { writeFileAtomic } from '../src/service/atomic';
import { readFileSync, unlinkSync } from 'node:fs';
import { version } from '../package.json';

const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.@-]{0,14}$/;

const params = {
  interfaces: p.string({
    required: true,
    check: (s) => {
      const l = splitList(s);
      if (!l.length) return 'must list at least one interface';
      const bad = l.find((i) => !IFNAME.test(i));
      return bad === undefined ? undefined : `must list interface names (1-15 letters, digits or _.@-), and ${JSON.stringify(bad.slice(0, 20))} is not one`;
    },
    shortdesc: 'Interfaces to watch (the service network: NICs, bonds, VLANs)',
    longdesc: 'Space- or comma-separated interface names. One without carrier (or administratively down) makes the value 0. An active-backup bond with one slave down makes it 1 (degraded), not 0.',
  }),
  targets: p.string({
    check: checkAddressList,
    shortdesc: 'IPv4/IPv6 addresses to ping at check level 10',
    longdesc: 'Space- or comma-separated IPv4 and IPv6 addresses (compute nodes, the switch, the gateway) pinged by monitors with OCF_CHECK_LEVEL >= 10 and by start. Level-0 monitors reuse the last level-10 result.',
  }),
  target_policy: p.select({
    options: ['any', 'all'] as const, default: 'any',
    shortdesc: 'any: down only when no target answers (some silent = degraded); all: down when one target is silent',
  }),
  attribute: p.string({ default: 'ha-oscar-link', pattern: ATTR_NAME, patternHint: 'a node attribute name', shortdesc: 'Node attribute to publish' }),
  dampen: p.integer({ default: 5, min: 0, max: 3600, shortdesc: 'Seconds attrd waits before writing a change (absorbs flapping)' }),
  ping_count: p.integer({ default: 2, min: 1, max: 10, shortdesc: 'Echo requests per target' }),
  ping_timeout: p.integer({ default: 2, min: 1, max: 30, shortdesc: 'Seconds to wait for a reply' }),
  sysfs_net: p.string({ default: SYS_CLASS_NET, check: checkAbsolutePath, shortdesc: 'Where interface state is read (for tests; default /sys/class/net)' }),
};
type Ctx = Context<typeof params>;

const statePath = (c: Ctx) => `/run/ha-oscar/linkmon-${c.instanceId}.state`;
const reachPath = (c: Ctx) => `/run/ha-oscar/linkmon-${c.instanceId}.reach`;
const attrd = (c: Ctx) => new Attrd({ bin: c.bin('attrd_updater'), timeoutMs: Math.max(1000, Math.min(10_000, c.remaining() / 2)) });

async function reach(c: Ctx, deep: boolean): Promise<Reach[] | undefined> {
  const targets = splitList(c.params.targets);
  if (!targets.length) return undefined;
  if (!deep) {
    // the last level-10 result, for the targets configured now
    try { return (JSON.parse(readFileSync(reachPath(c), 'utf8')) as Reach[]).filter((r) => targets.includes(r.target)); } catch { return undefined; }
  }
  const r = await reachAll(targets, { ping: c.bin('ping'), count: c.params.ping_count, timeoutSeconds: c.params.ping_timeout });
  writeFileAtomic(reachPath(c), `${JSON.stringify(r)}\n`, { mkdir: true });
  return r;
}

async function check(c: Ctx, deep: boolean, force: boolean): Promise<void> {
  const links = splitList(c.params.interfaces).map((i) => linkStatus(i, c.params.sysfs_net));
  const { value, reasons } = linkValue(links, await reach(c, deep), c.params.target_policy);
  const before = readPublished(statePath(c))?.attrs[c.params.attribute];
  try {
    const r = await publish(attrd(c), statePath(c), { [c.params.attribute]: String(value) }, { dampenSeconds: c.params.dampen, force });
    if (r.changed.length && before !== String(value)) {
      const msg = `${c.params.attribute}=${value}${before !== undefined ? ` (was ${before})` : ''}${reasons.length ? `: ${reasons.join('; ')}` : ''}`;
      if (value === 2) c.log.info(msg); else c.log.warn(msg);
    }
  } catch (e) {
    fail(OCF.ERR_GENERIC, (e as Error).message);
  }
}

export default defineAgent({
  name: 'linkmon',
  version,
  shortdesc: 'Link health (carrier, bonds, reachability) as a node attribute',
  longdesc: 'Run as a clone on both heads. Watches the carrier of the named interfaces (understanding active-backup bonds and VLANs over them) and, at check level 10, the reachability of IPv4/IPv6 targets by ICMP. Publishes a node attribute through attrd_updater: 2 = all links ok, 1 = degraded (a bond slave down, or some targets silent), 0 = the service network is down. A location rule on "attribute lt 1" moves the services off a head whose service network is down.',
  params,
  needsRoot: true,
  binaries: (ps) => (ps.targets ? ['attrd_updater', 'ping'] : ['attrd_updater']),
  timeouts: { start: 20, stop: 20, monitor: 20 },
  monitors: [{ depth: 0, interval: 10 }, { depth: 10, interval: 30, timeout: 30 }],

  async start(c) {
    await check(c, true, true);
  },

  async stop(c) {
    try {
      const gone = await unpublish(attrd(c), statePath(c), [c.params.attribute]);
      if (gone.length) c.log.info(`deleted node attribute ${gone.join(', ')}`);
    } catch (e) {
      // A monitoring clone whose stop fails gets its head fenced: far worse than a stale
      // attribute, which Pacemaker drops anyway when the node leaves.
      c.log.warn(`stop: ${(e as AttrdError).message}; the attribute may stay set`);
      try { unlinkSync(statePath(c)); } catch { /* gone */ }
    }
    try { unlinkSync(reachPath(c)); } catch { /* gone */ }
  },

  async monitor(c) {
    if (!readPublished(statePath(c))) return OCF.NOT_RUNNING;
    if (c.isProbe) return OCF.SUCCESS;
    await check(c, c.checkLevel >= 10, false);
    return OCF.SUCCESS;
  },
}).main();

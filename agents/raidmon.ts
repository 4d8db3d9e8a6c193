// ocf:ha-oscar:raidmon — md RAID (and optional SMART) health as node attributes (a clone).
// Publishes #health-ha-oscar-raid = green / yellow / red for Pacemaker's node-health-strategy
// (migrate-on-red: a failed array moves the services away, a degraded one only reports),
// plus ha-oscar-raid-<array> = "<status> <level> [n/m] [UU_] ..." per array for the SNMP subagent.
import { defineAgent, p, fail, OCF, splitList, checkAbsolutePath, type Context } from '../src/ocf/agent';
import { arraysHealth, parseMdadmDetail, smartHealth, worst, type MdadmDetail, type Health } from '../src/probe/mdstat';
import { RAID_ATTR_PREFIX, RAID_HEALTH_ATTR } from '../src/pacemaker/mdstat';
import { Attrd, ATTR_NAME, publish, unpublish, readPublished } from '../src/pacemaker/attrd';
import { run } from '../src/service/run';
import { which } from '../src/service/which';
import { readFileSync, existsSync, unlinkSync } from 'node:fs';
import { version } from '../package.json';

const MD = /^md[A-Za-z0-9_]{1,30}$/;
const listOf = (re: RegExp, what: string) => (s: string) => {
  const l = splitList(s);
  if (!l.length) return `must list at least one ${what}`;
  const bad = l.find((x) => !re.test(x));
  return bad === undefined ? undefined : `must list ${what}s, and ${JSON.stringify(bad.slice(0, 40))} is not one`;
};

const params = {
  arrays: p.string({
    check: listOf(MD, 'md array name (md0, md127)'),
    shortdesc: 'Arrays to watch (default: every array in mdstat)',
    longdesc: 'Space- or comma-separated md array names as in /proc/mdstat (md0 md1). A listed array that is absent from mdstat counts as failed. Unset: every array present.',
  }),
  mdstat: p.string({ default: '/proc/mdstat', check: checkAbsolutePath, shortdesc: 'Where the md state is read (default /proc/mdstat; a recorded file for tests)' }),
  mdadm_detail: p.boolean({ default: true, shortdesc: 'Also ask mdadm --detail about arrays whose /dev/mdX exists (its "FAILED" is authoritative)' }),
  smart_devices: p.string({
    check: listOf(/^\/dev\/[A-Za-z0-9_\/.:-]{1,100}$/, '/dev path'),
    shortdesc: 'Disks to check with smartctl -H (optional)',
    longdesc: 'Space- or comma-separated device paths (/dev/sda /dev/nvme0). A disk SMART reports as failing makes the health yellow; sleeping disks are not woken up.',
  }),
  attribute: p.string({ default: RAID_HEALTH_ATTR, pattern: ATTR_NAME, patternHint: 'a node attribute name', shortdesc: 'Node-health attribute (#health-*) to publish' }),
  dampen: p.integer({ default: 5, min: 0, max: 3600, shortdesc: 'Seconds attrd waits before writing a change' }),
};
type Ctx = Context<typeof params>;

const statePath = (c: Ctx) => `/run/ha-oscar/raidmon-${c.instanceId}.state`;
const attrd = (c: Ctx) => new Attrd({ bin: c.bin('attrd_updater'), timeoutMs: Math.max(1000, Math.min(10_000, c.remaining() / 4)) });

function readMdstatText(c: Ctx): string | undefined {
  try { return readFileSync(c.params.mdstat, 'utf8'); } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined; // no md driver loaded: no arrays
    fail(OCF.ERR_GENERIC, `cannot read ${c.params.mdstat}: ${code ?? String(e)}`);
  }
}

async function details(c: Ctx, names: string[]): Promise<Record<string, MdadmDetail>> {
  const out: Record<string, MdadmDetail> = {};
  const mdadm = c.params.mdadm_detail ? which('mdadm', c.env) : undefined;
  if (!mdadm) return out;
  await Promise.all(names.filter((n) => existsSync(`/dev/${n}`)).map(async (n) => {
    const r = await run(mdadm, ['--detail', `/dev/${n}`], { timeoutMs: Math.max(1000, Math.min(10_000, c.remaining() / 4)), cleanEnv: true, env: { LC_ALL: 'C' } });
    const d = r.code === 0 ? parseMdadmDetail(r.stdout) : undefined;
    if (d) out[n] = d; else c.log.debug(`mdadm --detail /dev/${n}: exit ${r.code}`);
  }));
  return out;
}

async function check(c: Ctx, force: boolean): Promise<void> {
  const text = readMdstatText(c);
  const declared = splitList(c.params.arrays);
  const names = declared.length ? declared : arraysHealth(text, []).map((a) => a.name);
  const arrays = arraysHealth(text, names, await details(c, names));
  const smart = await Promise.all(splitList(c.params.smart_devices).map((d) => smartHealth(d, { smartctl: c.bin('smartctl'), timeoutMs: Math.max(1000, Math.min(15_000, c.remaining() / 3)) })));
  const health: Health = worst([...arrays.map((a) => a.health), ...smart.map((s) => s.health)]);
  const reasons = [...arrays.filter((a) => a.health !== 'green').map((a) => `${a.name} ${a.value}`), ...smart.filter((s) => s.reason).map((s) => s.reason)];

  const want: Record<string, string> = { [c.params.attribute]: health };
  for (const a of arrays) want[`${RAID_ATTR_PREFIX}${a.name}`] = a.value;
  const before = readPublished(statePath(c))?.attrs;
  try {
    const r = await publish(attrd(c), statePath(c), want, { dampenSeconds: c.params.dampen, force });
    const changed = r.changed.filter((n) => before?.[n] !== want[n]);
    if (changed.length || r.removed.length) {
      const msg = `${c.params.attribute}=${health}${reasons.length ? `: ${reasons.join('; ')}` : ''} (${arrays.length ? arrays.map((a) => `${a.name}: ${a.value}`).join(', ') : 'no md arrays'})`;
      if (health === 'green') c.log.info(msg); else if (health === 'yellow') c.log.warn(msg); else c.log.err(msg);
    }
  } catch (e) {
    fail(OCF.ERR_GENERIC, (e as Error).message);
  }
}

export default defineAgent({
  name: 'raidmon',
  version,
  shortdesc: 'md RAID and SMART health as node-health attributes',
  longdesc: 'Run as a clone on both heads, with node-health-strategy=migrate-on-red. Reads /proc/mdstat (or a given file) and mdadm --detail, optionally smartctl -H, and publishes #health-ha-oscar-raid = green (all arrays clean, or resyncing/checking), yellow (an array degraded or rebuilding, or a disk SMART calls failing: reported, services stay) or red (an array failed, inactive or missing: services leave), plus ha-oscar-raid-<array> per array.',
  params,
  needsRoot: true,
  binaries: (ps) => (ps.smart_devices ? ['attrd_updater', 'smartctl'] : ['attrd_updater']),
  timeouts: { start: 30, stop: 20, monitor: 30 },
  monitors: [{ depth: 0, interval: 30 }],

  async start(c) {
    await check(c, true);
  },

  async stop(c) {
    const extra = Object.keys(readPublished(statePath(c))?.attrs ?? {});
    try {
      const gone = await unpublish(attrd(c), statePath(c), [c.params.attribute, ...extra]);
      if (gone.length) c.log.info(`deleted node attributes ${gone.join(', ')}`);
    } catch (e) {
      // never fail a monitoring clone's stop (that fences the head); attrd drops them when the node leaves
      c.log.warn(`stop: ${(e as Error).message}; attributes may stay set`);
      try { unlinkSync(statePath(c)); } catch { /* gone */ }
    }
  },

  async monitor(c) {
    if (!readPublished(statePath(c))) return OCF.NOT_RUNNING;
    if (c.isProbe) return OCF.SUCCESS;
    await check(c, false);
    return OCF.SUCCESS;
  },
}).main();

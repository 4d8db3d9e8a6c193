// `ha-oscar config apply`, offline against a CIB file (CIB_file): it writes
// through crmsh, and applying the same description twice leaves the CIB - and
// its epoch - exactly as it was.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describeWith } from '../helpers/prereq';
import { runOk } from '../../src/service/run';
import { writeFileAtomic } from '../../src/service/atomic';
import { parseDescription, buildConfig, applyConfig, compare, renderConfiguration, renderFullCib } from '../../src/crm/index';
import { cibVersion } from '../../src/pacemaker/cib';
import { main } from '../../src/cli/config';

const root = join(__dirname, '..', '..');
const labText = readFileSync(join(root, 'examples', 'active-standby-pdu.yaml'), 'utf8');
const epochOf = (file: string) => cibVersion(readFileSync(file, 'utf8')).epoch;

let tmp = '';
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'dv4-apply-')); });
afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

describe('compare (what apply would change)', () => {
  const cfg = buildConfig(parseDescription(labText));
  it('a CIB made from the same configuration has no difference, whatever else it holds', async () => {
    const live = renderFullCib(cfg)
      .replace('<cluster_property_set id="cib-bootstrap-options">', '<cluster_property_set id="cib-bootstrap-options"><nvpair id="x-dc" name="dc-version" value="2.1.5"/>')
      .replace('<resources>', '<resources><primitive id="someone-elses" class="ocf" provider="heartbeat" type="Dummy"/>');
    expect(await compare(renderConfiguration(cfg), live)).toEqual([]);
  });
  it('names what is missing or different', async () => {
    const live = renderFullCib(cfg)
      .replace('name="resource-stickiness" value="100"', 'name="resource-stickiness" value="0"')
      .replace(/<rsc_location id="ban-fence-head2"[^>]*\/>/, '')
      .replace('value="192.0.2.100"', 'value="192.0.2.99"');
    expect(await compare(renderConfiguration(cfg), live)).toEqual([
      { what: 'primitive vip-oscar-ipv4', why: 'different' },
      { what: 'rsc_location ban-fence-head2', why: 'missing' },
      { what: 'rsc_defaults resource-stickiness', why: 'different' },
    ]);
  });
});

describeWith({ bins: ['crm', 'cibadmin', 'crm_verify'], packages: ['crmsh', 'pacemaker-cli-utils'] }, 'apply against a CIB file', () => {
  it('applies, then applying again changes nothing and the epoch does not move', async () => {
    const cib = join(tmp, 'cib.xml');
    writeFileAtomic(cib, (await runOk('cibadmin', ['--empty'])).stdout);
    const cfg = buildConfig(parseDescription(labText));

    const first = await applyConfig(cfg, { cibFile: cib, force: true });
    expect(first.changed).toBe(true);
    expect(first.epochAfter).toBeGreaterThan(first.epochBefore);
    expect(epochOf(cib)).toBe(first.epochAfter);
    const bytes = readFileSync(cib, 'utf8');

    const second = await applyConfig(cfg, { cibFile: cib, force: true });
    expect(second).toEqual({ changed: false, epochBefore: first.epochAfter, epochAfter: first.epochAfter, differences: [] });
    expect(readFileSync(cib, 'utf8')).toBe(bytes);

    // a changed description changes exactly what changed
    const d = parse(labText);
    d.timings.stickiness = 150;
    d.services.tftp.blocksize_max = 1468;
    const third = await applyConfig(buildConfig(parseDescription(stringify(d))), { cibFile: cib, force: true });
    expect(third.changed).toBe(true);
    expect(third.differences).toEqual([
      { what: 'primitive tftpd', why: 'different' },
      { what: 'rsc_defaults resource-stickiness', why: 'different' },
    ]);
    expect(third.epochAfter).toBeGreaterThan(third.epochBefore);
    const xml = readFileSync(cib, 'utf8');
    expect(xml).toMatch(/name="resource-stickiness" value="150"/);
    expect(xml).toMatch(/name="blocksize_max" value="1468"/);
  }, 180_000);

  it('through the CLI: twice, same epoch; --dry-run writes nothing', async () => {
    const cib = join(tmp, 'cli-cib.xml');
    writeFileAtomic(cib, (await runOk('cibadmin', ['--empty'])).stdout);
    const file = join(root, 'examples', 'active-active.yaml');
    const out: string[] = [];
    const log = console.log;
    console.log = (...a: unknown[]) => { out.push(a.join(' ')); };
    try {
      expect(await main(['apply', file, '--dry-run', '--cib-file', cib, '--force'])).toBe(0);
      expect(epochOf(cib)).toBe(1);
      expect(await main(['apply', file, '--cib-file', cib, '--force'])).toBe(0);
      const e = epochOf(cib);
      expect(e).toBeGreaterThan(1);
      expect(await main(['apply', file, '--cib-file', cib, '--force'])).toBe(0);
      expect(epochOf(cib)).toBe(e);
    } finally {
      console.log = log;
    }
    expect(out[0]).toMatch(/^dry run: would change primitive vip-boot-ipv4 \(missing\), /);
    expect(out[1]).toMatch(/^applied .*active-active\.yaml \(crmsh: \d+ added, 0 changed, 0 removed: primitive vip-boot-ipv4, .*, and \d+ more\): \d+ object\(s\) changed, epoch 1 -> \d+$/);
    expect(out[2]).toBe(`unchanged: the CIB already matches ${file} (crmsh: nothing to write, epoch ${epochOf(cib)})`);
  }, 180_000);

  it('without --force, agents that crmsh cannot find stop the apply, in one line, with the way out', async () => {
    const cib = join(tmp, 'noforce.xml');
    writeFileAtomic(cib, (await runOk('cibadmin', ['--empty'])).stdout);
    const before = readFileSync(cib, 'utf8');
    const cfg = buildConfig(parseDescription(labText));
    const agents = [...new Set(cfg.primitives.concat(cfg.clones.map((c) => c.child)).map((p) => p.agent).filter((a) => a.startsWith('ocf:ha-oscar:')))];
    if (agents.every((a) => existsSync(`/usr/lib/ocf/resource.d/ha-oscar/${a.split(':')[2]}`))) return; // all installed: nothing to refuse
    await expect(applyConfig(cfg, { cibFile: cib })).rejects.toThrow(/^crm configure load update: ERROR: ocf:ha-oscar:\w+: no such resource agent \(install the ha-oscar agents on this head first, or pass --force to load anyway\)$/);
    expect(readFileSync(cib, 'utf8')).toBe(before);
  }, 180_000);

  it('refuses a CIB file that is not there, in one line', async () => {
    const err: string[] = [];
    const e0 = console.error;
    console.error = (...a: unknown[]) => { err.push(a.join(' ')); };
    try {
      expect(await main(['apply', join(root, 'examples', 'active-standby-pdu.yaml'), '--cib-file', join(tmp, 'nope.xml'), '--force'])).toBe(1);
    } finally {
      console.error = e0;
    }
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/^ha-oscar config apply: cibadmin: exit \d+/);
  });
});

// ocf:ha-oscar:raidmon: md states from recorded /proc/mdstat and mdadm --detail fixtures,
// SMART exit bits, and the built agent publishing #health-ha-oscar-raid + ha-oscar-raid-<md>.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from '../helpers/sync';
import { mkdirSync, writeFileSync, readFileSync, rmSync, chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { arraysHealth, mdstatProgress, parseMdadmDetail, smartHealth, worst } from '../../src/probe/mdstat';
import { raidFromAttributes } from '../../src/pacemaker/mdstat';
import type { RunResult } from '../../src/service/run';
import { distOcf, root, tempDir } from '../helpers/agents';
import { describeWith } from '../helpers/prereq';

const fx = (n: string) => readFileSync(join(root, 'test/fixtures/mdstat', n), 'utf8');
const ok = (r: Partial<RunResult> = {}): RunResult => ({ code: 0, stdout: '', stderr: '', timedOut: false, ...r });

function fakeAttrd(dir: string) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'attrd_updater'), `#!/usr/bin/env node
const fs = require('fs'), path = require('path');
const a = process.argv.slice(2), db = path.join(__dirname, 'attrd.json');
fs.appendFileSync(path.join(__dirname, 'calls.log'), JSON.stringify(a) + '\\n');
if (fs.existsSync(path.join(__dirname, 'down'))) { console.error('attrd_updater: Could not connect to attrd: Connection refused'); process.exit(102); }
let s = {}; try { s = JSON.parse(fs.readFileSync(db, 'utf8')); } catch {}
const n = a[a.indexOf('-n') + 1];
if (a.includes('-U')) s[n] = a[a.indexOf('-U') + 1]; else if (a.includes('-D')) delete s[n];
fs.writeFileSync(db, JSON.stringify(s));
`);
  chmodSync(join(dir, 'attrd_updater'), 0o755);
  return {
    db: () => { try { return JSON.parse(readFileSync(join(dir, 'attrd.json'), 'utf8')) as Record<string, string>; } catch { return {}; } },
    calls: () => { try { return readFileSync(join(dir, 'calls.log'), 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]); } catch { return []; } },
  };
}

describe('md array health from recorded mdstat', () => {
  const h = (f: string, names: string[] = []) => arraysHealth(fx(f), names).map((a) => [a.name, a.health, a.value]);
  it('clean: both arrays green', () => {
    expect(h('clean.txt')).toEqual([['md0', 'green', 'clean raid1 [2/2] [UU]'], ['md1', 'green', 'clean raid5 [3/3] [UUU]']]);
  });
  it('degraded: a raid1 with a faulty member is yellow, not red', () => {
    expect(h('degraded.txt')).toEqual([['md0', 'yellow', 'degraded raid1 [2/1] [U_]'], ['md1', 'green', 'clean raid5 [3/3] [UUU]']]);
  });
  it('recovering: yellow with the rebuild progress', () => {
    expect(h('recovering.txt', ['md0'])).toEqual([['md0', 'yellow', 'recovering raid1 [2/1] [U_] recovery 17.4%']]);
  });
  it('resync and check (all members present) stay green; a delayed resync is shown', () => {
    expect(h('resync.txt')).toEqual([['md0', 'green', 'resyncing raid1 [2/2] [UU] resync 44.9%'], ['md1', 'green', 'resyncing raid5 [3/3] [UUU] resync DELAYED']]);
    expect(h('check.txt')).toEqual([['md0', 'green', 'checking raid1 [2/2] [UU] check 8.3%']]);
  });
  it('failed: a raid5 with two members gone is red', () => {
    expect(h('failed.txt')).toEqual([['md0', 'yellow', 'degraded raid1 [2/1] [U_]'], ['md1', 'red', 'failed raid5 [3/1] [U__]']]);
    expect(worst(arraysHealth(fx('failed.txt'), []).map((a) => a.health))).toBe('red');
  });
  it('inactive, and a declared array missing from mdstat (or no mdstat at all), are red', () => {
    expect(h('inactive.txt')).toEqual([['md0', 'green', 'clean raid1 [2/2] [UU]'], ['md127', 'red', 'inactive']]);
    expect(h('none.txt', ['md0'])).toEqual([['md0', 'red', 'failed: not in mdstat']]);
    expect(arraysHealth(undefined, ['md0'])[0]!.health).toBe('red');
    expect(arraysHealth(undefined, [])).toEqual([]);
    expect(h('none.txt')).toEqual([]);
  });
  it('the published per-array values read back right on the SNMP side (raidFromAttributes)', () => {
    const attrs: Record<string, string> = {};
    for (const f of ['degraded.txt', 'failed.txt']) for (const a of arraysHealth(fx(f), [])) attrs[`ha-oscar-raid-${f}-${a.name}`] = a.value;
    for (const a of arraysHealth(fx('clean.txt'), [])) attrs[`ha-oscar-raid-clean-${a.name}`] = a.value;
    const seen = Object.fromEntries(raidFromAttributes(attrs).map((r) => [r.name, r.degraded]));
    expect(seen).toEqual({
      'clean-md0': false, 'clean-md1': false, 'degraded.txt-md0': true, 'degraded.txt-md1': false, 'failed.txt-md0': true, 'failed.txt-md1': true,
    });
  });
  it('progress per array', () => {
    expect(mdstatProgress(fx('recovering.txt'))).toEqual({ md0: '17.4%' });
  });
});

describe('mdadm --detail', () => {
  it('reads State and Failed Devices; FAILED overrides mdstat, degraded is kept', () => {
    expect(parseMdadmDetail(fx('mdadm-detail-failed.txt'))).toEqual({ state: 'clean, FAILED', failedDevices: 2 });
    expect(parseMdadmDetail(fx('mdadm-detail-degraded.txt'))).toEqual({ state: 'clean, degraded', failedDevices: 1 });
    expect(parseMdadmDetail('garbage')).toBeUndefined();
    const clean = fx('clean.txt');
    expect(arraysHealth(clean, ['md1'], { md1: parseMdadmDetail(fx('mdadm-detail-failed.txt'))! })[0]!.health).toBe('red');
    expect(arraysHealth(clean, ['md0'], { md0: parseMdadmDetail(fx('mdadm-detail-degraded.txt'))! })[0]!.value).toBe('degraded raid1 [2/2] [UU]');
    expect(arraysHealth(clean, ['md0'], { md0: parseMdadmDetail(fx('mdadm-detail-clean.txt'))! })[0]!.health).toBe('green');
  });
});

describe('smartctl -H exit bits (injected runner)', () => {
  const with_ = (code: number, extra: Partial<RunResult> = {}) => smartHealth('/dev/sda', { runner: async (cmd, args) => { expect([cmd, ...args]).toEqual(['smartctl', '-H', '-n', 'standby,0', '/dev/sda']); return ok({ code, ...extra }); } });
  it('0 green; bit 3 (failing) and bit 4 (prefail attribute) yellow; open/command failures reported but green', async () => {
    expect(await with_(0)).toEqual({ device: '/dev/sda', health: 'green', reason: '' });
    expect((await with_(8 | 64)).health).toBe('yellow');
    expect((await with_(16)).reason).toMatch(/pre-failure/);
    const r = await with_(2, { stdout: 'Smartctl open device: /dev/sda failed: No such device' });
    expect(r).toEqual({ device: '/dev/sda', health: 'green', reason: '/dev/sda: SMART status unavailable (smartctl exit 2): Smartctl open device: /dev/sda failed: No such device' });
    expect((await with_(32)).health).toBe('green'); // past threshold crossings only: informative
  });
});

// ---- the built agent with recorded mdstat ------------------------------------------------

const agent = join(distOcf, 'raidmon');
const tag = `${process.pid % 100000}`;
let dir: string;
let fake: ReturnType<typeof fakeAttrd>;
const mdstat = () => join(dir, 'mdstat');
const setState = (f: string) => copyFileSync(join(root, 'test/fixtures/mdstat', f), mdstat());

function runA(action: string, params: Record<string, string>, extra: Record<string, string> = {}) {
  const env: Record<string, string> = {
    PATH: `${dir}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
    OCF_ROOT: '/usr/lib/ocf', OCF_RESOURCE_INSTANCE: `dv10-raidmon-${tag}`, OCF_RESKEY_CRM_meta_timeout: '20000', OCF_RESKEY_CRM_meta_interval: '30000', ...extra,
  };
  for (const [k, v] of Object.entries(params)) env[`OCF_RESKEY_${k}`] = v;
  const r = spawnSync(agent, [action], { env, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stderr: r.stderr ?? '' };
}

describeWith({ bins: ['ocf-tester', 'xmllint'], root: true, packages: ['resource-agents', 'libxml2-utils'] }, 'ocf:ha-oscar:raidmon with recorded mdstat', () => {
  beforeAll(() => { dir = tempDir('dv10-raidmon'); fake = fakeAttrd(join(dir, 'bin')); setState('clean.txt'); });
  afterAll(() => { runA('stop', { mdstat: mdstat() }); rmSync(dir, { recursive: true, force: true }); });

  it('passes ocf-tester (mdstat fixture, fake attrd_updater on PATH)', () => {
    const r = spawnSync('ocf-tester', ['-n', `dv10-raidmon-ocft-${tag}`, '-o', `mdstat=${join(root, 'test/fixtures/mdstat/clean.txt')}`, agent],
      { encoding: 'utf8', timeout: 180_000, env: { ...process.env, PATH: `${dir}/bin:${process.env.PATH}` } });
    expect(r.stdout + r.stderr).toContain('passed all tests');
    expect(r.status).toBe(0);
  }, 200_000); // ocf-tester runs ~20 actions: 20-80 s on a loaded box (the spawnSync allows 180 s)

  it('clean -> degraded -> recovering -> clean -> failed: health and per-array attributes follow, written only on change', () => {
    const p = { mdstat: mdstat(), arrays: 'md0 md1', dampen: '0' };
    const n0 = fake.calls().length;
    expect(runA('monitor', p).code).toBe(7);
    expect(runA('start', p).code).toBe(0);
    expect(fake.db()).toMatchObject({ '#health-ha-oscar-raid': 'green', 'ha-oscar-raid-md0': 'clean raid1 [2/2] [UU]', 'ha-oscar-raid-md1': 'clean raid5 [3/3] [UUU]' });
    expect(fake.calls().length - n0).toBe(3);
    expect(runA('monitor', p).code).toBe(0);
    expect(fake.calls().length - n0).toBe(3); // nothing changed, nothing written
    setState('degraded.txt');
    const d = runA('monitor', p);
    expect(d.code).toBe(0); // a sick disk is reported through the attribute; the monitor does not fail
    expect(d.stderr).toMatch(/WARNING: #health-ha-oscar-raid=yellow: md0 degraded raid1 \[2\/1\] \[U_\]/);
    expect(fake.db()).toMatchObject({ '#health-ha-oscar-raid': 'yellow', 'ha-oscar-raid-md0': 'degraded raid1 [2/1] [U_]' });
    expect(fake.calls().length - n0).toBe(5); // health + md0
    setState('recovering.txt');
    expect(runA('monitor', p).code).toBe(0);
    expect(fake.db()).toMatchObject({ '#health-ha-oscar-raid': 'yellow', 'ha-oscar-raid-md0': 'recovering raid1 [2/1] [U_] recovery 17.4%' });
    expect(fake.calls().length - n0).toBe(6);
    setState('clean.txt');
    expect(runA('monitor', p).code).toBe(0);
    expect(fake.db()['#health-ha-oscar-raid']).toBe('green');
    setState('failed.txt');
    const f = runA('monitor', p);
    expect(f.stderr).toMatch(/ERROR: #health-ha-oscar-raid=red: .*md1 failed raid5 \[3\/1\] \[U__\]/);
    expect(fake.db()).toMatchObject({ '#health-ha-oscar-raid': 'red', 'ha-oscar-raid-md1': 'failed raid5 [3/1] [U__]' });
    expect(runA('stop', p).code).toBe(0);
    expect(fake.db()).toEqual({});
    expect(runA('monitor', p).code).toBe(7);
  });

  it('without declared arrays it watches what mdstat shows; a vanished md driver (no mdstat file) with a declared array is red', () => {
    setState('inactive.txt');
    expect(runA('start', { mdstat: mdstat(), dampen: '0' }).code).toBe(0);
    expect(fake.db()).toMatchObject({ '#health-ha-oscar-raid': 'red', 'ha-oscar-raid-md127': 'inactive', 'ha-oscar-raid-md0': 'clean raid1 [2/2] [UU]' });
    expect(runA('stop', { mdstat: mdstat() }).code).toBe(0);
    expect(runA('start', { mdstat: join(dir, 'no-such-mdstat'), arrays: 'md0', dampen: '0' }).code).toBe(0);
    expect(fake.db()).toEqual({ '#health-ha-oscar-raid': 'red', 'ha-oscar-raid-md0': 'failed: not in mdstat' });
    expect(runA('stop', { mdstat: mdstat() }).code).toBe(0);
  });

  it('bad input: an array name with a slash, a relative mdstat path: 6 with one reason, nothing read', () => {
    const r = runA('validate-all', { arrays: 'md0 ../x' });
    expect(r.code).toBe(6);
    expect(r.stderr).toMatch(/ocf-exit-reason:parameter 'arrays' must list md array name \(md0, md127\)s, and "\.\.\/x" is not one/);
    expect(runA('validate-all', { mdstat: 'proc/mdstat' }).code).toBe(6);
  });
});

// `ha-oscar config apply --tool cibadmin` (src/crm/apply.ts), offline against CIB files
// (CIB_file): the merge into a CIB that holds an admin's own objects, the same result as
// the crmsh path, idempotence, removal of what ha-oscar created and the description
// dropped (the ha-oscar-managed tag), and the automatic choice of cibadmin without crmsh.
// The crmsh path keeps the same marker and removes the same way (issue 22), and a second
// apply by the other tool writes nothing, either way round.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, rmSync, symlinkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describeWith, which } from '../helpers/prereq';
import { spawnSync } from '../helpers/sync';
import { root, tempDir } from '../helpers/agents';
import { bundleEntry } from '../helpers/build';
import { writeFileAtomic } from '../../src/service/atomic';
import { runOk } from '../../src/service/run';
import { parseDescription, buildConfig, applyConfig, compare, renderFullCib, MARKER_TAG } from '../../src/crm/index';
import { CibChangedError, cibVersion, patchCib, patchRefused, patchWithRetry, verifyCib } from '../../src/pacemaker/cib';
import { main } from '../../src/cli/config';

const example = join(root, 'examples', 'lab-active-active.yaml');
const text = readFileSync(example, 'utf8');
const cfg = buildConfig(parseDescription(text));
const ADMIN_RSC = '<primitive id="admin-dummy" class="ocf" provider="heartbeat" type="Dummy"/>';

/** The description without the NFS service (resource nfsserver, in the set `data`). */
function withoutNfs(): string {
  const d = parse(text);
  for (const s of d.sets) s.services = s.services.filter((x: string) => x !== 'nfs');
  delete d.services.nfs;
  return stringify(d);
}

const read = (f: string) => readFileSync(f, 'utf8');
const epochOf = (f: string) => cibVersion(read(f)).epoch;
const configurationOf = (xml: string) => /<configuration>[^]*<\/configuration>/.exec(xml)![0];
const markerRefs = (xml: string) => [...(/<tag id="ha-oscar-managed">([^]*?)<\/tag>/.exec(xml)?.[1] ?? '').matchAll(/<obj_ref id="([^"]+)"/g)].map((m) => m[1]);

/** crm_verify on the configuration of a CIB file, with two online heads as status (a CIB file has none). */
async function verifyFile(f: string) {
  return verifyCib(renderFullCib(cfg).replace(/<configuration>[^]*<\/configuration>/, () => configurationOf(read(f))));
}

let tmp = '';
/** An empty CIB with an admin's own primitive and cluster property. */
async function adminCib(name: string): Promise<string> {
  const f = join(tmp, name);
  writeFileAtomic(f, (await runOk('cibadmin', ['--empty'], { timeoutMs: 30_000 })).stdout);
  await runOk('cibadmin', ['--create', '--scope', 'resources', '--xml-text', ADMIN_RSC], { env: { CIB_file: f }, timeoutMs: 30_000 });
  await runOk('crm_attribute', ['--type', 'crm_config', '--name', 'admin-prop', '--update', '42'], { env: { CIB_file: f }, timeoutMs: 30_000 });
  return f;
}

async function cli(...argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = []; const err: string[] = [];
  const log = console.log; const error = console.error;
  console.log = (...a: unknown[]) => { out.push(a.join(' ')); };
  console.error = (...a: unknown[]) => { err.push(a.join(' ')); };
  try {
    return { code: await main(argv), out, err };
  } finally {
    console.log = log; console.error = error;
  }
}

beforeAll(() => { tmp = tempDir('apply-cibadmin'); });
afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

describe('--tool', () => {
  it('refuses an unknown tool in one clear line, exit 2', async () => {
    const r = await cli('apply', example, '--tool', 'pcs');
    expect(r.code).toBe(2);
    expect(r.err[0].split('\n')[0]).toBe("ha-oscar config: --tool must be crmsh or cibadmin, not 'pcs'");
    expect(r.err.join('\n')).not.toMatch(/\n\s+at /);
  });
});

describeWith({ bins: ['cibadmin', 'crm_verify', 'crm_diff', 'crm_attribute', 'crm'], packages: ['pacemaker-cli-utils', 'crmsh'] }, 'apply --tool cibadmin against CIB files', () => {
  let viaCibadmin = '';
  let viaCrmsh = '';
  let afterFirst = '';

  it('merges into a CIB with an admin\'s primitive and property: ours added and marked, theirs untouched, crm_verify clean, same as crmsh', async () => {
    viaCibadmin = await adminCib('cibadmin.xml');
    viaCrmsh = await adminCib('crmsh.xml');
    const r = await applyConfig(cfg, { cibFile: viaCibadmin, tool: 'cibadmin' });
    expect(r.changed).toBe(true);
    expect(r.epochAfter).toBeGreaterThan(r.epochBefore);
    expect(r.differences.filter((d) => d.why === 'removed')).toEqual([]);
    expect(r.differences).toContainEqual({ what: `tag ${MARKER_TAG}`, why: 'missing' });
    const xml = read(viaCibadmin);
    // the admin's objects, as they were
    expect(xml).toContain(ADMIN_RSC);
    expect(xml).toMatch(/<nvpair id="cib-bootstrap-options-admin-prop" name="admin-prop" value="42"\/>/);
    expect(markerRefs(xml)).not.toContain('admin-dummy');
    // everything the description generates, and the marker lists exactly ha-oscar's objects
    expect(await compare(configurationOf(renderFullCib(cfg)), xml)).toEqual([]);
    expect(markerRefs(xml)).toEqual(expect.arrayContaining(['vip-boot-ipv4', 'nfsserver', 'col-boot', 'ord-data', 'fencing', 'fencing-0']));
    expect((await verifyFile(viaCibadmin)).problems.filter((p) => !/unclean|lack of quorum|Warnings found/.test(p))).toEqual([]);
    expect((await verifyFile(viaCibadmin)).ok).toBe(true);

    // the crmsh path on the same starting CIB gives the same configuration (both ways round)
    await applyConfig(cfg, { cibFile: viaCrmsh, tool: 'crmsh', force: true });
    const crm = read(viaCrmsh);
    expect(await compare(configurationOf(crm), xml)).toEqual([]);
    expect(await compare(configurationOf(xml), crm)).toEqual([]);
    afterFirst = xml;
  }, 60_000);

  // A live cluster writes status all the time (monitor results, node attributes): each moves the
  // CIB's num_updates, and cibadmin refuses a patch made from the older version (seen in the lab:
  // "Update was older than existing configuration" while the cluster recorded a probe).
  it('a status update between the read and the write: the same plan again against the new version, written once; the status stays', async () => {
    const f = await adminCib('status-race.xml');
    const attempts: number[] = [];
    const r = await applyConfig(cfg, {
      cibFile: f, tool: 'cibadmin',
      beforeWrite: async (n) => {
        attempts.push(n);
        if (n === 1) await runOk('cibadmin', ['--create', '--scope', 'status', '--xml-text', '<node_state id="1" uname="head1"/>'], { env: { CIB_file: f }, timeoutMs: 30_000 });
      },
    });
    expect(attempts).toEqual([1, 2]);
    expect(r.changed).toBe(true);
    const xml = read(f);
    expect(await compare(configurationOf(renderFullCib(cfg)), xml)).toEqual([]);
    expect(xml).toContain(ADMIN_RSC);
    expect(xml).toMatch(/<node_state id="1" uname="head1"/);
  }, 60_000);

  it('a configuration change between the read and the write: refused in one line, the admin\'s change kept, nothing of ours written', async () => {
    const f = await adminCib('config-race.xml');
    const err = await applyConfig(cfg, {
      cibFile: f, tool: 'cibadmin',
      beforeWrite: async () => { await runOk('crm_attribute', ['--type', 'crm_config', '--name', 'admin-prop', '--update', '43'], { env: { CIB_file: f }, timeoutMs: 30_000 }); },
    }).then(() => undefined, (e: Error) => e);
    expect(err?.message).toMatch(/^cibadmin --patch: the configuration changed while apply ran \(epoch \d+\.\d+ -> \d+\.\d+\); run apply again$/);
    const xml = read(f);
    expect(xml).toMatch(/name="admin-prop" value="43"/);
    expect(xml).not.toContain(MARKER_TAG);
  }, 60_000);

  // The same loop without keepEpoch: the lab's switch to the bare resource-agents peer
  // (src/lab/peer.ts) replaces its objects whatever else changed meanwhile.
  it('patchWithRetry without keepEpoch: a configuration change in between is read again and kept, ours written on the second try', async () => {
    const f = await adminCib('loop-config-race.xml');
    const io = { env: { CIB_file: f }, timeoutMs: 30_000 };
    const readNoStatus = async () => (await runOk('cibadmin', ['--query'], io)).stdout;
    // one epoch on, as mergeConfiguration and the peer's spliceCib do (a patch whose target is not newer is refused)
    const bump = (c: string) => c.replace(/(<cib\b[^>]*\sepoch=")(\d+)"/, (_m, a: string, e: string) => `${a}${Number(e) + 1}"`);
    const edit = async (cib: string) => ({ original: cib, merged: bump(cib).replace('<resources>', '<resources><primitive id="ours" class="ocf" provider="heartbeat" type="Dummy"/>') });
    const cib = await readNoStatus();
    const writes: number[] = [];
    const written = await patchWithRetry({
      read: readNoStatus, edit, first: await edit(cib), firstCib: cib,
      write: (patch) => patchCib(patch, { cibFile: f }),
      beforeWrite: async (n) => {
        writes.push(n);
        if (n === 1) await runOk('crm_attribute', ['--type', 'crm_config', '--name', 'admin-prop', '--update', '44'], io);
      },
    });
    expect(written).toBe(true);
    expect(writes).toEqual([1, 2]);
    expect(read(f)).toMatch(/name="admin-prop" value="44"/);
    expect(read(f)).toContain('<primitive id="ours"');
  }, 60_000);

  it('patchWithRetry: a stale patch every time gives up after `tries` writes; any other failure at once', async () => {
    const f = await adminCib('loop-give-up.xml');
    const cib = read(f);
    const edit = async (c: string) => ({ original: c, merged: c.replace('value="42"', 'value="45"') });
    let n = 0;
    const stale = await patchWithRetry({
      read: async () => read(f), edit, first: await edit(cib), firstCib: cib, tries: 3,
      write: async () => { n++; throw new CibChangedError(`stale ${n}`); },
    }).then(() => undefined, (e: Error) => e.message);
    expect([stale, n]).toEqual(['stale 3', 3]);
    n = 0;
    const other = await patchWithRetry({
      read: async () => read(f), edit, first: await edit(cib), firstCib: cib,
      write: async () => { n++; throw new Error('cibadmin --patch: Permission denied'); },
    }).then(() => undefined, (e: Error) => e.message);
    expect([other, n]).toEqual(['cibadmin --patch: Permission denied', 1]);
    expect(patchRefused('Update was older than existing configuration')).toBe(true);
    expect(patchRefused('Call cib_apply_diff failed (-206): Application of an update diff failed')).toBe(true);
    expect(patchRefused('Permission denied')).toBe(false);
  }, 60_000);

  it('applied again: nothing written, the file and its epoch stay', async () => {
    const before = read(viaCibadmin);
    const r = await applyConfig(cfg, { cibFile: viaCibadmin, tool: 'cibadmin' });
    expect(r).toEqual({ changed: false, epochBefore: epochOf(viaCibadmin), epochAfter: epochOf(viaCibadmin), differences: [] });
    expect(read(viaCibadmin)).toBe(before);
    expect(before).toBe(afterFirst);
  }, 30_000);

  it('a dropped service: its resource, its place in the set constraints and its marker ref go; the admin\'s primitive stays; one summary line', async () => {
    const file = join(tmp, 'without-nfs.yaml');
    writeFileAtomic(file, withoutNfs());
    const r = await cli('apply', file, '--tool', 'cibadmin', '--cib-file', viaCibadmin);
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/^applied .*without-nfs\.yaml \(cibadmin: \d+ added, \d+ changed, \d+ removed: .*\): \d+ object\(s\) changed, epoch \d+ -> \d+$/);
    expect(r.out[0]).toMatch(/\(cibadmin: 0 added, 3 changed, 1 removed: rsc_colocation col-data, rsc_order ord-data, primitive nfsserver, tag ha-oscar-managed\)/);
    const xml = read(viaCibadmin);
    expect(xml).not.toMatch(/id="nfsserver"/);
    expect(markerRefs(xml)).not.toContain('nfsserver');
    expect(markerRefs(xml)).toContain('col-data');
    expect(xml).toContain(ADMIN_RSC);
    expect(xml).toMatch(/name="admin-prop" value="42"/);
    expect(markerRefs(xml)).toEqual(expect.arrayContaining(['vip-boot-ipv4', 'col-boot']));
    expect(await compare(configurationOf(renderFullCib(buildConfig(parseDescription(withoutNfs())))), xml)).toEqual([]);
    expect((await verifyFile(viaCibadmin)).ok).toBe(true);
    // and again: nothing
    const e = epochOf(viaCibadmin);
    const again = await cli('apply', file, '--tool', 'cibadmin', '--cib-file', viaCibadmin);
    expect(again.out).toEqual([`unchanged: the CIB already matches ${file} (cibadmin: nothing to write, epoch ${e})`]);
    expect(epochOf(viaCibadmin)).toBe(e);
  }, 60_000);

  for (const tool of ['cibadmin', 'crmsh'] as const) {
    it(`${tool}: never removes what an admin's constraint still names: one line, nothing written`, async () => {
      const f = await adminCib(`admin-constraint-${tool}.xml`);
      await applyConfig(cfg, { cibFile: f, tool, force: true });
      await runOk('cibadmin', ['--create', '--scope', 'constraints', '--xml-text', '<rsc_colocation id="admin-with-nfs" rsc="admin-dummy" with-rsc="nfsserver" score="INFINITY"/>'], { env: { CIB_file: f }, timeoutMs: 30_000 });
      const before = read(f);
      await expect(applyConfig(buildConfig(parseDescription(withoutNfs())), { cibFile: f, tool, force: true }))
        .rejects.toThrow(/^cannot remove nfsserver: the description no longer has it, but rsc_colocation admin-with-nfs \(not ha-oscar's\) refers to it; delete or change that constraint first$/);
      expect(read(f)).toBe(before);
    }, 60_000);
  }

  it('crmsh writes the same marker as cibadmin; a second apply by the other tool writes nothing, either way round', async () => {
    // viaCrmsh: written by crmsh in the first test
    expect(markerRefs(read(viaCrmsh))).toEqual(markerRefs(afterFirst));
    const crmBytes = read(viaCrmsh);
    const byCibadmin = await applyConfig(cfg, { cibFile: viaCrmsh, tool: 'cibadmin' });
    expect(byCibadmin).toEqual({ changed: false, epochBefore: epochOf(viaCrmsh), epochAfter: epochOf(viaCrmsh), differences: [] });
    expect(read(viaCrmsh)).toBe(crmBytes);
    // and the reverse: written by cibadmin, applied by crmsh
    const f = await adminCib('cibadmin-then-crmsh.xml');
    await applyConfig(cfg, { cibFile: f, tool: 'cibadmin' });
    const bytes = read(f);
    const byCrmsh = await applyConfig(cfg, { cibFile: f, tool: 'crmsh', force: true });
    expect(byCrmsh).toEqual({ changed: false, epochBefore: epochOf(f), epochAfter: epochOf(f), differences: [] });
    expect(read(f)).toBe(bytes);
  }, 60_000);

  it('crmsh: a dropped service goes as with cibadmin (resource, set places, marker ref), in one commit; the admin\'s objects stay; one summary line', async () => {
    const file = join(tmp, 'without-nfs-crmsh.yaml');
    writeFileAtomic(file, withoutNfs());
    const e0 = epochOf(viaCrmsh);
    const r = await cli('apply', file, '--tool', 'crmsh', '--cib-file', viaCrmsh, '--force');
    expect(r.err).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.out).toHaveLength(1);
    expect(r.out[0]).toMatch(/\(crmsh: 0 added, 3 changed, 1 removed: rsc_colocation col-data, rsc_order ord-data, primitive nfsserver, tag ha-oscar-managed\): 4 object\(s\) changed, epoch \d+ -> \d+$/);
    expect(epochOf(viaCrmsh)).toBe(e0 + 1); // the delete and the load: one commit
    const xml = read(viaCrmsh);
    expect(xml).not.toMatch(/id="nfsserver"/);
    expect(xml).toContain(ADMIN_RSC);
    expect(xml).toMatch(/name="admin-prop" value="42"/);
    // the same configuration and marker as the cibadmin path gave for the same drop (third test)
    expect(markerRefs(xml)).toEqual(markerRefs(read(viaCibadmin)));
    expect(await compare(configurationOf(xml), read(viaCibadmin))).toEqual([]);
    expect(await compare(configurationOf(read(viaCibadmin)), xml)).toEqual([]);
    expect((await verifyFile(viaCrmsh)).ok).toBe(true);
    // again, by either tool: nothing
    const e = epochOf(viaCrmsh);
    expect((await cli('apply', file, '--tool', 'crmsh', '--cib-file', viaCrmsh, '--force')).out)
      .toEqual([`unchanged: the CIB already matches ${file} (crmsh: nothing to write, epoch ${e})`]);
    expect((await cli('apply', file, '--tool', 'cibadmin', '--cib-file', viaCrmsh)).out)
      .toEqual([`unchanged: the CIB already matches ${file} (cibadmin: nothing to write, epoch ${e})`]);
    expect(epochOf(viaCrmsh)).toBe(e);
  }, 90_000);

  it('fencing turned off: the fence devices and the whole fencing topology go, the same with either tool', async () => {
    const d = parse(text);
    d.fencing.enabled = false;
    const noFence = buildConfig(parseDescription(stringify(d)));
    const got: Record<string, string> = {};
    for (const tool of ['cibadmin', 'crmsh'] as const) {
      const f = await adminCib(`nofence-${tool}.xml`);
      await applyConfig(cfg, { cibFile: f, tool, force: true });
      expect(read(f)).toMatch(/<fencing-level /);
      const r = await applyConfig(noFence, { cibFile: f, tool, force: true });
      expect(r.differences.filter((x) => x.why === 'removed').map((x) => x.what)).toEqual(expect.arrayContaining(['fencing-level fencing', 'fencing-level fencing-0']));
      const xml = read(f);
      expect(xml, tool).not.toMatch(/<fencing-level |class="stonith"/);
      expect(xml).toContain(ADMIN_RSC);
      expect((await applyConfig(noFence, { cibFile: f, tool, force: true })).changed).toBe(false);
      got[tool] = xml;
    }
    expect(await compare(configurationOf(got.crmsh!), got.cibadmin!)).toEqual([]);
    expect(await compare(configurationOf(got.cibadmin!), got.crmsh!)).toEqual([]);
    expect(markerRefs(got.crmsh!)).toEqual(markerRefs(got.cibadmin!));
  }, 90_000);

  it('crmsh: fencing turned off while the topology also holds an admin\'s level: one line, nothing written', async () => {
    const d = parse(text);
    d.fencing.enabled = false;
    const f = await adminCib('nofence-admin-level.xml');
    await applyConfig(cfg, { cibFile: f, tool: 'crmsh', force: true });
    await runOk('cibadmin', ['--create', '--scope', 'fencing-topology', '--xml-text', '<fencing-level id="admin-level" target="head1" index="9" devices="fence-head1"/>'], { env: { CIB_file: f }, timeoutMs: 30_000 });
    const before = read(f);
    await expect(applyConfig(buildConfig(parseDescription(stringify(d))), { cibFile: f, tool: 'crmsh', force: true }))
      .rejects.toThrow(/^cannot remove ha-oscar's fencing levels through crmsh: the fencing topology also holds fencing-level admin-level \(not ha-oscar's\); remove those first, or use --tool cibadmin$/);
    expect(read(f)).toBe(before);
  }, 60_000);

  it('auto: without crm on PATH the CLI writes with cibadmin', async () => {
    const bin = join(tmp, 'bin');
    mkdirSync(bin);
    for (const b of ['cibadmin', 'crm_verify', 'crm_diff']) symlinkSync(which(b)!, join(bin, b));
    const cliJs = await bundleEntry('src/cli/main.ts', join(tmp, 'ha-oscar.js'));
    const f = await adminCib('auto.xml');
    const r = spawnSync(process.execPath, [cliJs, 'config', 'apply', example, '--cib-file', f], { encoding: 'utf8', env: { PATH: bin }, timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^applied .*lab-active-active\.yaml \(cibadmin: \d+ added, 0 changed, 0 removed: primitive vip-boot-ipv4, .*\): \d+ object\(s\) changed, epoch \d+ -> \d+\n$/);
    expect(markerRefs(read(f))).toContain('vip-boot-ipv4');
  }, 60_000);
});

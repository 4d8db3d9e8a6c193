#!/usr/bin/env node
// npm run package: build the .deb and the .rpm from dist/ (run npm run build first).
// Output: out/ha-oscar_<version>-1_all.deb and out/ha-oscar-<version>-1.noarch.rpm
// `node scripts/package.mjs --deb` builds only the .deb (the lab installs it in its heads),
// `--rpm` only the .rpm (test/unit/packaging-rpm.test.ts installs it into a scratch root).
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const version = pkg.version;
const out = process.env.HA_OSCAR_PACKAGE_OUT ?? join(root, 'out');
const dist = join(root, 'dist');

function die(msg) { console.error(`package: ${msg}`); process.exit(1); }
function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) die(`${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout || r.error?.message || '').trim()}`);
  return r.stdout;
}
function put(stage, rel, src, mode) {
  const dst = join(stage, rel);
  mkdirSync(dirname(dst), { recursive: true, mode: 0o755 });
  if (Buffer.isBuffer(src) || typeof src === 'string' && !existsSync(src)) writeFileSync(dst, src);
  else copyFileSync(src, dst);
  chmodSync(dst, mode);
}
const gz = (text) => gzipSync(Buffer.from(text), { level: 9 }); // no name, mtime 0: reproducible

/** What the packages install: [path in the package, source, mode]. */
function payload(unitDir) {
  const need = ['fence_haoscar', 'fence_haoscar_delay', 'ha-oscar', 'ha-oscar-snmp-agent', 'alert_haoscar'];
  const missing = need.filter((f) => !existsSync(join(dist, f)));
  if (!existsSync(join(dist, 'ocf'))) missing.push('ocf/');
  if (missing.length) die(`dist/ lacks ${missing.join(', ')}: run npm run build`);
  const items = [];
  for (const a of readdirSync(join(dist, 'ocf')).sort()) items.push([`usr/lib/ocf/resource.d/ha-oscar/${a}`, join(dist, 'ocf', a), 0o755]);
  items.push(['usr/sbin/fence_haoscar', join(dist, 'fence_haoscar'), 0o755]);
  items.push(['usr/sbin/fence_haoscar_delay', join(dist, 'fence_haoscar_delay'), 0o755]);
  items.push(['usr/sbin/ha-oscar', join(dist, 'ha-oscar'), 0o755]);
  items.push(['usr/sbin/ha-oscar-snmp-agent', join(dist, 'ha-oscar-snmp-agent'), 0o755]);
  items.push(['usr/share/pacemaker/alerts/alert_haoscar', join(dist, 'alert_haoscar'), 0o755]);
  items.push(['usr/share/snmp/mibs/HA-OSCAR-MIB.txt', join(root, 'mib/HA-OSCAR-MIB.txt'), 0o644]);
  items.push([`${unitDir}/ha-oscar-snmp-agent.service`, join(root, 'packaging/systemd/ha-oscar-snmp-agent.service'), 0o644]);
  for (const e of readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml')).sort()) {
    items.push([`usr/share/doc/ha-oscar/examples/${e}`, join(root, 'examples', e), 0o644]);
  }
  for (const m of ['ha-oscar.8', 'fence_haoscar.8', 'fence_haoscar_delay.8', 'ha-oscar-snmp-agent.8']) {
    items.push([`usr/share/man/man8/${m}.gz`, gz(readFileSync(join(root, 'packaging/man', m), 'utf8').replaceAll('@VERSION@', version)), 0o644]);
  }
  return items;
}

function stageTree(dir, items) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [rel, src, mode] of items) put(dir, rel, src, mode);
}

function walk(dir) {
  const files = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) files.push(...walk(p)); else files.push(p);
  }
  return files;
}

function buildDeb() {
  const stage = join(out, 'deb-root');
  const items = payload('lib/systemd/system');
  items.push(['usr/share/doc/ha-oscar/copyright', join(root, 'packaging/debian/copyright'), 0o644]);
  items.push(['usr/share/doc/ha-oscar/changelog.Debian.gz', gz(`ha-oscar (${version}-1) unstable; urgency=medium\n\n  * Package built from the ha-oscar tree.\n\n -- ha-oscar developers <ha-oscar@example.org>  Wed, 25 Nov 2026 12:00:00 +0000\n`), 0o644]);
  items.push(['usr/share/lintian/overrides/ha-oscar', join(root, 'packaging/debian/lintian-overrides'), 0o644]);
  stageTree(stage, items);
  const files = walk(stage);
  const sizeKb = Math.ceil(files.reduce((n, f) => n + statSync(f).size, 0) / 1024);
  const md5 = files.map((f) => `${createHash('md5').update(readFileSync(f)).digest('hex')}  ${relative(stage, f)}`).join('\n');
  put(stage, 'DEBIAN/md5sums', `${md5}\n`, 0o644);
  put(stage, 'DEBIAN/control', readFileSync(join(root, 'packaging/debian/control.in'), 'utf8').replace('@VERSION@', version).replace('@SIZE@', String(sizeKb)), 0o644);
  // Maintainer scripts: the subagent unit's enable/start/stop (dh_installsystemd's snippets).
  for (const s of ['postinst', 'prerm', 'postrm']) put(stage, `DEBIAN/${s}`, join(root, 'packaging/debian', s), 0o755);
  for (const d of [stage, ...walkDirs(stage)]) chmodSync(d, 0o755);
  const deb = join(out, `ha-oscar_${version}-1_all.deb`);
  sh('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', stage, deb]);
  return deb;
}
function walkDirs(dir) {
  const ds = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) { const p = join(dir, e.name); ds.push(p, ...walkDirs(p)); }
  return ds;
}

function buildRpm() {
  const stage = join(out, 'rpm-root');
  stageTree(stage, payload('usr/lib/systemd/system'));
  for (const d of [stage, ...walkDirs(stage)]) chmodSync(d, 0o755);
  const top = join(out, 'rpmbuild');
  rmSync(top, { recursive: true, force: true });
  for (const d of ['BUILD', 'RPMS', 'SOURCES', 'SPECS', 'SRPMS', 'BUILDROOT']) mkdirSync(join(top, d), { recursive: true });
  sh('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${top}`, '--define', `pkgversion ${version}`, '--define', `stage ${stage}`,
    '--define', '_binary_payload w9.xzdio', join(root, 'packaging/rpm/ha-oscar.spec')]);
  const rpm = join(top, 'RPMS', 'noarch', `ha-oscar-${version}-1.noarch.rpm`);
  if (!existsSync(rpm)) die(`rpmbuild made no ${rpm}`);
  const dst = join(out, `ha-oscar-${version}-1.noarch.rpm`);
  copyFileSync(rpm, dst);
  return dst;
}

const args = process.argv.slice(2);
const bad = args.filter((a) => a !== '--deb' && a !== '--rpm');
if (bad.length) die(`unknown argument ${bad[0]} (usage: package.mjs [--deb | --rpm])`);
if (args.includes('--deb') && args.includes('--rpm')) die('--deb and --rpm exclude each other (neither builds both)');
mkdirSync(out, { recursive: true });
if (!args.includes('--rpm')) console.log(buildDeb());
if (!args.includes('--deb')) console.log(buildRpm());

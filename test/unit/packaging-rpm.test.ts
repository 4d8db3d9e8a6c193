// The .rpm installed for real (issue 22): `rpm --root DIR --nodeps -i` into a scratch root shaped
// like an EL9 head, then `rpm -V`, then `rpm -e`, with the scriptlets RUN, not --noscripts.
//
// An empty root has no /bin/sh, so rpm could not run %pre/%post there. Here the scratch root's /usr
// is an overlay (lower: this host's /usr, read-only; upper: a directory of ours), mounted by
// `unshare -m` around each command, so it exists only in that command's private mount namespace
// and is gone when it exits (nothing to unmount, nothing left behind). rpm chroots into DIR for
// the scriptlets, which thus find /bin/sh, getent, groupadd, useradd and systemctl: this host's
// Debian builds of them, not EL9's. What the package writes to /usr lands in the upper directory,
// the rest in DIR itself. /etc holds what an EL9 head has before us: root, pacemaker's
// hacluster/haclient (uid/gid 189, made by pacemaker-libs' %pre; Requires: pacemaker) and EL9's
// 99-default-disable.preset ("disable *"). The upper directory sits in os.tmpdir(), which must be
// a file system overlayfs takes as upper (ext4, xfs, tmpfs; not overlayfs itself).
// Not proven here: EL9's rpm 4.16 and shadow-utils running the scriptlets; %pre's groupadd branch
// (haclient exists, as pacemaker made it: its text is checked); the scriptlets' systemctl where
// systemd runs (in a chroot it acts offline: presets and symlinks only); dependency resolution
// (--nodeps: the Requires are checked by name and version).
import { it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from '../helpers/sync';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { root, tempDir } from '../helpers/agents';
import { describeWith } from '../helpers/prereq';

const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
const unit = 'ha-oscar-snmp-agent.service';
const wants = `etc/systemd/system/multi-user.target.wants/${unit}`;
let dir = '';
let rpm = '';
let sysroot = ''; // rpm --root
let upper = '';   // what the package wrote to the scratch root's /usr
let work = '';

function sh(cmd: string, args: string[], timeout = 60_000): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}
/** A command with the scratch root's /usr overlay and /dev/null mounted, in its own mount namespace. */
function inRoot(args: string[], env: NodeJS.ProcessEnv = process.env): { code: number; out: string } {
  const setup = 'mount -t overlay overlay -o "lowerdir=/usr,upperdir=$1,workdir=$2" "$3/usr" && mount --bind /dev/null "$3/dev/null" && shift 3 && exec "$@"';
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', setup, 'sh', upper, work, sysroot, ...args],
    { encoding: 'utf8', timeout: 60_000, env });
  return { code: r.status ?? -1, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}
const rpmIn = (...args: string[]) => inRoot(['rpm', '--root', sysroot, '--dbpath', '/var/lib/rpm', ...args]);
/** Where an installed path is on this host's file system (outside the namespace). */
const at = (p: string) => (p.startsWith('/usr/') ? join(upper, p.slice('/usr/'.length)) : join(sysroot, p));
/** Regular files and symlinks under d (overlay whiteouts, character devices, mean "deleted"). */
function files(d: string): string[] {
  if (!existsSync(d)) return [];
  const found: string[] = [];
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    if (e.isDirectory()) found.push(...files(p));
    else if (e.isFile() || e.isSymbolicLink()) found.push(p);
  }
  return found;
}
const line = (file: string, name: string) => readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${name}:`));

/** Where EL9 looks for each kind of file: OCF_ROOT, stonith's fence_* in /usr/sbin, net-snmp's MIBDIRS, %_unitdir, %_mandir. */
const places = ['/usr/lib/ocf/resource.d/ha-oscar', '/usr/sbin/', '/usr/share/pacemaker/alerts/', '/usr/share/snmp/mibs/',
  '/usr/lib/systemd/system/', '/usr/share/man/man8/', '/usr/share/doc/ha-oscar', '/var/lib/ha-oscar'];
function executables(): string[] {
  return [...readdirSync(join(root, 'dist/ocf')).sort().map((a) => `/usr/lib/ocf/resource.d/ha-oscar/${a}`),
    '/usr/sbin/fence_haoscar', '/usr/sbin/fence_haoscar_delay', '/usr/sbin/ha-oscar', '/usr/sbin/ha-oscar-snmp-agent', '/usr/share/pacemaker/alerts/alert_haoscar'];
}

// the scriptlets' tools (useradd, groupadd, systemctl) come from this host's /usr through the overlay
const need = { bins: ['rpm', 'rpmbuild', 'unshare', 'mount', 'useradd', 'groupadd', 'systemctl'], root: true, packages: ['rpm', 'util-linux', 'mount', 'passwd', 'systemd'] };

describeWith(need, 'the .rpm, installed', () => {
  beforeAll(() => {
    dir = tempDir('rpm');
    const out = join(dir, 'out');
    const r = spawnSync(process.execPath, [join(root, 'scripts/package.mjs'), '--rpm'], { encoding: 'utf8', env: { ...process.env, HA_OSCAR_PACKAGE_OUT: out }, timeout: 150_000 });
    if (r.status !== 0) throw new Error(`package.mjs --rpm failed: ${r.stderr}${r.error ?? ''}`);
    rpm = join(out, `ha-oscar-${version}-1.noarch.rpm`);
    sysroot = join(dir, 'root');
    upper = join(dir, 'usr-upper');
    work = join(dir, 'usr-work');
    for (const d of ['usr', 'etc/systemd/system-preset', 'var/lib/rpm', 'dev', 'tmp']) mkdirSync(join(sysroot, d), { recursive: true });
    mkdirSync(upper);
    mkdirSync(work);
    for (const l of ['bin', 'sbin', 'lib', 'lib64']) symlinkSync(`usr/${l}`, join(sysroot, l)); // EL9 is usr-merged
    writeFileSync(join(sysroot, 'dev/null'), '');
    const etc = (f: string, text: string, mode = 0o644) => writeFileSync(join(sysroot, 'etc', f), text, { mode });
    etc('passwd', 'root:x:0:0:root:/root:/bin/bash\nhacluster:x:189:189:cluster user:/var/lib/pacemaker:/sbin/nologin\n');
    etc('group', 'root:x:0:\nhaclient:x:189:\n');
    etc('shadow', 'root:*:20000:0:99999:7:::\nhacluster:!!:20000::::::\n', 0o600);
    etc('gshadow', 'root:::\nhaclient:!::\n', 0o600);
    etc('systemd/system-preset/99-default-disable.preset', 'disable *\n');
    const init = rpmIn('--initdb');
    if (init.code !== 0) throw new Error(`overlay on the scratch root's /usr, then rpm --initdb: ${init.out}`);
  }, 180_000);
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  it('installs with its scriptlets run: rpm --root DIR --nodeps -i', () => {
    const r = rpmIn('-i', '--nodeps', rpm);
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toMatch(/scriptlet failed|warning: user|warning: group/);
    expect(rpmIn('-q', '--qf', '%{NAME}-%{VERSION}-%{RELEASE}', 'ha-oscar').out).toContain(`ha-oscar-${version}-1`);
  });

  it('puts every file where EL9 looks for it, executables 0755 root, the MIB and unit as shipped', () => {
    const listed = rpmIn('-ql', 'ha-oscar').out.trim().split('\n');
    for (const p of listed) expect(places.some((d) => p.startsWith(d)), `${p} is outside EL9's places`).toBe(true);
    for (const p of executables()) {
      expect(listed, p).toContain(p);
      const s = statSync(at(p));
      expect([s.isFile(), (s.mode & 0o7777).toString(8), s.uid], p).toEqual([true, '755', 0]);
    }
    expect(readFileSync(at('/usr/share/snmp/mibs/HA-OSCAR-MIB.txt'), 'utf8')).toBe(readFileSync(join(root, 'mib/HA-OSCAR-MIB.txt'), 'utf8'));
    expect(readFileSync(at(`/usr/lib/systemd/system/${unit}`), 'utf8')).toBe(readFileSync(join(root, 'packaging/systemd', unit), 'utf8'));
    for (const m of ['ha-oscar.8', 'fence_haoscar.8', 'fence_haoscar_delay.8', 'ha-oscar-snmp-agent.8']) {
      const page = gunzipSync(readFileSync(at(`/usr/share/man/man8/${m}.gz`))).toString('utf8');
      expect(page, m).toMatch(new RegExp(`^\\.TH .*"ha-oscar ${version.replaceAll('.', '\\.')}"`, 'm'));
    }
    expect(existsSync(at('/usr/share/doc/ha-oscar/examples/active-standby.yaml'))).toBe(true);
  });

  it('an installed agent runs from there: meta-data of every OCF agent, fence_haoscar and fence_haoscar_delay -o metadata', () => {
    const env = { PATH: `${dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin`, OCF_ROOT: join(sysroot, 'usr/lib/ocf') };
    for (const p of executables().filter((x) => x.includes('/ocf/'))) {
      const name = p.slice(p.lastIndexOf('/') + 1);
      const r = inRoot([join(sysroot, p), 'meta-data'], env);
      expect(r.code, `${name}: ${r.out}`).toBe(0);
      expect(r.out, name).toMatch(new RegExp(`^<\\?xml[\\s\\S]*<resource-agent name="${name}"[\\s\\S]*</resource-agent>\\s*$`));
    }
    for (const name of ['fence_haoscar', 'fence_haoscar_delay']) {
      const f = inRoot([join(sysroot, `/usr/sbin/${name}`), '-o', 'metadata'], env);
      expect(f.code, f.out).toBe(0);
      expect(f.out).toMatch(new RegExp(`^<\\?xml[\\s\\S]*<resource-agent name="${name}"[\\s\\S]*</resource-agent>\\s*$`));
    }
  });

  it('rpm -V is clean (files, modes, owners, digests)', () => {
    const r = rpmIn('-V', '--nodeps', 'ha-oscar');
    expect(r.out.split('\n').filter((l) => l && !/use Alien|assuming you know/.test(l))).toEqual([]);
    expect(r.code).toBe(0);
  });

  it('%pre made the subagent\'s system user in haclient; the alert state directory is hacluster\'s', () => {
    const user = line(join(sysroot, 'etc/passwd'), 'ha-oscar-snmp')?.split(':') ?? [];
    expect(user.length, 'no ha-oscar-snmp in the root\'s /etc/passwd').toBe(7);
    expect(Number(user[2])).toBeGreaterThan(0);
    expect(Number(user[2])).toBeLessThan(1000); // a system user (useradd -r)
    expect(user[3]).toBe('189'); // haclient
    expect(user[6]).toMatch(/\/nologin$/);
    const state = statSync(at('/var/lib/ha-oscar'));
    expect([state.isDirectory(), (state.mode & 0o7777).toString(8), state.uid]).toEqual([true, '755', 0]);
    const alert = statSync(at('/var/lib/ha-oscar/alert'));
    expect([alert.isDirectory(), (alert.mode & 0o7777).toString(8), alert.uid, alert.gid]).toEqual([true, '750', 189, 189]);
  });

  it('the scriptlets make haclient when missing and enable or start nothing: the unit follows the presets (EL9: disabled)', () => {
    const scripts = sh('rpm', ['-qp', '--scripts', rpm]).out;
    expect(scripts).toMatch(/preinstall scriptlet[\s\S]*getent group haclient[^\n]*\|\| groupadd -r haclient/);
    expect(scripts).toMatch(/preinstall scriptlet[\s\S]*useradd -r -g haclient [^\n]*ha-oscar-snmp\n/);
    for (const l of scripts.split('\n').filter((x) => /systemctl/.test(x) && !/^\s*#/.test(x))) { // commands, not comments
      expect(l, 'a scriptlet enables or starts the unit by hand').not.toMatch(/(?<![\w-])(enable|reenable|start|restart)\b/);
    }
    expect(lstatSync(join(sysroot, wants), { throwIfNoEntry: false }), 'the unit was enabled despite "disable *"').toBeUndefined();
  });

  it('requires EL9\'s own packages: pacemaker, corosync, resource-agents, fence-agents-common, net-snmp, iputils, nodejs >= 1:20', () => {
    const req = sh('rpm', ['-qpR', rpm]).out.split('\n').map((l) => l.trim());
    for (const d of ['pacemaker', 'corosync', 'resource-agents', 'fence-agents-common', 'net-snmp', 'iputils']) expect(req, d).toContain(d);
    // EL9's nodejs has Epoch 1: a bare `nodejs >= 20` is met by its default nodejs-1:16
    expect(req).toContain('nodejs >= 1:20');
    // Debian's names must not leak in
    for (const d of ['snmpd', 'adduser', 'nodejs-packaging']) expect(req).not.toContain(d);
  });

  it('rpm -e removes every file it installed, its directories, and the unit\'s enablement', () => {
    // the admin's `systemctl enable` after install: the symlink must go with the unit (%preun)
    const en = inRoot(['systemctl', '--root', sysroot, 'enable', unit]);
    expect(en.code, en.out).toBe(0);
    expect(lstatSync(join(sysroot, wants)).isSymbolicLink()).toBe(true);
    const r = rpmIn('-e', '--nodeps', 'ha-oscar');
    expect(r.code, r.out).toBe(0);
    expect(rpmIn('-q', 'ha-oscar').code).not.toBe(0);
    expect(files(upper)).toEqual([]);
    expect(existsSync(join(sysroot, 'var/lib/ha-oscar')), '/var/lib/ha-oscar left behind').toBe(false);
    expect(lstatSync(join(sysroot, wants), { throwIfNoEntry: false }), 'the unit\'s enablement left behind').toBeUndefined();
    expect(files(join(sysroot, 'etc/systemd/system')), 'other symlinks left behind').toEqual([]);
  });
});

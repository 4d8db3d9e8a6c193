// npm run package: a .deb and an .rpm that put every built file where Pacemaker, stonith and
// snmpd look for it; installed into a private root and removed again without leftovers.
import { it, expect, beforeAll } from 'vitest';
import { spawnSync } from '../helpers/sync';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { root, tempDir } from '../helpers/agents';
import { describeWith } from '../helpers/prereq';

const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version as string;
let out: string;
let deb: string;
let rpm: string;

function sh(cmd: string, args: string[]): { code: number; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 180_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}
function expected(): string[] {
  const agents = readdirSync(join(root, 'dist/ocf')).map((a) => `usr/lib/ocf/resource.d/ha-oscar/${a}`);
  return [...agents, 'usr/sbin/fence_haoscar', 'usr/sbin/fence_haoscar_delay', 'usr/sbin/ha-oscar', 'usr/sbin/ha-oscar-snmp-agent',
    'usr/share/pacemaker/alerts/alert_haoscar', 'usr/share/snmp/mibs/HA-OSCAR-MIB.txt',
    'usr/share/doc/ha-oscar/examples/active-standby.yaml', 'usr/share/man/man8/ha-oscar.8.gz', 'usr/share/man/man8/fence_haoscar.8.gz',
    'usr/share/man/man8/fence_haoscar_delay.8.gz'];
}

describeWith({ bins: ['dpkg-deb', 'rpmbuild', 'lintian', 'rpm'], root: true, packages: ['dpkg-dev', 'rpm', 'lintian'] }, 'packages', () => {
  beforeAll(() => {
    out = tempDir('package');
    const r = spawnSync(process.execPath, [join(root, 'scripts/package.mjs')], { encoding: 'utf8', env: { ...process.env, HA_OSCAR_PACKAGE_OUT: out }, timeout: 300_000 });
    if (r.status !== 0) throw new Error(`package.mjs failed: ${r.stderr}`);
    deb = join(out, `ha-oscar_${version}-1_all.deb`);
    rpm = join(out, `ha-oscar-${version}-1.noarch.rpm`);
  }, 300_000);

  it('builds both, versioned from package.json', () => {
    expect(existsSync(deb)).toBe(true);
    expect(existsSync(rpm)).toBe(true);
    expect(sh('dpkg-deb', ['-f', deb, 'Version']).out.trim()).toBe(`${version}-1`);
    expect(sh('rpm', ['-qp', '--qf', '%{VERSION}', rpm]).out.trim()).toBe(version);
  });

  it('the .deb installs every agent, fence_haoscar, the CLI, subagent, alert agent, MIB, examples and man pages, executables 0755', () => {
    const listing = sh('dpkg-deb', ['-c', deb]).out;
    for (const f of expected()) expect(listing, f).toContain(`./${f}`);
    for (const line of listing.split('\n').filter((l) => /\.\/usr\/(sbin|lib\/ocf)\/.+[^/]$/.test(l))) {
      expect(line.startsWith('-rwxr-xr-x root/root'), line).toBe(true);
    }
    expect(listing).toContain('./lib/systemd/system/ha-oscar-snmp-agent.service');
  });

  it('declares its dependencies: nodejs >= 20, pacemaker, corosync, resource-agents, snmpd (adduser: the subagent\'s user; ping: fence_haoscar_delay)', () => {
    expect(sh('dpkg-deb', ['-f', deb, 'Depends']).out.trim()).toBe('nodejs (>= 20), pacemaker, corosync, resource-agents, snmpd, adduser, iputils-ping');
    const req = sh('rpm', ['-qpR', rpm]).out;
    for (const d of ['nodejs >= 1:20', 'pacemaker', 'corosync', 'resource-agents', 'net-snmp', 'iputils']) expect(req).toContain(d);
  });

  it('the .deb is lintian-clean (overrides carry their reasons)', () => {
    const r = sh('lintian', ['--tag-display-limit', '0', deb]);
    const findings = r.out.split('\n').filter((l) => /^[EWI]: /.test(l));
    expect(findings).toEqual([]);
  }, 200_000); // lintian takes 40-80 s on a loaded box (the spawnSync allows 180 s)

  it('the .rpm holds the same files', () => {
    const files = sh('rpm', ['-qpl', rpm]).out;
    for (const f of expected()) expect(files, f).toContain(`/${f}`);
    expect(files).toContain('/usr/lib/systemd/system/ha-oscar-snmp-agent.service');
  });

  it('installs into a private root, where the installed agent runs, and removal leaves nothing behind', () => {
    const d = tempDir('dpkg-root');
    const admin = join(d, 'admin');
    const inst = join(d, 'root');
    for (const x of [join(admin, 'updates'), join(admin, 'info'), inst]) mkdirSync(x, { recursive: true });
    writeFileSync(join(admin, 'status'), '');
    const dpkg = ['--admindir', admin, '--instdir', inst, '--force-depends', '--force-script-chrootless', '--log=/dev/null'];
    expect(sh('dpkg', [...dpkg, '-i', deb]).code).toBe(0);
    const agent = join(inst, 'usr/lib/ocf/resource.d/ha-oscar/snmpd');
    const md = spawnSync(agent, ['meta-data'], { encoding: 'utf8' });
    expect(md.stdout).toContain('<resource-agent name="snmpd"');
    expect(sh('dpkg', [...dpkg, '--purge', 'ha-oscar']).code).toBe(0);
    expect(sh('find', [inst, '-mindepth', '1']).out.trim()).toBe('');

    const rroot = join(d, 'rpmroot');
    mkdirSync(rroot);
    expect(sh('rpm', ['--root', rroot, '--initdb']).code).toBe(0);
    // the empty root has no /bin/sh for the scriptlets (%pre makes the subagent's user): the
    // rpm counterpart of dpkg's chrootless run, whose maintainer scripts do nothing
    const scripts = sh('rpm', ['-qp', '--scripts', rpm]).out;
    expect(scripts).toMatch(/preinstall scriptlet[\s\S]*useradd -r -g haclient[\s\S]*ha-oscar-snmp/);
    expect(scripts).toMatch(/postinstall scriptlet[\s\S]*\/var\/lib\/ha-oscar\/alert/);
    expect(sh('rpm', ['--root', rroot, '-i', '--nodeps', '--noscripts', rpm]).code).toBe(0);
    expect(existsSync(join(rroot, 'usr/sbin/fence_haoscar'))).toBe(true);
    expect(existsSync(join(rroot, 'usr/sbin/fence_haoscar_delay'))).toBe(true);
    expect(sh('rpm', ['--root', rroot, '-e', '--nodeps', '--noscripts', 'ha-oscar']).code).toBe(0);
    expect(sh('find', [join(rroot, 'usr'), '-type', 'f']).out.trim()).toBe('');
  });
});

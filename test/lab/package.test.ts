// The lab's heads run the INSTALLED .deb (issue 11): the global setup builds it
// (scripts/package.mjs --deb), each head installs it with dpkg in its own overlays of /usr,
// /etc and /var (src/lab/package.ts), and Pacemaker, stonith and the subagent run the package's
// files. The host itself is never touched.
import { beforeAll, expect, inject, it } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describeWith } from '../helpers/prereq';
import { run } from '../../src/service/run';
import { exec, loadSpec } from '../../src/lab/lab';
import { healLab } from './heal';
import { HEADS, type LabSpec } from '../../src/lab/spec';
import { AGENTX_SOCKET } from '../../src/lab/services';
import { agentsSource, parseUnit, SUBAGENT_UNIT } from '../../src/lab/package';

const need = { root: true, bins: ['corosync', 'pacemakerd', 'crm', 'tini', 'nsenter', 'dpkg-deb', 'stonith_admin'], packages: ['corosync', 'pacemaker', 'crmsh', 'tini', 'util-linux', 'dpkg-dev', 'pacemaker-cli-utils'] };
const repo = join(__dirname, '..', '..');
const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
/** Every OCF agent the tree has (agents/<name>.ts, not fence_* or alert_*). */
const OCF_AGENTS = readdirSync(join(repo, 'agents')).filter((f) => f.endsWith('.ts') && !/^(fence|alert)_/.test(f)).map((f) => f.slice(0, -3)).sort();

describeWith(need, 'lab heads run the installed package', () => {
  let spec: LabSpec;
  beforeAll(async () => {
    const name = inject('labName');
    if (!name) throw new Error(inject('labError') || 'the lab did not come up');
    spec = loadSpec(name);
    // A failed file before this one may have left a head off or out of the cluster.
    await healLab(spec, (l) => console.log(`[package] ${l}`));
  }, 900_000);

  it('the lab is in deb mode, with the .deb of this tree', () => {
    const s = agentsSource(spec);
    expect(s.mode).toBe('deb');
    if (s.mode !== 'deb') return;
    expect(s.version).toBe(version);
    expect(existsSync(s.deb)).toBe(true);
  });

  for (const head of HEADS) {
    it(`${head}: dpkg -s ha-oscar says installed, version ${version}-1`, async () => {
      const r = await exec(spec, head, ['dpkg', '-s', 'ha-oscar']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^Status: install ok installed$/m);
      expect(r.stdout).toMatch(new RegExp(`^Version: ${version.replace(/\./g, '\\.')}-1$`, 'm'));
    });

    // crmsh starts slowly: 50 s for one 'crm ra list' was seen at load 28 on 2 cores
    it(`${head}: crm ra list ocf ha-oscar lists every agent of agents/, and crm ra meta reads one`, async () => {
      expect(OCF_AGENTS).toEqual(expect.arrayContaining(['dhcpd', 'nfsserver', 'ntpd', 'snmpd', 'tftpd', 'linkmon', 'raidmon', 'statesync']));
      const r = await exec(spec, head, ['crm', 'ra', 'list', 'ocf', 'ha-oscar'], { timeoutMs: 240_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split(/\s+/).filter(Boolean).sort()).toEqual(OCF_AGENTS);
      const m = await exec(spec, head, ['crm', 'ra', 'meta', 'ocf:ha-oscar:dhcpd'], { timeoutMs: 240_000 });
      expect(m.code, m.stderr).toBe(0);
      expect(m.stdout).toContain('(ocf:ha-oscar:dhcpd)');
      expect(m.stdout).toMatch(/^Parameters \(\*: required, \[\]: default\):$/m);
    }, 600_000);

    it(`${head}: stonith_admin --list-installed lists fence_haoscar`, async () => {
      const r = await exec(spec, head, ['stonith_admin', '--list-installed'], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.split('\n').map((l) => l.trim())).toContain('fence_haoscar');
    });

    it(`${head}: the agents, fence agent and subagent are the package's files, not the repository's dist/`, async () => {
      const list = (await exec(spec, head, ['dpkg', '-L', 'ha-oscar'])).stdout.split('\n');
      const files = [...OCF_AGENTS.map((a) => `/usr/lib/ocf/resource.d/ha-oscar/${a}`), '/usr/sbin/fence_haoscar', '/usr/sbin/ha-oscar-snmp-agent',
        '/usr/share/pacemaker/alerts/alert_haoscar', SUBAGENT_UNIT];
      for (const f of files) expect(list, f).toContain(f);
      // every installed file has the package's checksum (dpkg --verify prints nothing)
      const v = await exec(spec, head, ['dpkg', '--verify', 'ha-oscar']);
      expect(v.code).toBe(0);
      expect(v.stdout.trim()).toBe('');
      // and is the head's own copy on its /usr overlay: nothing is mounted over the OCF
      // directory or /usr/sbin (dist mode binds dist/ocf there), and it is not dist's inode
      for (const [f, dist] of [['/usr/lib/ocf/resource.d/ha-oscar/dhcpd', 'dist/ocf/dhcpd'], ['/usr/sbin/fence_haoscar', 'dist/fence_haoscar']] as const) {
        const mnt = await exec(spec, head, ['findmnt', '-n', '-o', 'TARGET,FSTYPE', '-T', f]);
        expect(mnt.stdout.trim().split(/\s+/), f).toEqual(['/usr', 'overlay']);
        const st = await exec(spec, head, ['stat', '-L', '-c', '%d:%i', f]);
        const d = statSync(join(repo, dist));
        expect(st.stdout.trim(), f).not.toBe(`${d.dev}:${d.ino}`);
      }
    });

    it(`${head}: runs what the installed unit's ExecStart says, plus --master ${AGENTX_SOCKET}`, async () => {
      const unit = parseUnit((await exec(spec, head, ['cat', SUBAGENT_UNIT])).stdout);
      expect(unit.argv[0]).toBe('/usr/sbin/ha-oscar-snmp-agent');
      const want = [...unit.argv, '--master', AGENTX_SOCKET].join(' ');
      const ps = await exec(spec, head, ['ps', '-eo', 'args=']);
      // the package's file runs it (#!/usr/bin/env node): argv is node + the installed path
      expect(ps.stdout.split('\n').map((l) => l.trim()).filter((l) => l.includes('ha-oscar-snmp-agent'))).toEqual([`node ${want}`]);
    });

    it(`${head}: the postinst enabled the unit inside the head only, and started nothing`, async () => {
      const link = '/etc/systemd/system/multi-user.target.wants/ha-oscar-snmp-agent.service';
      const r = await exec(spec, head, ['readlink', link]);
      expect(r.stdout.trim()).toBe(SUBAGENT_UNIT);
      expect(existsSync(link)).toBe(false);
      // the head's own policy-rc.d (not the host's) forbids starts: deb-systemd-invoke asks it
      expect((await exec(spec, head, ['cat', '/usr/sbin/policy-rc.d'])).stdout).toContain('ha-oscar lab head');
      const p = await exec(spec, head, ['/usr/sbin/policy-rc.d', 'ha-oscar-snmp-agent.service', 'start']);
      expect(p.code).toBe(101);
      // one subagent: the node init's (a postinst start would be a second one)
      const ps = await exec(spec, head, ['pgrep', '-c', '-f', '^node /usr/sbin/ha-oscar-snmp-agent ']);
      expect(ps.stdout.trim()).toBe('1');
    });
  }

  it('the host was not touched: no ha-oscar OCF directory, dpkg -s ha-oscar fails, no fence_haoscar in /usr/sbin', async () => {
    expect(existsSync('/usr/lib/ocf/resource.d')).toBe(true);
    expect(readdirSync('/usr/lib/ocf/resource.d')).not.toContain('ha-oscar');
    const r = await run('dpkg', ['-s', 'ha-oscar'], { timeoutMs: 30_000 });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/not installed/);
    expect(existsSync('/usr/sbin/fence_haoscar')).toBe(false);
    expect(existsSync('/usr/sbin/ha-oscar-snmp-agent')).toBe(false);
  });
});

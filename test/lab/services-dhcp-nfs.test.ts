// The lab's dhcpd and nfsserver entries (src/lab/services.ts): their generated files, and what
// the client sees of them on the shared lab (test/lab/global-setup.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, inject, it } from 'vitest';
import { describeWith } from '../helpers/prereq';
import { exec, loadSpec, runChecks, whereIs } from '../../src/lab/lab';
import { BOOT_FILE, BOOT_URL6, LAB_DIR, NFS_EXPORT, labChecks, labCrmConfig, labDhcpd6Conf, labDhcpdConf } from '../../src/lab/services';
import { HEADS, VIP4, type LabSpec } from '../../src/lab/spec';
import { writeFileAtomic } from '../../src/service/atomic';
import { run } from '../../src/service/run';

const need = { root: true, bins: ['dhcpd', 'ganesha.nfsd', 'rpcbind', 'nfs-cat', 'nsenter'], packages: ['isc-dhcp-server', 'nfs-ganesha', 'nfs-ganesha-vfs', 'rpcbind', 'libnfs-utils', 'util-linux'] };

describeWith(need, 'lab services: dhcpd and nfsserver', () => {
  let spec: LabSpec;
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'dvs-'));
    const name = inject('labName');
    if (!name) throw new Error(inject('labError') || 'the lab did not come up');
    spec = loadSpec(name);
  });
  afterAll(() => { rmSync(tmp, { recursive: true, force: true }); });

  it('dhcpd.conf and dhcpd6.conf pass dhcpd\'s own syntax check', async () => {
    for (const [name, text, fam] of [['dhcpd.conf', labDhcpdConf(), '-4'], ['dhcpd6.conf', labDhcpd6Conf(), '-6']] as const) {
      const f = join(tmp, name);
      writeFileAtomic(f, text);
      const r = await run('dhcpd', [fam, '-t', '-cf', f], { timeoutMs: 10_000 });
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
    }
  });

  it('the v4 subnet names the VIP and the boot file, with a range clear of the heads, client and VIP', () => {
    const c = labDhcpdConf();
    expect(c).toContain(`server-identifier ${VIP4};`);
    expect(c).toContain(`filename "${BOOT_FILE}";`);
    const m = /range 192\.0\.2\.(\d+) 192\.0\.2\.(\d+);/.exec(c);
    expect(m).not.toBeNull();
    const [lo, hi] = [Number(m![1]), Number(m![2])];
    for (const used of [11, 12, 20, 100]) expect(used < lo || used > hi, `.${used} outside ${lo}-${hi}`).toBe(true);
    expect(labDhcpd6Conf()).toContain(`"${BOOT_URL6}"`);
  });

  it('the crm configuration has both dhcpd instances and ganesha, after both VIPs', () => {
    const crm = labCrmConfig(spec);
    expect(crm).toMatch(/primitive dhcpd4 ocf:ha-oscar:dhcpd params server=isc family=4 .*server_id=192\.0\.2\.100/);
    expect(crm).toMatch(/primitive dhcpd6 ocf:ha-oscar:dhcpd params server=isc family=6 /);
    expect(crm).toMatch(/primitive nfsserver ocf:ha-oscar:nfsserver params server=ganesha /);
    for (const m of ['dhcpd4', 'dhcpd6', 'nfsserver']) {
      expect(crm).toContain(`order vip4-then-${m} Mandatory: vip4 ${m}`);
      expect(crm).toContain(`order vip6-then-${m} Mandatory: vip6 ${m}`);
    }
  });

  it('both heads have the lab\'s service files', async () => {
    for (const h of HEADS) {
      const r = await exec(spec, h, ['cat', `${LAB_DIR}/dhcpd.conf`, `${LAB_DIR}/dhcpd6.conf`]);
      expect(r.code, `${h}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toBe(labDhcpdConf() + labDhcpd6Conf());
      expect((await exec(spec, h, ['test', '-d', NFS_EXPORT])).code).toBe(0);
    }
  });

  it('the client gets DHCP offers naming the VIP and boot file, and reads the NFS probe file over IPv4 and IPv6', async () => {
    const names = ['dhcp v4', 'dhcp v6', 'nfs v4', 'nfs v6'];
    const checks = labChecks(spec).filter((c) => names.includes(c.name));
    expect(checks.map((c) => c.name).sort()).toEqual(names.slice().sort());
    expect(await whereIs(spec, 'dhcpd4')).toBe(await whereIs(spec, 'vip4'));
    expect(await whereIs(spec, 'nfsserver')).toBe(await whereIs(spec, 'vip4'));
    expect((await runChecks(spec, checks)).filter((r) => !r.ok)).toEqual([]);
  });
});

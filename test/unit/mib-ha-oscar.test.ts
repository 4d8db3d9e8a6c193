// HA-OSCAR-MIB: lints clean at smilint level 6 and loads in net-snmp's snmptranslate,
// using the IETF base MIBs that the net-snmp npm package carries (Debian ships none).
import { afterAll, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/service/run';
import { describeWith } from '../helpers/prereq';

const repo = join(__dirname, '..', '..');
const mibDir = join(repo, 'mib');
const baseMibs = join(repo, 'node_modules', 'net-snmp', 'lib', 'mibs');
const mibFile = join(mibDir, 'HA-OSCAR-MIB.txt');
const persist = mkdtempSync(join(tmpdir(), 'dv7-snmptranslate-'));
afterAll(() => rmSync(persist, { recursive: true, force: true }));

async function smilint(dir: string, file: string) {
  const r = await run('smilint', ['-l', '6', file], { env: { SMIPATH: `${dir}:${baseMibs}` }, timeoutMs: 20_000 });
  return (r.stdout + r.stderr).trim();
}

async function translate(args: string[]) {
  const r = await run('snmptranslate', ['-M', `+${mibDir}:${baseMibs}`, '-m', 'HA-OSCAR-MIB', ...args], {
    env: { SNMPCONFPATH: '/nonexistent-dv7', SNMP_PERSISTENT_DIR: persist }, timeoutMs: 20_000,
  });
  // net-snmp announces the persistent directory it creates on first use: not an error.
  return { ...r, stderr: r.stderr.split('\n').filter((l) => l && !l.startsWith('Created directory:')).join('\n') };
}

describeWith({ bins: ['smilint'], packages: ['smitools'] }, 'HA-OSCAR-MIB with smilint', () => {
  it('prints nothing at level 6', async () => {
    expect(await smilint(mibDir, mibFile)).toBe('');
  });

  it('the check catches a broken copy (smilint exits 0 even then)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dv7-mib-'));
    try {
      const broken = readFileSync(mibFile, 'utf8').replace('SYNTAX      TruthValue\n    MAX-ACCESS  read-only\n    STATUS      current\n    DESCRIPTION\n        "true when this node',
        'SYNTAX      TruthValu\n    MAX-ACCESS  read-only\n    STATUS      current\n    DESCRIPTION\n        "true when this node');
      expect(broken).not.toBe(readFileSync(mibFile, 'utf8'));
      const f = join(dir, 'HA-OSCAR-MIB.txt');
      writeFileSync(f, broken);
      expect(await smilint(dir, f)).toMatch(/TruthValu/);
    } finally { rmSync(dir, { recursive: true, force: true }); }
  });
});

describeWith({ bins: ['snmptranslate'], packages: ['snmp'] }, 'HA-OSCAR-MIB in snmptranslate', () => {
  it('sits on the experimental arc and says why', async () => {
    const r = await translate(['-On', 'HA-OSCAR-MIB::haOscarMIB']);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('.1.3.6.1.3.7460');
    expect(readFileSync(mibFile, 'utf8')).toMatch(/experimental arc\s+\(1\.3\.6\.1\.3\)/);
  });

  it('has every table, the notifications and the conformance', async () => {
    const want: Record<string, string> = {
      haOscarClusterFailovers: '.1.3.6.1.3.7460.1.1.10',
      haOscarNodeState: '.1.3.6.1.3.7460.1.2.1.4',
      haOscarResourceRole: '.1.3.6.1.3.7460.1.3.1.4',
      haOscarServiceActiveNode: '.1.3.6.1.3.7460.1.4.1.4',
      haOscarLinkStatus: '.1.3.6.1.3.7460.1.5.1.3',
      haOscarRaidDegraded: '.1.3.6.1.3.7460.1.6.1.5',
      haOscarFailover: '.1.3.6.1.3.7460.0.1',
      haOscarNodeLost: '.1.3.6.1.3.7460.0.2',
      haOscarNodeJoined: '.1.3.6.1.3.7460.0.3',
      haOscarResourceFailedEvent: '.1.3.6.1.3.7460.0.4',
      haOscarLinkDown: '.1.3.6.1.3.7460.0.5',
      haOscarLinkUp: '.1.3.6.1.3.7460.0.6',
      haOscarRaidDegradedEvent: '.1.3.6.1.3.7460.0.7',
      haOscarCompliance: '.1.3.6.1.3.7460.2.1.1',
      haOscarNotificationGroup: '.1.3.6.1.3.7460.2.2.8',
    };
    for (const [name, oid] of Object.entries(want)) {
      const r = await translate(['-On', `HA-OSCAR-MIB::${name}`]);
      expect(r.stderr, name).toBe('');
      expect(r.stdout.trim(), name).toBe(oid);
    }
    const tree = await translate(['-Tp', '-IR', 'haOscarMIB']);
    expect(tree.stdout).toMatch(/Index: haOscarNodeIndex, haOscarLinkNumber/);
    expect(tree.stdout).toMatch(/Index: haOscarNodeIndex, haOscarRaidIndex/);
    expect(tree.stdout).toMatch(/dhcp\(1\), tftp\(2\), ntp\(3\), nfs\(4\), snmp\(5\)/);
    expect(tree.stdout).toMatch(/online\(1\), standby\(2\), maintenance\(3\), offline\(4\), unclean\(5\), pending\(6\)/);
  });
});

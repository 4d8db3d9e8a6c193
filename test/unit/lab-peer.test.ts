// The lab's "bare resource-agents" peer (src/lab/peer.ts): what its configuration holds, that
// Pacemaker accepts it (crm_verify on a whole CIB; crmsh loads its crm text into a CIB file),
// and that switching a CIB to it keeps the CIB's fencing and replaces everything else.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describeWith } from '../helpers/prereq';
import { root, tempDir } from '../helpers/agents';
import { writeFileAtomic } from '../../src/service/atomic';
import { runOk } from '../../src/service/run';
import { buildConfig, loadDescription, renderFullCib } from '../../src/crm/index';
import { verifyCib } from '../../src/pacemaker/cib';
import { PEER_CHECK_NAMES, fencingObjects, peerCib, peerConfig, peerCrm, peerFiles, spliceCib } from '../../src/lab/peer';
import { VIP4, VIP6 } from '../../src/lab/spec';

const crm = peerCrm();
/** The generator's CIB for the lab (examples/lab.yaml): fencing, the ha-oscar services, the VIPs. */
const labCib = renderFullCib(buildConfig(loadDescription(join(root, 'examples', 'lab.yaml'))));
const ids = (xml: string, tag: string) => [...xml.matchAll(new RegExp(`<${tag}\\b[^>]*?\\bid="([^"]+)"`, 'g'))].map((m) => m[1]);
const section = (xml: string, name: string) => new RegExp(`<${name}>[^]*?</${name}>`).exec(xml)?.[0] ?? '';

describe('the peer configuration', () => {
  it('is the VIPs, ocf:heartbeat:dhcpd and ocf:heartbeat:anything for in.tftpd, chronyd and snmpd: no ha-oscar agent, no NFS, no DHCPv6', () => {
    const agents = peerConfig().primitives.map((p) => `${p.id} ${p.agent}`);
    expect(agents).toEqual([
      'vip4 ocf:heartbeat:IPaddr2', 'vip6 ocf:heartbeat:IPaddr2', 'peer-dhcpd ocf:heartbeat:dhcpd',
      'peer-tftpd ocf:heartbeat:anything', 'peer-chronyd ocf:heartbeat:anything', 'peer-snmpd ocf:heartbeat:anything',
    ]);
    expect(crm).toMatch(new RegExp(`params ip=${VIP4.replace(/\./g, '\\.')} cidr_netmask=24 nic=eth0`));
    expect(crm).toContain(`params ip=${VIP6} cidr_netmask=64 nic=eth0 nodad=true`);
    expect(crm).toMatch(/binfile=\/usr\/sbin\/in\.tftpd/);
    expect(crm).toMatch(/binfile=\/usr\/sbin\/chronyd cmdline_options="-d -x -f /);
    expect(crm).toContain(`udp:${VIP4}:161,udp6:[${VIP6}]:161`);
    expect(crm).toMatch(/config=\/var\/lib\/ha-oscar\/lab\/dhcpd\.conf chrooted=false/);
    expect(crm).not.toMatch(/ha-oscar:|nfs|stonith|-6\b/);
    expect(PEER_CHECK_NAMES).not.toContain('dhcp v6');
  });
  it('every service runs with vip4 and starts after both VIPs; each has a 10 s monitor', () => {
    for (const id of ['peer-dhcpd', 'peer-tftpd', 'peer-chronyd', 'peer-snmpd']) {
      expect(crm).toContain(`colocation ${id}-with-vips inf: ${id} vip4`);
      expect(crm).toContain(`order vip4-then-${id} Mandatory: vip4 ${id}`);
      expect(crm).toContain(`order vip6-then-${id} Mandatory: vip6 ${id}`);
    }
    for (const p of peerConfig().primitives) expect(p.ops.filter((o) => o.name === 'monitor').map((o) => o.interval)).toEqual(['10s']);
  });
  it('its daemons\' files: chrony serves net A at local stratum 10, snmpd has the community, the TFTP root has the probe file', () => {
    const f = peerFiles();
    expect(f['peer-chrony.conf']).toMatch(/^allow 192\.0\.2\.0\/24$/m);
    expect(f['peer-chrony.conf']).toMatch(/^local stratum 10$/m);
    expect(f['peer-snmpd.conf']).toMatch(/^rocommunity6 public default$/m);
    expect(f['peer-tftp/.ha-oscar-tftp-probe']!.length).toBeGreaterThan(0);
    expect(f['dhcpd.conf']).toContain(`server-identifier ${VIP4};`);
  });
});

describe('switching a CIB to the peer (spliceCib)', () => {
  const out = spliceCib(labCib, peerConfig().primitives, peerConfig().constraints);
  it('keeps the fencing: the stonith devices, their bans, the topology, the properties', () => {
    expect(fencingObjects(labCib).ids).toEqual(['fence-head1', 'fence-head2', 'fence-heuristic', 'fence-delay']);
    expect(ids(section(out, 'resources'), 'primitive')).toEqual(['fence-head1', 'fence-head2', 'fence-heuristic', 'fence-delay', 'vip4', 'vip6', 'peer-dhcpd', 'peer-tftpd', 'peer-chronyd', 'peer-snmpd']);
    expect(ids(section(out, 'constraints'), 'rsc_location')).toEqual(['ban-fence-head1', 'ban-fence-head2']);
    expect(section(out, 'fencing-topology')).toBe(section(labCib, 'fencing-topology'));
    expect(section(out, 'crm_config')).toBe(section(labCib, 'crm_config'));
    expect(section(out, 'rsc_defaults')).toBe(section(labCib, 'rsc_defaults'));
  });
  it('is one epoch newer (a patch to it is not refused as older)', () => {
    expect(/<cib\b[^>]*\sepoch="(\d+)"/.exec(out)?.[1]).toBe(String(Number(/<cib\b[^>]*\sepoch="(\d+)"/.exec(labCib)![1]) + 1));
  });
  it('drops every other resource and constraint (the ha-oscar services, the link-health rule)', () => {
    expect(out).not.toMatch(/provider="ha-oscar"|health-link|col-oscar|vip-oscar/);
  });
});

describeWith({ bins: ['crm_verify', 'cibadmin', 'crm'], packages: ['pacemaker-cli-utils', 'crmsh'] }, 'Pacemaker accepts it', () => {
  let tmp = '';
  beforeAll(() => { tmp = tempDir('lab-peer'); });
  afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });
  it('crm_verify: the peer alone, and the generator\'s lab CIB switched to it (with its fencing)', async () => {
    const alone = await verifyCib(peerCib());
    expect(alone.problems).toEqual([]);
    expect(alone.ok).toBe(true);
    const switched = await verifyCib(spliceCib(labCib, peerConfig().primitives, peerConfig().constraints));
    expect(switched.problems).toEqual([]);
    expect(switched.ok).toBe(true);
  });
  it('crmsh loads the crm text into a CIB file, with the objects and agents named', async () => {
    const f = join(tmp, 'cib.xml');
    writeFileAtomic(f, (await runOk('cibadmin', ['--empty'], { timeoutMs: 30_000 })).stdout);
    // an empty CIB has no stonith device: Pacemaker would refuse it with stonith-enabled (the default)
    await runOk('crm', ['configure', 'load', 'update', '-'], { input: `${crm}property stonith-enabled=false\n`, env: { CIB_file: f }, timeoutMs: 120_000 });
    const xml = readFileSync(f, 'utf8');
    expect(ids(xml, 'primitive')).toEqual(['vip4', 'vip6', 'peer-dhcpd', 'peer-tftpd', 'peer-chronyd', 'peer-snmpd']);
    expect(xml).toMatch(/<primitive id="peer-dhcpd" class="ocf" provider="heartbeat" type="dhcpd">/);
    expect(ids(xml, 'rsc_order').length).toBe(8);
  });
});

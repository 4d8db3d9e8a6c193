// Every example, checked by the field's own tools:
//  - crm_verify -x on a full CIB (both heads online, quorate): no error, no warning;
//  - crmsh `crm configure load update` into an empty CIB file: loads, and gives
//    exactly the <configuration> that `--format xml` prints;
//  - corosync -t on the generated corosync.conf, in a network namespace that has
//    head1's link addresses.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWith } from '../helpers/prereq';
import { run, runOk } from '../../src/service/run';
import { writeFileAtomic } from '../../src/service/atomic';
import { loadDescription, buildConfig, renderFullCib, renderConfiguration, renderCrm, renderCorosync } from '../../src/crm/index';

const root = join(__dirname, '..', '..');
const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml')).sort();
const norm = (xml: string) => xml.replace(/<!--[\s\S]*?-->/g, '').replace(/>\s+</g, '><').trim();
const configurationOf = (cib: string) => /<configuration>[\s\S]*<\/configuration>/.exec(cib)?.[0] ?? '';

let tmp = '';
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'dv4-crm-')); });
afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

describeWith({ bins: ['crm_verify'], packages: ['pacemaker-cli-utils'] }, 'crm_verify accepts every example as a full CIB', () => {
  for (const ex of examples) {
    it(ex, async () => {
      const cfg = buildConfig(loadDescription(join(root, 'examples', ex)));
      const file = join(tmp, `${ex}.cib.xml`);
      writeFileAtomic(file, renderFullCib(cfg));
      const r = await run('crm_verify', ['-x', file, '-V']);
      expect(r.stderr + r.stdout).toBe('');
      expect(r.code).toBe(0);
    });
  }
  it('and rejects a broken one (the check can fail)', async () => {
    const cfg = buildConfig(loadDescription(join(root, 'examples', 'active-standby-pdu.yaml')));
    const file = join(tmp, 'broken.cib.xml');
    writeFileAtomic(file, renderFullCib(cfg).replace('<resource_ref id="tftpd"/>', '<resource_ref id="no-such-resource"/>'));
    const r = await run('crm_verify', ['-x', file]);
    expect(r.code).not.toBe(0);
  });
});

describeWith({ bins: ['crm', 'cibadmin', 'crm_verify'], packages: ['crmsh', 'pacemaker-cli-utils'] }, 'crmsh loads every example offline (CIB_file)', () => {
  for (const ex of examples) {
    it(ex, async () => {
      const cfg = buildConfig(loadDescription(join(root, 'examples', ex)));
      const file = join(tmp, `${ex}.crmsh.xml`);
      writeFileAtomic(file, (await runOk('cibadmin', ['--empty'])).stdout);
      // -F: the ha-oscar agents need not be installed where the tests run
      const r = await run('crm', ['-F', 'configure', 'load', 'update', '-'], { input: renderCrm(cfg), env: { CIB_file: file }, timeoutMs: 120_000 });
      // the only complaints allowed: agents not installed here, and an offline CIB has no quorum
      const errors = r.stderr.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => /ERROR:/.test(l));
      expect(errors.filter((l) => !/got no meta-data|no such resource agent|lack of quorum/.test(l))).toEqual([]);
      expect(r.code).toBe(0);
      const loaded = readFileSync(file, 'utf8');
      // the crm text and the XML are one configuration
      expect(norm(configurationOf(loaded))).toBe(norm(renderConfiguration(cfg)));
      // and the loaded CIB, with the heads online, passes crm_verify
      const online = renderFullCib(cfg).replace(/<configuration>[\s\S]*<\/configuration>/, configurationOf(loaded));
      const v = await run('crm_verify', ['--xml-pipe'], { input: online });
      expect(v.stderr).toBe('');
      expect(v.code).toBe(0);
    }, 180_000);
  }
});

describeWith({ bins: ['cibadmin'], packages: ['pacemaker-cli-utils'] }, 'the --format xml <configuration> loads with cibadmin', () => {
  for (const ex of examples) {
    it(`${ex}: cibadmin --replace --scope configuration (what pcs cluster cib-push scope=configuration does), twice`, async () => {
      const cfg = buildConfig(loadDescription(join(root, 'examples', ex)));
      const file = join(tmp, `${ex}.cibadmin.xml`);
      const conf = join(tmp, `${ex}.configuration.xml`);
      writeFileAtomic(file, (await runOk('cibadmin', ['--empty'])).stdout);
      writeFileAtomic(conf, renderConfiguration(cfg));
      await runOk('cibadmin', ['--replace', '--scope', 'configuration', '--xml-file', conf], { env: { CIB_file: file } });
      const once = readFileSync(file, 'utf8');
      expect(norm(configurationOf(once))).toBe(norm(renderConfiguration(cfg)));
      await runOk('cibadmin', ['--replace', '--scope', 'configuration', '--xml-file', conf], { env: { CIB_file: file } });
      expect(readFileSync(file, 'utf8')).toBe(once);
    });
  }
});

describeWith({ bins: ['corosync', 'ip'], root: true, packages: ['corosync', 'iproute2'] }, 'corosync -t accepts every generated corosync.conf', () => {
  const ns = `dv4-${process.pid}`;
  beforeAll(async () => {
    await runOk('ip', ['netns', 'add', ns]);
    await runOk('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  });
  afterAll(async () => { await run('ip', ['netns', 'del', ns]); });

  async function check(conf: string, addrs: string[]): Promise<{ code: number; out: string }> {
    const key = join(tmp, 'authkey');
    writeFileAtomic(key, Buffer.alloc(256, 7), { mode: 0o600 });
    const file = join(tmp, 'corosync.conf');
    // the key path is the only change: the generated file uses the default /etc/corosync/authkey
    writeFileAtomic(file, conf.replace('totem {\n', `totem {\n    keyfile: ${key}\n`));
    await run('ip', ['netns', 'exec', ns, 'ip', 'addr', 'flush', 'dev', 'lo']);
    for (const a of addrs) await runOk('ip', ['netns', 'exec', ns, 'ip', 'addr', 'add', a.includes(':') ? `${a}/128` : `${a}/32`, 'dev', 'lo']);
    const r = await run('ip', ['netns', 'exec', ns, 'corosync', '-t', '-c', file], { timeoutMs: 30_000 });
    return { code: r.code, out: r.stdout + r.stderr };
  }

  for (const ex of examples) {
    it(ex, async () => {
      const d = loadDescription(join(root, 'examples', ex));
      const h1 = d.heads[0];
      const addrs = d.corosync.links.map((n) => h1.addresses[n][d.corosync.family]!.text);
      const r = await check(renderCorosync(d), addrs);
      expect(r.out).not.toMatch(/error/i);
      expect(r.code).toBe(0);
    });
  }
  it('and fails where the host has none of the nodelist addresses (the check can fail)', async () => {
    const d = loadDescription(join(root, 'examples', 'active-standby-pdu.yaml'));
    const r = await check(renderCorosync(d), ['203.0.113.77']);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/No valid name found for local host/);
  });
});

describe('corosync.conf shape', () => {
  it('one knet link per listed network, crypto, two_node, the nodelist', () => {
    const d = loadDescription(join(root, 'examples', 'active-active.yaml'));
    const c = renderCorosync(d);
    expect(c).toMatch(/transport: knet/);
    expect(c).toMatch(/crypto_cipher: aes256\n\s+crypto_hash: sha256/);
    expect(c.match(/linknumber: \d/g)).toEqual(['linknumber: 0', 'linknumber: 1']);
    expect(c).toMatch(/two_node: 1/);
    expect(c).toMatch(/name: head1\n\s+nodeid: 1\n\s+ring0_addr: 2001:db8:b::11\n\s+ring1_addr: 2001:db8:a::11/);
    expect(c).toMatch(/ip_version: ipv6/);
    expect(c).not.toMatch(/device/);
  });
  it('with quorum.device: a net-model device instead of two_node; votes 1 for ffsplit, the default for lms', () => {
    const d = loadDescription(join(root, 'examples', 'active-standby-qdevice.yaml'));
    const q = /quorum \{[^]*?\n\}\n/.exec(renderCorosync(d))![0];
    expect(q).not.toMatch(/two_node/);
    expect(q).toMatch(/device \{\n\s+model: net\n\s+timeout: 5500\n\s+votes: 1\n\s+net \{\n\s+host: 192\.0\.2\.50\n\s+algorithm: ffsplit\n\s+tie_breaker: lowest\n\s+tls: on\n\s+\}/);
    expect(q).toMatch(/heuristics \{\n\s+mode: sync\n\s+exec_ping0: \/usr\/bin\/ping -q -n -c 1 -W 1 203\.0\.113\.250\n\s+\}/);
    d.quorum.device = { ...d.quorum.device!, algorithm: 'lms', port: 5404, heuristics: undefined };
    const l = renderCorosync(d);
    expect(l).not.toMatch(/votes:/);
    expect(l).toMatch(/port: 5404\n\s+algorithm: lms/);
    expect(l).not.toMatch(/heuristics/);
  });
});

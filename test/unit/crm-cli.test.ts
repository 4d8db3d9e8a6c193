// `ha-oscar config ...` (src/cli/config.ts): arguments, outputs, exit codes, one-line errors.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/service/atomic';
import { main } from '../../src/cli/config';

const root = join(__dirname, '..', '..');
const lab = join(root, 'examples', 'active-standby-pdu.yaml');
let tmp = '';
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'dv4-cli-')); });
afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

/** Run main(argv), capturing stdout (console.log + process.stdout.write) and stderr. */
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = ''; let err = '';
  const log = console.log; const error = console.error; const write = process.stdout.write;
  console.log = (...a: unknown[]) => { out += `${a.join(' ')}\n`; };
  console.error = (...a: unknown[]) => { err += `${a.join(' ')}\n`; };
  process.stdout.write = ((s: string | Uint8Array) => { out += String(s); return true; }) as typeof process.stdout.write;
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    console.log = log; console.error = error; process.stdout.write = write;
  }
}

describe('ha-oscar config', () => {
  it('crm writes crmsh syntax to stdout, the golden text', async () => {
    const r = await cli('crm', lab);
    expect(r.code).toBe(0);
    expect(r.out).toBe(readFileSync(join(root, 'test', 'fixtures', 'crm', 'active-standby-pdu.crm'), 'utf8'));
  });
  it('crm --format xml writes the <configuration>; --format cib a whole CIB without fake status', async () => {
    const x = await cli('crm', lab, '--format', 'xml');
    expect(x.out).toBe(readFileSync(join(root, 'test', 'fixtures', 'crm', 'active-standby-pdu.xml'), 'utf8'));
    const c = await cli('crm', '--format=cib', lab);
    expect(c.out).toMatch(/^<cib [^>]*validate-with="pacemaker-3\.9"[^>]*>\n  <configuration>/);
    expect(c.out).toMatch(/<status\/>\n<\/cib>\n$/);
    expect(c.out).not.toMatch(/have-quorum|node_state/);
  });
  it('pcs writes the pcs commands (the golden text) to stdout, or with -o to a file; the usage names it', async () => {
    const golden = readFileSync(join(root, 'test', 'fixtures', 'crm', 'active-standby-pdu.pcs'), 'utf8');
    const r = await cli('pcs', lab);
    expect(r).toEqual({ code: 0, out: golden, err: '' });
    const out = join(tmp, 'cluster.pcs');
    expect(await cli('pcs', lab, '-o', out)).toEqual({ code: 0, out: '', err: '' });
    expect(readFileSync(out, 'utf8')).toBe(golden);
    expect((await cli('--help')).out).toMatch(/^ {2}pcs FILE \[-o OUT\] /m);
    const missing = await cli('pcs');
    expect(missing.code).toBe(2);
    expect(missing.err).toMatch(/^ha-oscar config pcs: FILE missing/);
  });
  it('corosync -o writes the file (atomically), nothing on stdout', async () => {
    const out = join(tmp, 'corosync.conf');
    const r = await cli('corosync', lab, '-o', out);
    expect(r).toEqual({ code: 0, out: '', err: '' });
    expect(readFileSync(out, 'utf8')).toBe(readFileSync(join(root, 'test', 'fixtures', 'crm', 'active-standby-pdu.corosync.conf'), 'utf8'));
  });
  it('check says ok for a good file', async () => {
    const r = await cli('check', lab);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^.*active-standby-pdu\.yaml: ok \(active-standby, heads head1 head2, 1 service set\(s\), fencing on, crm_verify: /);
  });
  it('check gives one line per problem, each naming the field, and exit 1', async () => {
    const bad = join(tmp, 'bad.yaml');
    writeFileAtomic(bad, readFileSync(lab, 'utf8')
      .replace('vips: [192.0.2.100, "2001:db8:a::100"]', 'vips: [192.0.2.100, "2001:db8:f::100"]')
      .replace('services: [dhcp, tftp, ntp, nfs, snmp, statesync]', 'services: [dhcp, tftp, ntp, nfs, snmp, statesync, ldap]'));
    const r = await cli('check', bad);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err.trimEnd().split('\n')).toEqual([
      'sets[0].vips[1]: VIP 2001:db8:f::100 is outside every network (ipv6 networks: 2001:db8:a::/64, 2001:db8:b::/64)',
      "sets[0].services[6]: unknown service 'ldap' (known: dhcp, tftp, ntp, nfs, snmp, statesync)",
    ]);
  });
  it('a missing file, a bad option, a missing argument: one line, no stack trace', async () => {
    const missing = await cli('check', join(tmp, 'nope.yaml'));
    expect(missing.code).toBe(1);
    expect(missing.err).toBe(`ha-oscar config check: ${join(tmp, 'nope.yaml')}: cannot read (ENOENT)\n`);
    const opt = await cli('crm', lab, '--format', 'json');
    expect(opt.code).toBe(2);
    expect(opt.err.split('\n')[0]).toBe("ha-oscar config: --format must be crm, xml or cib, not 'json'");
    const arg = await cli('corosync');
    expect(arg.code).toBe(2);
    expect(arg.err).toMatch(/^ha-oscar config corosync: FILE missing/);
    const cmd = await cli('frobnicate', lab);
    expect(cmd.code).toBe(2);
    expect(cmd.err.split('\n')[0]).toBe("ha-oscar config: unknown command 'frobnicate'");
    for (const r of [missing, opt, arg, cmd]) expect(r.err).not.toMatch(/\n\s+at /);
  });
  it('-o to a directory that does not exist fails in one line and leaves nothing behind', async () => {
    const out = join(tmp, 'no', 'such', 'dir', 'corosync.conf');
    const r = await cli('corosync', lab, '-o', out);
    expect(r.code).toBe(1);
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    expect(existsSync(out)).toBe(false);
  });
});

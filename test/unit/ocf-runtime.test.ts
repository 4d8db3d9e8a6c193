// The OCF runtime, through a real agent process (test/fixtures/agents/dummy-agent.ts, bundled
// like every shipped agent): meta-data, env parsing, dispatch, every exit-code path, bad input.
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from '../helpers/sync';
import { join } from 'node:path';
import { runAgent, tempDir } from '../helpers/agents';
import { bundleEntry } from '../helpers/build';
import { describeWith } from '../helpers/prereq';

let agent: string;
let dir: string;
const state = () => join(dir, `state-${Math.random().toString(36).slice(2)}`);

beforeAll(async () => {
  dir = tempDir('ocf-runtime');
  agent = await bundleEntry('test/fixtures/agents/dummy-agent.ts', join(dir, 'dummy'));
});

describe('dispatch and exit codes', () => {
  it('meta-data and usage succeed without any parameter', () => {
    const md = runAgent(agent, 'meta-data');
    expect(md.code).toBe(0);
    expect(md.stdout).toContain('<resource-agent name="dummy"');
    expect(runAgent(agent, 'usage').code).toBe(0);
  });
  it('an unknown action exits 3 (OCF_ERR_UNIMPLEMENTED)', () => {
    const r = runAgent(agent, 'migrate_to', { state: state() });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('usage:');
    expect(runAgent(agent, 'frobnicate', { state: state() }).code).toBe(3);
  });
  it('no action at all exits 2 (OCF_ERR_ARGS) with usage', () => {
    const r = runAgent(agent, undefined);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('usage:');
  });
  it('runs the lifecycle: monitor 7, start 0, monitor 0, start again 0, stop 0, stop again 0, monitor 7', () => {
    const s = { state: state() };
    expect(runAgent(agent, 'monitor', s).code).toBe(7);
    expect(runAgent(agent, 'start', s).code).toBe(0);
    expect(runAgent(agent, 'monitor', s).code).toBe(0);
    expect(runAgent(agent, 'start', s).code).toBe(0);
    expect(runAgent(agent, 'stop', s).code).toBe(0);
    expect(runAgent(agent, 'stop', s).code).toBe(0);
    expect(runAgent(agent, 'monitor', s).code).toBe(7);
  });
  it('validate-all exits 0 for good parameters and runs the agent\'s own checks', () => {
    expect(runAgent(agent, 'validate-all', { state: state() }).code).toBe(0);
    const r = runAgent(agent, 'validate-all', { state: state(), mode: 'slow', count: '7' });
    expect(r.code).toBe(6);
    expect(r.reasons).toEqual(['mode=slow allows count up to 5']);
  });
  it('reload-agent is an action only because the agent declares reload', () => {
    const s = { state: state() };
    runAgent(agent, 'start', s);
    expect(runAgent(agent, 'reload-agent', { ...s, count: '4' }).code).toBe(0);
    expect(JSON.parse(readFileSync(s.state, 'utf8'))).toMatchObject({ count: 4, reloaded: true });
    expect(runAgent(agent, 'promote', s).code).toBe(3);
  });
  it('a callback error becomes OCF_ERR_GENERIC with a one-line reason and no stack trace', () => {
    const r = runAgent(agent, 'start', { state: state() }, { DUMMY_THROW: 'disk on fire\n  at line two' });
    expect(r.code).toBe(1);
    expect(r.reasons).toEqual(['start failed: disk on fire at line two']);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
  it('an OcfError carries its own code to the exit status', () => {
    const s = { state: state() };
    writeFileSync(s.state, '"broken"');
    expect(runAgent(agent, 'monitor', s, { OCF_CHECK_LEVEL: '10', OCF_RESKEY_CRM_meta_interval: '60000' }).code).toBe(1);
    expect(runAgent(agent, 'monitor', s, { OCF_CHECK_LEVEL: '0', OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(0);
  });
  it('finishes inside OCF_RESKEY_CRM_meta_timeout, before Pacemaker would kill it', () => {
    const t0 = Date.now();
    const r = runAgent(agent, 'start', { state: state() }, { DUMMY_SLEEP_MS: '30000', OCF_RESKEY_CRM_meta_timeout: '3000' });
    const took = Date.now() - t0;
    expect(r.code).toBe(1);
    expect(r.reasons).toEqual(['start did not finish within 3s']);
    // cut short by the runtime (the callback sleeps 30 s); process start-up on a loaded machine is on top
    expect(took).toBeLessThan(10_000);
  });
});

describe('monitor: probes and check levels', () => {
  it('tells a probe (interval 0) from a recurring monitor and passes OCF_CHECK_LEVEL', () => {
    const s = { state: state() };
    runAgent(agent, 'start', s);
    expect(runAgent(agent, 'monitor', s, { OCF_RESKEY_CRM_meta_interval: '0' }).stdout).toContain('probe=true level=0');
    expect(runAgent(agent, 'monitor', s, { OCF_RESKEY_CRM_meta_interval: '10000', OCF_CHECK_LEVEL: '20' }).stdout).toContain('probe=false level=20');
    expect(runAgent(agent, 'monitor', s, { OCF_RESKEY_CRM_meta_interval: '10000', OCF_CHECK_LEVEL: 'junk' }).stdout).toContain('level=0');
  });
  it('a missing binary: OCF_ERR_INSTALLED for start, not running for a probe, success for stop', () => {
    const s = { state: state(), binary: 'no-such-binary-ha-oscar' };
    const st = runAgent(agent, 'start', s);
    expect(st.code).toBe(5);
    expect(st.reasons[0]).toContain('no-such-binary-ha-oscar is not installed');
    expect(runAgent(agent, 'monitor', s, { OCF_RESKEY_CRM_meta_interval: '0' }).code).toBe(7);
    expect(runAgent(agent, 'monitor', s, { OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(5);
    expect(runAgent(agent, 'stop', s).code).toBe(0);
    expect(runAgent(agent, 'validate-all', { ...s, binary: 'ls' }).code).toBe(0);
  });
  it('honours ocf-tester\'s OCF_TESTER_FAIL_HAVE_BINARY during its probe test', () => {
    const s = { state: state(), binary: 'ls' };
    expect(runAgent(agent, 'monitor', s, { OCF_RESKEY_CRM_meta_interval: '0', OCF_TESTER_FAIL_HAVE_BINARY: '1' }).code).toBe(7);
  });
});

describe('parameters from OCF_RESKEY_*', () => {
  it('parses typed values and applies defaults', () => {
    const s = { state: state() };
    runAgent(agent, 'start', s);
    expect(runAgent(agent, 'monitor', s).stdout).toContain('count=3 flag=false mode=fast');
    expect(runAgent(agent, 'monitor', { ...s, count: ' 7 ', flag: 'YES', mode: 'slow' }).stdout).toContain('count=7 flag=true mode=slow');
    expect(runAgent(agent, 'monitor', { ...s, count: '', flag: '' }).stdout).toContain('count=3 flag=false');
  });
  it('moves a deprecated parameter to its replacement and warns', () => {
    const s = { state: state() };
    runAgent(agent, 'start', s);
    const r = runAgent(agent, 'monitor', { ...s, old_count: '9' });
    expect(r.stdout).toContain('count=9');
    expect(r.stderr).toContain("parameter 'old_count' is deprecated; use 'count'");
  });
  const bad: [string, Record<string, string>, string][] = [
    ['missing required', {}, "required parameter 'state' is not set"],
    ['integer with letters', { count: '3x' }, "parameter 'count' must be an integer"],
    ['integer out of range', { count: '11' }, "parameter 'count' must be at most 10, not 11"],
    ['boolean junk', { flag: 'maybe' }, "parameter 'flag' must be a boolean"],
    ['select outside options', { mode: 'warp' }, "parameter 'mode' must be one of fast, slow"],
    ['relative path', { state: 'relative/x' }, "parameter 'state' must be an absolute path"],
    ['newline', { state: '/tmp/a\nb' }, "parameter 'state' contains a control character"],
    ['64 KiB string', { state: `/${'a'.repeat(65536)}` }, "parameter 'state' is too long (65537 characters, at most 4096)"],
  ];
  for (const [what, extra, reason] of bad) {
    it(`bad input (${what}) gets OCF_ERR_CONFIGURED and one clear line`, () => {
      const params = { state: state(), ...extra };
      if (what === 'missing required') delete (params as Record<string, string>).state;
      for (const action of ['validate-all', 'start', 'monitor']) {
        const r = runAgent(agent, action, params);
        expect(r.code, `${action}: ${r.stderr}`).toBe(6);
        expect(r.reasons).toHaveLength(1);
        expect(r.reasons[0]).toContain(reason);
        expect(r.reasons[0].length).toBeLessThan(400);
        expect(r.stderr).not.toMatch(/\n\s+at /);
      }
      // stop succeeds: nothing can have been started with parameters that do not validate
      expect(runAgent(agent, 'stop', params).code).toBe(0);
    });
  }
  it('never shows a secret parameter\'s value in a reason or log', () => {
    const r = runAgent(agent, 'validate-all', { state: state(), secret: 'Hunter2-TOPSECRET' }, { HA_debug: '1' });
    expect(r.code).toBe(6);
    expect(r.reasons[0]).toContain("parameter 'secret' must be lowercase letters, not (hidden)");
    expect(r.stderr + r.stdout).not.toContain('TOPSECRET');
  });
});

describe('logging like ocf_log', () => {
  it('writes tagged lines to HA_LOGFILE, debug only with HA_debug=1, and exit reasons to stderr', () => {
    const log = join(dir, 'ha.log');
    const s = { state: state(), old_count: '2' };
    runAgent(agent, 'monitor', s, { HA_LOGFILE: log, OCF_RESOURCE_INSTANCE: 'dummy-1' });
    let text = readFileSync(log, 'utf8');
    expect(text).toMatch(/^dummy\(dummy-1\)\[\d+\]:\t\S+ WARNING: parameter 'old_count' is deprecated/m);
    expect(text).not.toContain('DEBUG');
    runAgent(agent, 'start', s, { HA_LOGFILE: log, HA_debug: '1', OCF_RESOURCE_INSTANCE: 'dummy-1' });
    text = readFileSync(log, 'utf8');
    expect(text).toContain('DEBUG: start: OCF_SUCCESS');
    const r = runAgent(agent, 'validate-all', { state: 'x' }, { HA_LOGFILE: log });
    expect(r.stderr).toMatch(/^ocf-exit-reason:parameter 'state' must be an absolute path/m);
    expect(readFileSync(log, 'utf8')).toContain("ERROR: parameter 'state' must be an absolute path");
  });
});

describeWith({ bins: ['xmllint'], packages: ['libxml2-utils', 'resource-agents'] }, 'meta-data', () => {
  it('validates against resource-agents\' ra-api-1.dtd with xmllint --valid, as ocf-tester checks it', () => {
    expect(existsSync('/usr/share/resource-agents/ra-api-1.dtd')).toBe(true);
    const xml = runAgent(agent, 'meta-data').stdout;
    const r = spawnSync('xmllint', ['--noout', '--valid', '-'], { input: xml, cwd: '/usr/share/resource-agents', encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
  it('claims OCF 1.1 and carries unique-group, reloadable, depths, reload-agent and select options', () => {
    const xml = runAgent(agent, 'meta-data').stdout;
    expect(xml).toContain('<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd"');
    expect(xml).toContain('<version>1.1</version>');
    expect(xml).toMatch(/<parameter name="state" required="1" unique-group="state">/);
    expect(xml).toMatch(/<parameter name="count" required="0" reloadable="1">/);
    expect(xml).toContain('<action name="monitor" timeout="20s" interval="60s" depth="10"/>');
    expect(xml).toContain('<action name="reload-agent"');
    expect(xml).toContain('Allowed values: fast, slow.');
    expect(xml).toContain('(deprecated, use count)');
  });
});

describe('address checks', () => {
  it('accepts IPv4/IPv6 literals and refuses look-alikes', async () => {
    const { isIP, isIPv6, checkAddressList } = await import('../../src/ocf/params');
    for (const ok of ['192.0.2.1', '2001:db8::1', '::1', '::', '2001:db8:a::100', '::ffff:192.0.2.1', '1:2:3:4:5:6:7:8']) expect(isIP(ok), ok).toBe(true);
    for (const bad of ['2001:db8:::1', ':::', '1:::2', '256.0.0.1', '1.2.3', '1:2:3:4:5:6:7:8:9', '2001:db8::1::2', 'fe80::1%eth0', '', 'localhost']) expect(isIP(bad), bad).toBe(false);
    expect(isIPv6('192.0.2.1')).toBe(false);
    expect(checkAddressList('192.0.2.1, 2001:db8::1')).toBeUndefined();
    expect(checkAddressList('192.0.2.1 2001:db8:::1')).toContain('"2001:db8:::1" is not one');
  });
});

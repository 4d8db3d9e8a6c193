// fence_haoscar_delay (src/fence/delay.ts): the split-brain delay, applied only when the head to be
// fenced still answers ping. The decision is tested branch by branch; the bundled agent runs for
// real in a network namespace of its own (a veth pair, both ends inside: 192.0.2.1 / 2001:db8::1
// are its own addresses and answer, .9 / ::9 are on the link but nobody answers, 198.51.100.9 /
// 2001:db8:b::9 have no route, so ping fails with an error there), with stand-ins for crm_node
// and crm_mon first in PATH (a crm_mon fixture: head1 runs 9 resources, head2 2).
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../src/service/run.js';
import { decide, parsePeers, pingArgs, type Probe } from '../../src/fence/delay.js';
import { describeWith } from '../helpers/prereq.js';

const root = resolve(__dirname, '../..');

describe('fence_haoscar_delay: the decision', () => {
  const o = { priorityDelay: 5, tieDelayMax: 3, random: () => 0.5 };
  const silent: Probe = { answered: [], unknown: [] };
  const answers = (...a: string[]): Probe => ({ answered: a, unknown: [] });
  it('a target that answers nowhere is fenced at once, whatever it runs', () => {
    expect(decide('head1', 'head2', silent, { target: 9, local: 0 }, o)).toMatchObject({ waitS: 0 });
    expect(decide('head1', 'head2', silent, undefined, o)).toEqual({ waitS: 0, why: 'head1 answers on none of its addresses: it is down or cut off from every network; no delay' });
  });
  it('a target that answers: the heavier head is fenced after priority_delay, the lighter at once, equal heads after a random tie delay', () => {
    expect(decide('head1', 'head2', answers('203.0.113.11'), { target: 9, local: 2 }, o)).toEqual({ waitS: 5, why: expect.stringMatching(/^head1 answers on 203.0.113.11; head1 runs 9 resource\(s\), head2 2: priority_delay 5 s/) });
    expect(decide('head2', 'head1', answers('203.0.113.12'), { target: 2, local: 9 }, o)).toMatchObject({ waitS: 0 });
    expect(decide('head2', 'head1', answers('203.0.113.12'), { target: 4, local: 4 }, o)).toMatchObject({ waitS: 1.5 });
    expect(decide('head2', 'head1', answers('203.0.113.12'), { target: 4, local: 4 }, { ...o, tieDelayMax: 0 })).toMatchObject({ waitS: 0 });
  });
  it('cannot tell: an address that could not be checked counts as alive; unknown resources wait priority_delay', () => {
    const unknown: Probe = { answered: [], unknown: [{ addr: '198.51.100.11', why: 'connect: Network is unreachable' }] };
    const d = decide('head1', 'head2', unknown, { target: 9, local: 2 }, o);
    expect(d).toEqual({ waitS: 5, why: expect.stringMatching(/^head1 could not be checked on 198.51.100.11 \(connect: Network is unreachable\), so it may be alive; .*priority_delay 5 s/) });
    // the lighter head is fenced at once even then: in a race it is the one that must lose
    expect(decide('head2', 'head1', unknown, { target: 2, local: 9 }, o)).toMatchObject({ waitS: 0 });
    expect(decide('head1', undefined, answers('192.0.2.11'), undefined, o)).toMatchObject({ waitS: 5, why: expect.stringContaining('resources per head are unknown') });
    expect(decide('head1', undefined, unknown, undefined, o)).toMatchObject({ waitS: 5 });
  });
  it('ping: fractions of a second (-W), no shell, one process per address', () => {
    expect(pingArgs('2001:db8::9', 2, 0.2)).toEqual(['-n', '-q', '-c', '2', '-i', '0.1', '-W', '0.2', '2001:db8::9']);
  });
  it('peers: NAME=ADDR[,ADDR...] separated by ";", every address checked', () => {
    expect([...parsePeers('head1=192.0.2.11,2001:db8:a::11; head2=192.0.2.12').entries()])
      .toEqual([['head1', ['192.0.2.11', '2001:db8:a::11']], ['head2', ['192.0.2.12']]]);
    expect(() => parsePeers('head1=192.0.2.300')).toThrow("Failed: peers: '192.0.2.300' (head1) is not an IPv4 or IPv6 address");
    expect(() => parsePeers('head1')).toThrow("Failed: peers entry 'head1' is not NAME=ADDRESS[,ADDRESS...]");
    expect(() => parsePeers('head1=192.0.2.1;head1=192.0.2.2')).toThrow('Failed: peers: head1 is listed twice');
    expect(() => parsePeers('head1=')).toThrow('Failed: peers: head1 has no address');
    expect(() => parsePeers('he;ad=192.0.2.1')).toThrow("Failed: peers entry 'he' is not NAME=ADDRESS[,ADDRESS...]");
    expect(() => parsePeers('-x=192.0.2.1')).toThrow("Failed: peers: '-x' is not a node name");
    expect(() => parsePeers(' ; ')).toThrow('Failed: peers is empty');
  });
});

describeWith({ bins: ['ip', 'ping'], root: true, packages: ['iproute2', 'iputils-ping'] }, 'fence_haoscar_delay, the bundled agent in a private netns', () => {
  let dir: string;
  let agent: string;
  let bin: string;
  const ns = `hod-delay-${process.pid}`;
  let nsMade = false;
  const ipBin = (process.env.PATH ?? '').split(':').map((d) => join(d, 'ip')).find((f) => existsSync(f)) ?? 'ip';

  /** Run the agent in the netns, options on stdin (as the fencer does); `local`: what crm_node -n says, or fails. */
  async function fence(opts: Record<string, string>, local: string | undefined, path = `${bin}:${process.env.PATH}`) {
    writeFileSync(join(dir, 'local'), local ?? '');
    const input = Object.entries(opts).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
    const t0 = Date.now();
    // ip by its full path: `path` may be one without it (the agent then finds no ping either)
    const r = await run(ipBin, ['netns', 'exec', ns, process.execPath, agent], { input, timeoutMs: 60_000, env: { PATH: path, HOD_DIR: dir } });
    return { ...r, ms: Date.now() - t0 };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hod-delay-'));
    agent = join(dir, 'fence_haoscar_delay');
    const build = await import(join(root, 'scripts/build.mjs'));
    await build.bundle(join(root, 'agents/fence_haoscar_delay.ts'), agent);
    // stand-ins for Pacemaker's crm_node and crm_mon (the lab tests run the real ones)
    bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'crm_node'), `#!${process.execPath}\nconst n = require('fs').readFileSync(process.env.HOD_DIR + '/local', 'utf8');\nif (!n) { console.error('error: Could not connect to controller'); process.exit(102); }\nconsole.log(n);\n`);
    writeFileSync(join(bin, 'crm_mon'), `#!${process.execPath}\nprocess.stdout.write(require('fs').readFileSync(${JSON.stringify(join(root, 'test/fixtures/crm_mon/two-heads.xml'))}, 'utf8'));\n`);
    for (const f of ['crm_node', 'crm_mon']) chmodSync(join(bin, f), 0o755);
    const mk = await run('ip', ['netns', 'add', ns], { timeoutMs: 10_000 });
    if (mk.code !== 0) throw new Error(`ip netns add: ${mk.stderr.trim()}`);
    nsMade = true;
    const r = await run('ip', ['-n', ns, '-batch', '-'], {
      timeoutMs: 10_000,
      input: 'link set lo up\nlink add d0 type veth peer name d1\nlink set d1 up\nlink set d0 up\naddr add 192.0.2.1/24 dev d0\naddr add 2001:db8::1/64 dev d0 nodad\n',
    });
    if (r.code !== 0) throw new Error(`ip -batch: ${r.stderr.trim()}`);
  }, 60_000);

  afterAll(async () => {
    if (nsMade) await run('ip', ['netns', 'del', ns], { timeoutMs: 10_000 });
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const peers = (h1: string, h2: string) => `head1=${h1};head2=${h2}`;

  it('power-off: the target answers on none of its addresses (v4 and v6) -> no delay, even though it runs the services', async () => {
    const r = await fence({ action: 'off', plug: 'head1', peers: peers('192.0.2.9,2001:db8::9', '192.0.2.1'), priority_delay: '30' }, 'head2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('Success: no delay\n');
    expect(r.stderr).toMatch(/^WARNING: head1 answers on none of its addresses: it is down or cut off from every network; no delay \(checked in \d+\.\d\d s\)\n$/);
    expect(r.ms).toBeLessThan(30_000); // it did not wait priority_delay
  }, 60_000);

  it('split brain, the target answers on one address of several and runs more (9 vs 2) -> it is fenced after priority_delay', async () => {
    const r = await fence({ action: 'reboot', port: 'head1', peers: peers('192.0.2.9,2001:db8::1', '192.0.2.1'), priority_delay: '2' }, 'head2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('Success: waited 2 s\n');
    expect(r.stderr).toContain('head1 answers on 2001:db8::1; head1 runs 9 resource(s), head2 2: priority_delay 2 s');
    expect(r.ms).toBeGreaterThanOrEqual(2000);
  }, 60_000);

  it('split brain, the target answers and runs less -> no delay (this head keeps its resources)', async () => {
    const r = await fence({ action: 'off', nodename: 'head2', peers: peers('192.0.2.1', '192.0.2.1'), priority_delay: '30' }, 'head1');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('Success: no delay\n');
    expect(r.stderr).toContain('head2 answers on 192.0.2.1; head2 runs 2 resource(s), head1 9: no delay');
  }, 60_000);

  it('cannot tell: the target answers and crm_node fails -> the safe side, priority_delay', async () => {
    const r = await fence({ action: 'off', plug: 'head2', peers: peers('192.0.2.9', '192.0.2.1'), priority_delay: '1' }, undefined);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('Success: waited 1 s\n');
    expect(r.stderr).toContain('crm_node -n failed: error: Could not connect to controller');
    expect(r.stderr).toContain('head2 answers on 192.0.2.1, and the resources per head are unknown: priority_delay 1 s');
  }, 60_000);

  it('cannot tell: no route to the target\'s addresses (ping errors), or no ping at all -> counted as alive, so the heavier head waits', async () => {
    const r = await fence({ action: 'off', plug: 'head1', peers: peers('192.0.2.9,198.51.100.9,2001:db8:b::9', '192.0.2.1'), priority_delay: '1' }, 'head2');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('Success: waited 1 s\n');
    expect(r.stderr).toMatch(/head1 could not be checked on 198\.51\.100\.9 \([^)]*unreachable[^)]*\), 2001:db8:b::9 \([^)]*unreachable[^)]*\), so it may be alive; head1 runs 9 resource\(s\), head2 2: priority_delay 1 s/i);
    const noPing = await fence({ action: 'off', plug: 'head1', peers: peers('192.0.2.9', '192.0.2.1'), priority_delay: '1' }, 'head2', bin);
    expect(noPing.code, noPing.stderr).toBe(0);
    expect(noPing.stdout).toBe('Success: waited 1 s\n');
    expect(noPing.stderr).toMatch(/head1 could not be checked on 192\.0\.2\.9 \(ping cannot run: [^)]*ENOENT[^)]*\)/);
  }, 60_000);

  it('on, status, monitor, list touch nothing; a head not in peers gets no delay', async () => {
    const p = peers('192.0.2.9', '192.0.2.1');
    expect((await fence({ action: 'on', plug: 'head1', peers: p }, 'head2')).code).toBe(0);
    expect((await fence({ action: 'monitor', peers: p }, 'head2')).code).toBe(0);
    const st = await fence({ action: 'status', plug: 'head1', peers: p }, 'head2');
    expect([st.code, st.stdout]).toEqual([0, 'Status: ON\n']);
    expect((await fence({ action: 'list', peers: p }, 'head2')).stdout).toBe('head1,\nhead2,\n');
    const other = await fence({ action: 'off', plug: 'head3', peers: p, priority_delay: '30' }, 'head2');
    expect([other.code, other.stdout]).toEqual([0, 'Success: no delay\n']);
    expect(other.stderr).toContain('head3 is not in peers: no delay');
  }, 60_000);

  it('bad input: one line and exit 1, no stack trace (the agent has no secret parameter); metadata lists peers as required', async () => {
    for (const [o, msg] of [
      [{ peers: 'head1=not-an-ip' }, "Failed: peers: 'not-an-ip' (head1) is not an IPv4 or IPv6 address"],
      [{ peers: 'head1:192.0.2.1' }, "Failed: peers entry 'head1:192.0.2.1' is not NAME=ADDRESS[,ADDRESS...]"],
      [{}, 'Failed: peers is empty'],
      [{ peers: 'head1=192.0.2.1', priority_delay: 'soon' }, "Failed: priority_delay must be a non-negative number, got 'soon'"],
      [{ peers: 'head1=192.0.2.1', ping_timeout: '0' }, "Failed: ping_timeout must be 0.01..10 seconds, got '0'"],
      [{ peers: 'head1=192.0.2.1', ping_count: '0' }, "Failed: ping_count must be 1..10, got '0'"],
      [{ peers: 'head1=192.0.2.1', ping_count: '1.5' }, "Failed: ping_count must be 1..10, got '1.5'"],
    ] as [Record<string, string>, string][]) {
      const r = await fence({ action: 'off', plug: 'head1', ...o }, 'head2');
      expect(r.code, msg).toBe(1);
      expect(r.stderr.split('\n')[0]).toBe(`ERROR: ${msg}`);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.stdout).toBe('');
    }
    // validate-all fails the same way, before any ping
    const v = await fence({ action: 'validate-all', peers: 'head1=192.0.2.x' }, 'head2');
    expect([v.code, v.stderr.split('\n')[0]]).toEqual([1, "ERROR: Failed: peers: '192.0.2.x' (head1) is not an IPv4 or IPv6 address"]);
    const md = await run(process.execPath, [agent, '-o', 'metadata'], { timeoutMs: 30_000 });
    expect(md.code).toBe(0);
    expect(md.stdout).toContain('<resource-agent name="fence_haoscar_delay"');
    expect(md.stdout).toMatch(/<parameter name="peers" unique="0" required="1"/);
    for (const p of ['priority_delay', 'tie_delay_max', 'ping_count', 'ping_timeout', 'plug']) expect(md.stdout).toContain(`<parameter name="${p}"`);
  }, 60_000);
});

// Manual fencing through Pacemaker's own fencer: a stand-alone pacemaker-fenced in a
// network namespace of our own (its IPC sockets are per namespace, so it meets no other
// fencer), fence_haoscar registered as a device, the lab PDU process as the power switch.
// `stonith_admin --reboot head2` must switch exactly head2's outlet off and on again;
// a failing outlet must make the fencing fail.
import { it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync, copyFileSync, chmodSync, renameSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../src/service/run.js';
import { writeFileAtomic } from '../../src/service/atomic.js';
import { describeWith, isCI } from '../helpers/prereq.js';

const root = resolve(__dirname, '../..');
const FENCED = '/usr/lib/pacemaker/pacemaker-fenced';
const hasFenced = existsSync(FENCED);
// A throwaway community for a PDU that only exists on this namespace's loopback
// (stonith_admin --register only takes device options on its command line).
const COMM = 'dv8-ns-only';

const need = { bins: ['ip', 'stonith_admin', ...(hasFenced || isCI ? [] : ['pacemaker-fenced'])], root: true, packages: ['pacemaker', 'pacemaker-cli-utils', 'iproute2'] };

describeWith(need, 'stonith_admin fences through fence_haoscar and the lab PDU (stand-alone fencer in a private netns)', () => {
  let dir: string;
  const ns = `dv8-fence-${process.pid}`;
  let nsMade = false;
  let installed: string | undefined;
  let agentName = '';
  const kids: ChildProcess[] = [];
  let pduOut = '';
  let stateDir: string;

  const inNs = (cmd: string, args: string[], timeoutMs = 60_000) => run('ip', ['netns', 'exec', ns, cmd, ...args], { timeoutMs });
  const outlet = (n: string) => readFileSync(join(stateDir, n), 'utf8').trim();

  beforeAll(async () => {
    if (!hasFenced) throw new Error(`missing ${FENCED} (apt-get install pacemaker)`);
    dir = mkdtempSync(join(tmpdir(), 'dv8-fenced-'));
    stateDir = join(dir, 'outlets');
    const build = await import(join(root, 'scripts/build.mjs'));
    const agentBin = join(dir, 'fence_haoscar');
    const pduBin = join(dir, 'lab-pdu.cjs');
    await build.bundle(join(root, 'agents/fence_haoscar.ts'), agentBin);
    await build.bundle(join(root, 'src/lab/pdu/main.ts'), pduBin);

    // Install for the fencer under a name of our own: never over anyone's file, and not
    // shared with fence-stonith.test.ts (which owns /usr/sbin/fence_haoscar while it runs).
    agentName = `fence_haoscar_dv8p${process.pid}`;
    const dest = `/usr/sbin/${agentName}`;
    if (!existsSync(dest)) {
      const tmp = `/usr/sbin/.${agentName}.tmp-${process.pid}`;
      copyFileSync(agentBin, tmp);
      chmodSync(tmp, 0o755);
      renameSync(tmp, dest);
      installed = dest;
    }

    const mk = await run('ip', ['netns', 'add', ns], { timeoutMs: 10_000 });
    if (mk.code !== 0) throw new Error(`ip netns add: ${mk.stderr.trim()}`);
    nsMade = true;
    await run('ip', ['-n', ns, 'link', 'set', 'lo', 'up'], { timeoutMs: 10_000 });

    // The PDU's outlets: head1, head2, spare. The hook refuses to cut "spare".
    const hook = join(dir, 'hook');
    writeFileAtomic(hook, '#!/bin/sh\nif [ "$1" = off ] && [ "$3" = spare ]; then echo "relay stuck" >&2; exit 1; fi\nexit 0\n', { mode: 0o755 });
    const cfg = join(dir, 'pdu.yaml');
    writeFileAtomic(cfg, `port: 16161\naddresses: ["127.0.0.1"]\ncommunities: ["${COMM}"]\noutlets: [head1, head2, spare]\nstateDir: ${stateDir}\nhook: ${hook}\n`, { mode: 0o600 });
    const pdu = spawn('ip', ['netns', 'exec', ns, process.execPath, pduBin, cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    kids.push(pdu);
    pdu.stdout?.on('data', (d) => { pduOut += d; });
    const fenced = spawn('ip', ['netns', 'exec', ns, FENCED, '-s', '-l', join(dir, 'fenced.log')], { stdio: 'ignore' });
    kids.push(fenced);

    const t0 = Date.now();
    for (;;) {
      const r = await inNs('stonith_admin', ['--list-registered'], 10_000);
      if (r.code === 0 && pduOut.includes('"listening"')) break;
      if (Date.now() - t0 > 20_000) throw new Error(`fencer or PDU not ready: ${r.stderr.trim()} ${pduOut}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    const reg = await inNs('stonith_admin', ['--register', 'pdu1', '-a', agentName,
      '-o', 'ip=127.0.0.1', '-o', 'ipport=16161', '-o', `community=${COMM}`, '-o', 'power_timeout=3',
      '-o', 'pcmk_host_map=head1:head1;head2:head2;spare:spare']);
    if (reg.code !== 0) throw new Error(`register: ${reg.stderr.trim()}`);
  }, 90_000);

  afterAll(async () => {
    for (const k of kids) {
      if (k.pid && k.exitCode === null && k.signalCode === null) {
        process.kill(k.pid, 'SIGTERM');
        await new Promise((r) => { const t = setTimeout(r, 5000); k.once('exit', () => { clearTimeout(t); r(null); }); });
        if (k.exitCode === null && k.signalCode === null) {
          process.kill(k.pid, 'SIGKILL');
          await new Promise((r) => { const t = setTimeout(r, 5000); k.once('exit', () => { clearTimeout(t); r(null); }); });
        }
      }
    }
    if (nsMade) await run('ip', ['netns', 'delete', ns], { timeoutMs: 10_000 });
    if (installed) { try { unlinkSync(installed); } catch { /* gone */ } }
    if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
  }, 30_000);

  it('stonith_admin --reboot head2: head2\'s outlet goes off then on, head1 is never touched', async () => {
    const r = await inNs('stonith_admin', ['--reboot', 'head2', '--timeout', '60']);
    expect(r.stderr.trim()).toBe('');
    expect(r.code).toBe(0);
    const events = pduOut.split('\n').filter((l) => l.includes('"time"')).map((l) => JSON.parse(l) as { name: string; event: string });
    expect(events.filter((e) => e.name === 'head2').map((e) => e.event)).toEqual(['off', 'now-off', 'on', 'now-on']);
    expect(events.filter((e) => e.name === 'head1')).toEqual([]);
    expect(outlet('head2')).toBe('on');
    expect(outlet('head1')).toBe('on');
  }, 90_000);

  it('stonith_admin --fence head1 (off) leaves head1 off', async () => {
    const r = await inNs('stonith_admin', ['--fence', 'head1', '--timeout', '60']);
    expect(r.code).toBe(0);
    expect(outlet('head1')).toBe('off');
  }, 90_000);

  it('without pcmk_host_map, the fencer finds targets through the agent\'s list (dynamic-list): head2 yes, head9 no', async () => {
    expect((await inNs('stonith_admin', ['--deregister', 'pdu1'])).code).toBe(0);
    const reg = await inNs('stonith_admin', ['--register', 'pdu2', '-a', agentName,
      '-o', 'ip=127.0.0.1', '-o', 'ipport=16161', '-o', `community=${COMM}`, '-o', 'power_timeout=3']);
    expect(reg.code).toBe(0);
    const before = pduOut.length;
    const r = await inNs('stonith_admin', ['--reboot', 'head2', '--timeout', '60']);
    expect(r.code).toBe(0);
    expect(outlet('head2')).toBe('on');
    expect(pduOut.slice(before)).toMatch(/"name":"head2","event":"now-off"[\s\S]*"name":"head2","event":"now-on"/);
    const none = await inNs('stonith_admin', ['--reboot', 'head9', '--timeout', '60']);
    expect(none.code).not.toBe(0);
    expect(none.stderr).toContain("No device configured for target 'head9'");
  }, 90_000);

  it('an outlet that will not switch off: the fencing fails (and the outlet is still on)', async () => {
    const r = await inNs('stonith_admin', ['--fence', 'spare', '--timeout', '60']);
    expect(r.code).not.toBe(0);
    expect(outlet('spare')).toBe('on');
    expect(pduOut).toMatch(/"name":"spare","event":"failed","detail":"[^"]*hook: exit 1: relay stuck"/);
  }, 90_000);
});

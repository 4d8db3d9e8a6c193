// Teardown leaves nothing behind: after a failed `up`, after `lab down`, and after SIGTERM
// of `ha-oscar lab up` mid-way. Each uses its own lab name, beside the shared lab.
import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, inject, it } from 'vitest';
import { describeWith } from '../helpers/prereq';
import { down, up } from '../../src/lab/lab';
import { makeSpec, LAB_ROOT } from '../../src/lab/spec';
import { readState } from '../../src/lab/state';
import { sleep } from '../../src/lab/procs';
import { leftovers } from './leftovers';

const need = { root: true, bins: ['corosync', 'pacemakerd', 'crm', 'tini', 'nsenter'], packages: ['corosync', 'pacemaker', 'crmsh', 'tini', 'util-linux'] };

const inodes = (name: string): number[] => (readState(join(LAB_ROOT, name))?.netns ?? []).map((n) => n.ino ?? -1);

// Own lab names per test run (see global-setup.ts): 't' + run id + f/d/s, 6 characters.
const labName = (what: string): string => `t${inject('labRunId') || 'xxxx'}${what}`;

describeWith(need, 'lab teardown', () => {
  it('tears everything down when a step of up fails, and says why', async () => {
    const bad = join(mkdtempSync(join(tmpdir(), 'hao-lab-')), 'broken.crm');
    writeFileSync(bad, 'primitive broken ocf:heartbeat:NoSuchAgent params\n');
    const spec = makeSpec(labName('f'), { token: 1000, extraConfig: bad });
    await down(spec.name);
    let seen: number[] = [];
    const watcher = setInterval(() => { const i = inodes(spec.name); if (i.length) seen = i; }, 50);
    try {
      await expect(up(spec)).rejects.toThrow(/crm/);
    } finally { clearInterval(watcher); }
    expect(seen.length).toBeGreaterThan(0);
    expect(await leftovers(spec.name, seen)).toEqual([]);
  });

  it('leaves no namespace, process or mount after lab down', async () => {
    const spec = makeSpec(labName('d'), { token: 1000 });
    await down(spec.name);
    try {
      await up(spec, { loadConfig: false });
    } catch (e) { await down(spec.name); throw e; }
    const ns = inodes(spec.name);
    expect(ns.length).toBe(4);
    expect((await leftovers(spec.name, ns)).length).toBeGreaterThan(0); // the check sees a live lab
    expect(await down(spec.name)).toEqual([]);
    expect(await leftovers(spec.name, ns)).toEqual([]);
  });

  it('tears down when `ha-oscar lab up` gets SIGTERM half-way', async () => {
    const name = labName('s');
    await down(name);
    const child = spawn(process.execPath, ['dist/ha-oscar', 'lab', 'up', '--name', name, '--token', '1000'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += String(d); });
    child.stderr.on('data', (d) => { out += String(d); });
    const exited = new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    let seen: number[] = [];
    try {
      const until = Date.now() + 180_000; // a loaded 2-core CI machine is slow to make namespaces
      // wait until the nodes are booting (their inits recorded), then interrupt
      while (Date.now() < until && child.exitCode === null) {
        const st = readState(join(LAB_ROOT, name));
        if (st?.nodes.client?.init) { seen = st.netns.map((n) => n.ino ?? -1); break; }
        await sleep(50);
      }
      expect(seen.length, out).toBe(4);
      child.kill('SIGTERM');
      const code = await exited;
      expect(code, out).not.toBe(0);
      expect(out).toContain(`SIGTERM: tearing lab '${name}' down`);
    } finally {
      if (child.exitCode === null) { child.kill('SIGKILL'); await exited; }
      const left = await leftovers(name, seen);
      await down(name); // never leave it behind, whatever happened above
      expect(left).toEqual([]);
    }
  });
});

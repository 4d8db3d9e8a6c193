// The leftover check of npm test (scripts/leftovers.mjs): what a run leaves behind is named.
import { describe, it, expect } from 'vitest';
import { spawnSync } from '../helpers/sync';
// @ts-expect-error plain ES module of scripts/, no types
import { snapshot, leftovers, describe as describeLeft, clean, stat } from '../../scripts/leftovers.mjs';

describe('leftover check', () => {
  it('names a process re-parented to PID 1 with its command line, and a network namespace; clean() removes them', () => {
    const before = snapshot();
    const mark = `3600.${process.pid}${Math.floor(Math.random() * 1e6)}`;
    // sh exits at once: its background sleep is re-parented, as nfs-cp was when its nsenter was killed
    const r = spawnSync('sh', ['-c', `sleep ${mark} >/dev/null 2>&1 </dev/null & echo $!`], { encoding: 'utf8', timeout: 10_000 });
    const pid = Number(r.stdout.trim());
    const ns = `lo${process.pid % 100000}`;
    expect(spawnSync('ip', ['netns', 'add', ns], { timeout: 10_000 }).status).toBe(0);
    try {
      const l = leftovers(before, process.pid);
      const lines: string[] = describeLeft(l);
      expect(lines.find((x) => x.includes(`sleep ${mark}`))).toMatch(new RegExp(`^process ${pid} \\(parent \\d+\\): sleep ${mark.replace('.', '\\.')}$`));
      expect(lines).toContain(`network namespace ${ns}`);
      clean({ ...l, procs: l.procs.filter((p: { pid: number }) => p.pid === pid), links: [], mounts: [], netns: [ns] });
      const deadline = Date.now() + 5_000;
      while (stat(pid) && stat(pid)!.state !== 'Z' && Date.now() < deadline) spawnSync('sleep', ['0.05'], { timeout: 5_000 });
      expect(stat(pid) === undefined || stat(pid)!.state === 'Z').toBe(true);
      expect(describeLeft(leftovers(before, process.pid)).filter((x: string) => x.includes(mark) || x.includes(ns))).toEqual([]);
    } finally {
      try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
      spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
    }
  });

});

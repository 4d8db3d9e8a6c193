// What of a lab remains on the machine: namespaces, processes, mounts, state dir.
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../src/service/run';
import { LAB_ROOT } from '../../src/lab/spec';

export async function leftovers(name: string, netnsInodes: number[] = []): Promise<string[]> {
  const out: string[] = [];
  const ns = await run('ip', ['netns', 'list']);
  for (const l of ns.stdout.split('\n')) if (l.startsWith(`${name}-`)) out.push(`netns ${l.split(' ')[0]}`);
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(`lab _init ${name} `)) out.push(`process ${d}: ${cmd.trim()}`);
      const link = readlinkSync(`/proc/${d}/ns/net`);
      const ino = Number(/\[(\d+)\]/.exec(link)?.[1]);
      if (netnsInodes.includes(ino)) out.push(`process ${d} in the lab's netns: ${cmd.trim()}`);
    } catch { /* gone */ }
  }
  const dir = join(LAB_ROOT, name);
  for (const l of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    if (l.includes(`/run/netns/${name}-`) || l.includes(dir + '/')) out.push(`mount ${l}`);
  }
  if (existsSync(dir)) out.push(`state dir ${dir}`);
  return out;
}

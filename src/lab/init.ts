// The node init: runs inside a node (its own mount/uts/ipc/pid namespaces, under tini as
// PID 1, which reaps every orphan). Started as `ha-oscar lab _init <lab> <node>`.
//  1. bind-mounts the per-node directories over /etc/corosync, /var/lib/pacemaker, ...
//  2. binds dist/ocf over /usr/lib/ocf/resource.d/ha-oscar (next to the host's providers)
//     and dist/fence_haoscar as /usr/sbin/fence_haoscar (overlay, this node only)
//  3. fresh tmpfs on /run and /dev/shm (libqb ring buffers), hostname
//  4. heads: corosync -f, wait for corosync-cfgtool -s, then pacemakerd
// Everything it prints goes to nodes/<node>/init.log in the lab's state dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, runOk } from '../service/run';
import { hostOcfProviders, nodeBinds } from './nodefs';
import { sleep } from './procs';
import type { LabSpec, NodeName } from './spec';
import { HEADS, LAB_ROOT, checkName, nodeDir, parseNode } from './spec';

const log = (msg: string): void => { console.log(`${new Date().toISOString()} ${msg}`); };

async function mount(args: string[]): Promise<void> { await runOk('mount', args, { timeoutMs: 10_000 }); }

/** bootDelayMs: wait this long before starting the cluster stack (a power-on by the lab PDU). */
export async function nodeInit(labName: string, nodeArg: string, bootDelayMs = 0): Promise<number> {
  checkName(labName);
  const node: NodeName = parseNode(nodeArg);
  const spec = JSON.parse(readFileSync(join(LAB_ROOT, labName, 'lab.json'), 'utf8')) as LabSpec;
  const d = nodeDir(spec, node);
  log(`init ${spec.name}/${node} pid ${process.pid}`);

  for (const b of nodeBinds(spec, node)) await mount(['--bind', b.src, b.dst]);
  if (HEADS.includes(node)) {
    const ocf = join(d, 'ocf');
    for (const p of hostOcfProviders()) {
      mkdirSync(join(ocf, p), { recursive: true });
      await mount(['--bind', `/usr/lib/ocf/resource.d/${p}`, join(ocf, p)]);
    }
    const dist = join(spec.repo, 'dist', 'ocf');
    mkdirSync(dist, { recursive: true });
    mkdirSync(join(ocf, 'ha-oscar'), { recursive: true });
    await mount(['--bind', dist, join(ocf, 'ha-oscar')]);
    await mount(['--rbind', ocf, '/usr/lib/ocf/resource.d']);
    // fence_haoscar where pacemaker-fenced looks for agents (/usr/sbin), in this node only:
    // a per-node copy of dist/fence_haoscar in a read-only overlay over the host's /usr/sbin.
    const fence = join(spec.repo, 'dist', 'fence_haoscar');
    if (existsSync(fence)) {
      const sbin = join(d, 'sbin');
      mkdirSync(sbin, { recursive: true });
      copyFileSync(fence, join(sbin, 'fence_haoscar'));
      chmodSync(join(sbin, 'fence_haoscar'), 0o755);
      await mount(['-t', 'overlay', `${spec.name}-sbin`, '-o', `lowerdir=${sbin}:/usr/sbin`, '/usr/sbin']);
    }
  }
  await mount(['-t', 'tmpfs', '-o', 'mode=0755,nosuid,nodev', `${spec.name}-run`, '/run']);
  await mount(['-t', 'tmpfs', '-o', 'mode=1777,nosuid,nodev', `${spec.name}-shm`, '/dev/shm']);
  for (const p of ['/run/lock', '/run/resource-agents', '/run/crm', '/run/corosync']) mkdirSync(p, { recursive: true });
  await runOk('hostname', [node]);

  const children: ChildProcess[] = [];
  const daemon = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess => {
    const fd = openSync(join('/var/log', `${cmd}.out`), 'a');
    const c = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    c.on('exit', (code, sig) => log(`${cmd} exited (${sig ?? code})`));
    c.on('error', (e) => log(`${cmd}: ${e.message}`));
    children.push(c);
    log(`started ${cmd} pid ${c.pid}`);
    return c;
  };
  const stop = (): void => {
    for (const c of children.reverse()) { try { c.kill('SIGTERM'); } catch { /* gone */ } }
    setTimeout(() => process.exit(0), 10_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);

  if (HEADS.includes(node)) {
    if (Number.isFinite(bootDelayMs) && bootDelayMs > 0) {
      log(`booting: cluster stack in ${bootDelayMs} ms (firmware and boot of a real server)`);
      await sleep(bootDelayMs);
    }
    daemon('corosync', ['-f']);
    const until = Date.now() + 30_000;
    for (;;) {
      const r = await run('corosync-cfgtool', ['-s'], { timeoutMs: 5_000 });
      if (r.code === 0) break;
      if (Date.now() > until) { log('corosync did not answer corosync-cfgtool -s in 30 s; see /var/log/corosync/corosync.log'); return 1; }
      await sleep(100);
    }
    log('corosync answers');
    daemon('pacemakerd', [], { PCMK_logfile: '/var/log/pacemaker/pacemaker.log', PCMK_logfacility: 'none' });
  }
  log('ready');
  if (!existsSync('/proc/1')) log('warning: no /proc/1');
  // Stay up: the node lives as long as this process (and tini, PID 1) lives.
  await new Promise<void>(() => { setInterval(() => { /* keep the loop alive */ }, 1 << 30); });
  return 0;
}

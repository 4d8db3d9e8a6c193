// The node init: runs inside a node (its own mount/uts/ipc/pid namespaces, under tini as
// PID 1, which reaps every orphan). Started as `ha-oscar lab _init <lab> <node>`.
//  1. heads, when the lab has a .deb (src/lab/package.ts): overlays with this head's own upper
//     directories on /usr, /etc and /var, where dpkg will install it (step 4)
//  2. bind-mounts the per-node directories over /etc/corosync, /var/lib/pacemaker, ...
//  3. heads without a .deb: binds dist/ocf over /usr/lib/ocf/resource.d/ha-oscar (next to the
//     host's providers) and dist/fence_haoscar{,_delay} in /usr/sbin (overlay, this node only)
//  4. fresh tmpfs on /run and /dev/shm (libqb ring buffers); heads with a .deb: dpkg -i; hostname
//  5. heads: corosync -f, wait for corosync-cfgtool -s, then corosync-qdevice -f when the lab
//     has a quorum device (src/lab/qdevice.ts), then pacemakerd, then what the
//     subagent's systemd unit would start (ha-oscar-snmp-agent --master AGENTX_SOCKET), as its
//     User=/Group=, restarted when it fails, as Restart=on-failure would
// Everything it prints goes to nodes/<node>/init.log in the lab's state dir.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { run, runOk } from '../service/run';
import { hostOcfProviders, ids, nodeBinds } from './nodefs';
import { ROOT_PATH, agentsSource, describeAgentsSource, installPackage, mountPackageOverlays, stagePackage, subagentService, type UnitService } from './package';
import { AGENTX_SOCKET } from './services';
import { sleep } from './procs';
import type { LabSpec, NodeName } from './spec';
import { HEADS, LAB_ROOT, checkName, nodeDir, parseNode } from './spec';

/** Our fence agents, as built in dist/ and installed in /usr/sbin by the packages. */
export const FENCE_AGENTS = ['fence_haoscar', 'fence_haoscar_delay'] as const;

const log = (msg: string): void => { console.log(`${new Date().toISOString()} ${msg}`); };

async function mount(args: string[]): Promise<void> { await runOk('mount', args, { timeoutMs: 10_000 }); }

/** bootDelayMs: wait this long before starting the cluster stack (a power-on by the lab PDU). */
export async function nodeInit(labName: string, nodeArg: string, bootDelayMs = 0): Promise<number> {
  checkName(labName);
  const node: NodeName = parseNode(nodeArg);
  const spec = JSON.parse(readFileSync(join(LAB_ROOT, labName, 'lab.json'), 'utf8')) as LabSpec;
  const d = nodeDir(spec, node);
  log(`init ${spec.name}/${node} pid ${process.pid}`);

  const head = HEADS.includes(node);
  const source = head ? agentsSource(spec) : undefined;
  if (source) log(describeAgentsSource(source));
  // Overlays first: the per-node binds below go on top of them (/etc/corosync, /var/log...).
  if (source?.mode === 'deb') await mountPackageOverlays(spec, node, mount, log);
  for (const b of nodeBinds(spec, node)) await mount(['--bind', b.src, b.dst]);
  log('per-node directories bound');
  if (source?.mode === 'dist') {
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
    // The fence agents (fence_haoscar, fence_haoscar_delay) where pacemaker-fenced looks for
    // them (/usr/sbin), in this node only: per-node copies of dist/fence_* in a read-only
    // overlay over the host's /usr/sbin.
    const fences = FENCE_AGENTS.filter((f) => existsSync(join(spec.repo, 'dist', f)));
    if (fences.length) {
      const sbin = join(d, 'sbin');
      mkdirSync(sbin, { recursive: true });
      for (const f of fences) {
        copyFileSync(join(spec.repo, 'dist', f), join(sbin, f));
        chmodSync(join(sbin, f), 0o755);
      }
      await mount(['-t', 'overlay', `${spec.name}-sbin`, '-o', `lowerdir=${sbin}:/usr/sbin`, '/usr/sbin']);
    }
  }
  // The lab's state dir (the .deb in it) is under /run: copy the .deb onto the head's disk first.
  const staged = source?.mode === 'deb' ? stagePackage(source) : undefined;
  if (staged) log(`package copied to ${staged}`);
  await mount(['-t', 'tmpfs', '-o', 'mode=0755,nosuid,nodev', `${spec.name}-run`, '/run']);
  await mount(['-t', 'tmpfs', '-o', 'mode=1777,nosuid,nodev', `${spec.name}-shm`, '/dev/shm']);
  for (const p of ['/run/lock', '/run/resource-agents', '/run/crm', '/run/corosync']) mkdirSync(p, { recursive: true });
  // After /run is this head's own: the postinst looks for /run/systemd/system (none here).
  if (source?.mode === 'deb' && staged) {
    try { await installPackage(source, staged, log); } catch (e) {
      log(`cannot install the package: ${e instanceof Error ? e.message : String(e)}`);
      return 1;
    }
  }
  await runOk('hostname', [node]);

  const children: ChildProcess[] = [];
  let stopping = false;
  const daemon = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, name = basename(cmd), as?: { uid: number; gid: number }): ChildProcess => {
    const fd = openSync(join('/var/log', `${name}.out`), 'a');
    const c = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, ...env }, ...(as ?? {}) });
    c.on('exit', (code, sig) => log(`${name} exited (${sig ?? code})`));
    c.on('error', (e) => log(`${name}: ${e.message}`));
    children.push(c);
    log(`started ${name} pid ${c.pid}`);
    return c;
  };
  /** A service the way systemd would run it: started now, restarted per its Restart= policy. */
  const supervise = (name: string, u: UnitService): void => {
    // systemd makes these directories owned by User:Group with their modes: so does the lab
    let uid = 0;
    let gid = 0;
    try {
      if (u.user) uid = ids('/etc/passwd', u.user);
      if (u.group) gid = ids('/etc/group', u.group);
    } catch (e) { log(`${name}: ${e instanceof Error ? e.message : String(e)}; running as root`); uid = 0; gid = 0; }
    if (!gid && u.runtimeMode & 0o070) { try { gid = ids('/etc/group', 'haclient'); } catch { /* no haclient: root only */ } }
    for (const [dirs, mode] of [[u.stateDirs, u.stateMode], [u.runtimeDirs, u.runtimeMode]] as const) {
      for (const p of dirs) {
        mkdirSync(p, { recursive: true });
        chownSync(p, uid, gid);
        chmodSync(p, mode);
      }
    }
    const start = (): void => {
      const c = daemon(u.argv[0]!, u.argv.slice(1), { ...u.env, PATH: ROOT_PATH }, name, uid ? { uid, gid } : undefined);
      c.on('exit', (code, sig) => {
        // systemd's on-failure: an unclean exit code or signal (SIGHUP/INT/TERM/PIPE are clean)
        const failed = sig ? !['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGPIPE'].includes(sig) : code !== 0;
        if (stopping || u.restart === 'no' || (u.restart === 'on-failure' && !failed)) return;
        log(`${name}: restarting in ${u.restartMs} ms`);
        setTimeout(() => { if (!stopping) start(); }, u.restartMs);
      });
    };
    start();
  };
  const stop = (): void => {
    stopping = true;
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
    if (spec.quorumDevice) {
      // the quorum device's client (src/lab/qdevice.ts): it reads quorum.device from corosync.conf
      mkdirSync('/run/corosync-qdevice', { recursive: true });
      daemon('corosync-qdevice', ['-f', '-d']);
    }
    daemon('pacemakerd', [], { PCMK_logfile: '/var/log/pacemaker/pacemaker.log', PCMK_logfacility: 'none' });
    // The HA-OSCAR-MIB subagent, on both heads: snmpd (its AgentX master) runs only on the
    // active one, so the standby's subagent keeps retrying until a master appears there.
    if (source?.mode === 'deb' || existsSync(join(spec.repo, 'dist', 'ha-oscar-snmp-agent'))) {
      try {
        const u = subagentService(spec, source!, AGENTX_SOCKET);
        log(`subagent: ${u.argv.join(' ')} (Restart=${u.restart}, RestartSec ${u.restartMs} ms; as ${u.user ?? 'root'}:${u.group ?? 'root'}; the unit's sandbox is not emulated)`);
        supervise('ha-oscar-snmp-agent', u);
      } catch (e) { log(`subagent not started: ${e instanceof Error ? e.message : String(e)}`); }
    } else log('subagent not started: dist/ha-oscar-snmp-agent not built');
  }
  log('ready');
  if (!existsSync('/proc/1')) log('warning: no /proc/1');
  // Stay up: the node lives as long as this process (and tini, PID 1) lives.
  await new Promise<void>(() => { setInterval(() => { /* keep the loop alive */ }, 1 << 30); });
  return 0;
}

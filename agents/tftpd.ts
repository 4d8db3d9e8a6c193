// ocf:ha-oscar:tftpd — tftpd-hpa's in.tftpd as a cluster resource, bound to the VIPs.
// in.tftpd binds ONE address (-a), so the agent runs one in.tftpd per listen address.
// Monitor: level 0 = every in.tftpd is alive; level 10 = a real TFTP read of the probe
// file from every listen address, content compared with the file on disk.
import { defineAgent, p, fail, OCF, splitList, checkAddressList, checkAbsolutePath, type Context } from '../src/ocf/agent';
import { startDaemon, stopDaemon, daemonState, runningPid } from '../src/service/daemon';
import { cmdline } from '../src/service/proc';
import { writeFileAtomic } from '../src/service/atomic';
import { run } from '../src/service/run';
import { tftpGet } from '../src/probe/tftp';
import { readFileSync, statSync, readdirSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { version } from '../package.json';

const params = {
  root: p.string({
    default: '/srv/tftp', check: checkAbsolutePath,
    shortdesc: 'TFTP root directory',
    longdesc: 'Directory served over TFTP (boot loaders, kernels). Put it on shared storage or in a directory the cluster keeps in sync. With secure=true in.tftpd chroots into it and clients ask for names relative to it.',
  }),
  listen: p.string({
    required: true, uniqueGroup: 'address', check: checkAddressList,
    shortdesc: 'Addresses to listen on (IPv4/IPv6 VIPs)',
    longdesc: 'Space- or comma-separated IPv4 and IPv6 addresses, normally the cluster VIPs. One in.tftpd runs per address; the level-10 monitor reads the probe file from each.',
  }),
  port: p.integer({ default: 69, min: 1, max: 65535, uniqueGroup: 'address', shortdesc: 'UDP port' }),
  secure: p.boolean({ default: true, shortdesc: 'Secure mode (-s): chroot into root, names relative to it' }),
  user: p.string({ default: 'tftp', pattern: /^[a-z_][a-z0-9_-]{0,31}$/, patternHint: 'a user name', shortdesc: 'in.tftpd drops to this user (-u)' }),
  blocksize_max: p.integer({ min: 512, max: 65464, shortdesc: 'Largest block size a client may negotiate (-B)', longdesc: 'Maximum block size (RFC 2348) in bytes, 512-65464. Set it to the path MTU minus 32 (e.g. 1468) when PXE ROMs negotiate blocks that get fragmented.' }),
  probe_file: p.string({
    default: '.ha-oscar-tftp-probe', pattern: /^(?!.*(^|\/)\.\.(\/|$))[A-Za-z0-9._-][A-Za-z0-9._\/-]{0,199}$/,
    patternHint: 'a file name relative to root, without ".."',
    shortdesc: 'File the level-10 monitor reads (relative to root)',
    longdesc: 'The level-10 monitor fetches this file over TFTP and compares it with the file on disk. When it does not exist, start creates it (2 KB, so that the transfer takes several blocks).',
  }),
  run_dir: p.string({ check: checkAbsolutePath, shortdesc: 'Directory for the pidfiles and log (default /run/ha-oscar/<instance>)' }),
};
type Ctx = Context<typeof params>;

const runDir = (c: Ctx) => c.params.run_dir ?? `/run/ha-oscar/${c.instanceId}`;
const addrs = (c: Ctx) => splitList(c.params.listen);
const pidfileOf = (c: Ctx, i: number) => join(runDir(c), `tftpd-${i}.pid`);
/** The address the monitor asks: a wildcard listen address is asked on loopback. */
const probeAddr = (a: string) => (a === '0.0.0.0' ? '127.0.0.1' : a === '::' ? '::1' : a);
const show = (a: string, port: number) => (a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`);
const probePath = (c: Ctx) => join(c.params.root, c.params.probe_file);

function probeContent(c: Ctx): string {
  const line = `ha-oscar tftpd probe for resource ${c.instance}\n`;
  return line.repeat(Math.ceil(2048 / line.length)).slice(0, 2048);
}

/** Every pidfile this instance may have left, also for addresses no longer listed. */
function allPidfiles(c: Ctx): string[] {
  const dir = runDir(c);
  const listed = addrs(c).map((_, i) => pidfileOf(c, i));
  let found: string[] = [];
  try { found = readdirSync(dir).filter((f) => /^tftpd-\d+\.pid$/.test(f)).map((f) => join(dir, f)); } catch { /* none */ }
  return [...new Set([...listed, ...found])];
}

/** Reads the probe file over TFTP from one address; a reason when that fails. */
async function probeOne(c: Ctx, addr: string, timeoutMs: number, expected: Buffer | undefined): Promise<string | undefined> {
  const name = c.params.secure ? c.params.probe_file : probePath(c);
  const r = await tftpGet(probeAddr(addr), name, { port: c.params.port, timeoutMs, retransmitMs: Math.max(100, Math.floor(timeoutMs / 4)) });
  const where = `tftp://${show(addr, c.params.port)}/${name}`;
  if (!r.ok) return `${where}: ${r.error}`;
  if (expected && !expected.equals(r.data!)) return `${where}: content differs from ${probePath(c)} (${r.data!.length} bytes, ${expected.length} on disk)`;
  return undefined;
}

async function answering(c: Ctx, timeoutMs: number): Promise<string | undefined> {
  let expected: Buffer | undefined;
  try { expected = readFileSync(probePath(c)); } catch (e) {
    return `probe file ${probePath(c)} is not readable: ${(e as NodeJS.ErrnoException).code ?? e}`;
  }
  const res = await Promise.all(addrs(c).map((a) => probeOne(c, a, timeoutMs, expected)));
  return res.find(Boolean);
}

function argvFor(c: Ctx, exe: string, addr: string): string[] {
  const argv = [exe, '-L', '-a', show(addr, c.params.port), '-u', c.params.user];
  if (addr.includes(':')) argv.push('-6'); else argv.push('-4');
  if (c.params.secure) argv.push('-s');
  if (c.params.blocksize_max !== undefined) argv.push('-B', String(c.params.blocksize_max));
  argv.push(c.params.root);
  return argv;
}

export default defineAgent({
  name: 'tftpd',
  version,
  shortdesc: 'TFTP server (tftpd-hpa) on the cluster VIPs',
  longdesc: 'Runs tftpd-hpa (in.tftpd, in the foreground) as a cluster resource, one process per listen address (IPv4 and IPv6 VIPs), for PXE boot of the compute nodes. Level 10 monitors read a probe file over TFTP from every listen address and compare it with the file on disk.',
  params,
  needsRoot: true,
  binaries: () => ['in.tftpd'],
  timeouts: { start: 20, stop: 20, monitor: 20 },
  monitors: [{ depth: 0, interval: 10 }, { depth: 10, interval: 120, timeout: 20 }],
  // what the level-0 monitor looks at (src/ocf/fastpath.ts: a sh fast path answers it)
  processes: (c) => addrs(c).map((_, i) => ({ pidfile: pidfileOf(c, i), exe: c.bin('in.tftpd') })),

  async validate(c) {
    let st;
    try { st = statSync(c.params.root); } catch {
      // node-local (shared storage not mounted here?): not a configuration error for the whole cluster
      fail(OCF.ERR_INSTALLED, `TFTP root ${c.params.root} does not exist on this node`);
    }
    if (!st.isDirectory()) fail(OCF.ERR_CONFIGURED, `TFTP root ${c.params.root} is not a directory`);
    const r = await run('getent', ['passwd', c.params.user], { timeoutMs: 5000 });
    if (r.code !== 0) fail(OCF.ERR_CONFIGURED, `user ${c.params.user} does not exist on this node`);
    const list = addrs(c);
    if (new Set(list).size !== list.length) fail(OCF.ERR_CONFIGURED, 'listen names an address twice');
  },

  async start(c) {
    const exe = c.bin('in.tftpd');
    mkdirSync(runDir(c), { recursive: true, mode: 0o755 });
    // stale processes for addresses no longer listed go first
    const listed = new Set(addrs(c).map((_, i) => pidfileOf(c, i)));
    for (const pf of allPidfiles(c)) if (!listed.has(pf)) await stopDaemon(pf, exe, 3000);
    try { statSync(probePath(c)); } catch {
      try { writeFileAtomic(probePath(c), probeContent(c), { mode: 0o644 }); } catch (e) {
        c.log.warn(`cannot create probe file ${probePath(c)}: ${(e as NodeJS.ErrnoException).code ?? e}; level-10 monitors will fail`);
      }
    }
    const log = join(runDir(c), 'tftpd.log');
    for (const [i, addr] of addrs(c).entries()) {
      const argv = argvFor(c, exe, addr);
      const old = runningPid(pidfileOf(c, i), exe);
      if (old !== undefined && cmdline(old)?.join('\0') !== argv.join('\0')) {
        c.log.info(`in.tftpd (pid ${old}) runs with other options: restarting it`);
        await stopDaemon(pidfileOf(c, i), exe, 3000);
      }
      try {
        const pid = await startDaemon(
          { argv, pidfile: pidfileOf(c, i), logfile: log },
          {
            timeoutMs: Math.max(1000, c.remaining() - 500),
            // answered at all (even "file not found") means bound and serving
            ready: async () => {
              const r = await tftpGet(probeAddr(addr), '.ha-oscar-ready-check', { port: c.params.port, timeoutMs: 300, retransmitMs: 150 });
              return r.ok || r.errorCode !== undefined;
            },
          },
        );
        c.log.info(`started in.tftpd (pid ${pid}) on ${show(addr, c.params.port)}`);
      } catch (e) {
        fail(OCF.ERR_GENERIC, `start on ${show(addr, c.params.port)} failed: ${(e as Error).message}`);
      }
    }
  },

  async stop(c) {
    // stop must succeed whenever in.tftpd is stopped, even if tftpd-hpa was uninstalled meanwhile
    for (const pf of allPidfiles(c)) await stopDaemon(pf, '/usr/sbin/in.tftpd', Math.max(3000, c.remaining() / 2));
  },

  async monitor(c) {
    const exe = c.bin('in.tftpd');
    const states = addrs(c).map((a, i) => ({ a, st: daemonState(pidfileOf(c, i), exe) }));
    const down = states.filter((s) => s.st.state === 'stopped');
    if (down.length === states.length) return OCF.NOT_RUNNING;
    if (down.length) fail(OCF.ERR_GENERIC, `in.tftpd for ${down.map((d) => show(d.a, c.params.port)).join(', ')} is not running`);
    if (c.checkLevel >= 10) {
      const why = await answering(c, Math.min(3000, Math.max(500, c.remaining() / 3)));
      if (why) fail(OCF.ERR_GENERIC, why);
    }
    return OCF.SUCCESS;
  },
}).main();

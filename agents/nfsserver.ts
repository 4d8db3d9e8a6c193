// ocf:ha-oscar:nfsserver — the cluster's NFS exports, served by the kernel's nfsd (rpc.nfsd,
// exportfs, rpc.mountd, rpc.statd, nfsdcld: production) or by nfs-ganesha (userspace: the lab).
// The state directory (NFSv4 client records, statd's sm/, etab) lives on the storage that moves
// with the service. Nothing is ever bind-mounted over /var/lib/nfs and rpc_pipefs never lives in
// the state directory, so stop cannot leave a busy mount behind.
// Monitor: level 0 = every daemon alive (nfsd threads, mountd, statd, nfsdcld / ganesha.nfsd);
// level 10 = ONC RPC NULL to NFS (100003) over TCP on each listen address, and to mountd through
// the portmapper when NFSv3 is on; level 20 = read the probe file through NFS on each address.
import { defineAgent, p, fail, OCF, OcfError, splitList, checkAddressList, checkAbsolutePath, type Context } from '../src/ocf/agent';
import { startDaemon, stopDaemon, daemonState, runningPid } from '../src/service/daemon';
import { writeFileAtomic, writeFileAtomicIfChanged } from '../src/service/atomic';
import { runOk, run, describeFailure } from '../src/service/run';
import { which } from '../src/service/which';
import { rpcNull, rpcNullViaPortmap, pmapGetPort, PROG, hostPort } from '../src/probe/rpc';
import { nfsRead } from '../src/probe/nfs';
import { holders } from '../src/service/proc';
import { parseInlineExports, parseExportsFile, isExportsFile, checkExportsParam, checkVersions, exportfsArgs, exportfsClient, type ExportEntry } from '../src/service/nfs-exports';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { version } from '../package.json';

// ---- parameters ----

const params = {
  server: p.select({
    options: ['kernel', 'ganesha'] as const, default: 'kernel',
    shortdesc: 'NFS server: kernel (nfsd) or ganesha (nfs-ganesha, userspace)',
    longdesc: 'kernel: the Linux nfsd with rpc.nfsd, exportfs, rpc.mountd, rpc.statd and nfsdcld (the production case). ganesha: nfs-ganesha with the VFS FSAL, for machines without nfsd (the lab).',
  }),
  exports: p.string({
    required: true, check: checkExportsParam,
    shortdesc: 'The exports: inline, or the path of an exports file',
    longdesc: 'Either one line, exports separated by ";": "/srv/home 192.0.2.0/24(rw,no_root_squash) 2001:db8:a::/64(rw); /srv/sw *(ro)", or the absolute path of a file with one such export per line ("#" comments). Clients: address, network (IPv4/len, IPv4/mask, IPv6/len), host name, *, @netgroup. Options: rw ro sync async root_squash no_root_squash all_squash anonuid= anongid= fsid= sec= secure insecure subtree_check no_subtree_check crossmnt nohide wdelay no_wdelay. Every exported path must exist.',
  }),
  state_dir: p.string({
    check: checkAbsolutePath,
    shortdesc: 'NFS state directory; must move with the service (shared storage)',
    longdesc: 'kernel: etab/rmtab (exportfs, mountd), statd\'s sm/ and sm.bak/, nfsdcld/ and v4recovery/ (NFSv4 client records); default /var/lib/nfs. ganesha: its RecoveryRoot; default /var/lib/nfs/ganesha. Put it on the storage that fails over with the exports so that clients reclaim their state in the grace period.',
  }),
  grace_time: p.integer({
    default: 90, min: 1, max: 3600,
    shortdesc: 'NFSv4 grace period (s)',
    longdesc: 'After start, clients have this long to reclaim their locks and opens; new locks and NFSv4 opens wait until it ends. Shorter means a faster failover, but it must be at least lease_time. kernel: 10-3600; ganesha: at most 180.',
  }),
  lease_time: p.integer({
    default: 90, min: 1, max: 3600,
    shortdesc: 'NFSv4 lease time (s)',
    longdesc: 'How often NFSv4 clients must renew their lease, and so how soon they notice a failover. kernel: 10-3600; ganesha: at most 180.',
  }),
  listen: p.string({
    uniqueGroup: 'address', check: checkAddressList,
    shortdesc: 'Addresses to serve on (the IPv4/IPv6 VIPs)',
    longdesc: 'Space- or comma-separated IPv4 and IPv6 addresses. kernel: nfsd listens on each (rpc.nfsd -H). ganesha 4 binds one address: with exactly one it binds that, otherwise all (::). Level-10 and level-20 monitors ask each address. Unset: all addresses, monitored on 127.0.0.1.',
  }),
  port: p.integer({ default: 2049, min: 1, max: 65535, uniqueGroup: 'address', shortdesc: 'NFS port' }),
  versions: p.string({
    default: '3 4', check: checkVersions,
    shortdesc: 'NFS versions to serve',
    longdesc: 'Among 3, 4 (= 4.0 4.1 4.2), 4.0, 4.1, 4.2; space or comma separated.',
  }),
  threads: p.integer({ default: 8, min: 1, max: 1024, shortdesc: 'kernel: nfsd threads' }),
  mountd_port: p.integer({ min: 1, max: 65535, shortdesc: 'Fixed port for mountd (firewalls); default: any' }),
  statd_port: p.integer({ min: 1, max: 65535, shortdesc: 'kernel: fixed port for rpc.statd (firewalls); default: any' }),
  probe_file: p.string({
    check: checkAbsolutePath,
    shortdesc: 'File read through NFS by level-20 monitors',
    longdesc: 'Server-side absolute path inside one of the exports. Start writes it when it is missing. Default: .ha-oscar-nfs-probe in the first export.',
  }),
  rpcbind: p.boolean({
    default: true,
    shortdesc: 'Start rpcbind when no portmapper answers on 127.0.0.1',
    longdesc: 'NFS registers with the portmapper (ganesha always, nfsd for NFSv3). rpcbind is shared node infrastructure: the agent starts it when it is missing and never stops it.',
  }),
  run_dir: p.string({
    check: checkAbsolutePath,
    shortdesc: 'Node-local directory for pidfiles, the generated ganesha.conf and its log (default /run/ha-oscar/<instance>)',
  }),
};
type Ctx = Context<typeof params>;

const NFSD = '/proc/fs/nfsd';
const PIPEFS = '/run/rpc_pipefs';

function paths(c: Ctx) {
  const run = c.params.run_dir ?? `/run/ha-oscar/${c.instanceId}`;
  const state = c.params.state_dir ?? (c.params.server === 'kernel' ? '/var/lib/nfs' : '/var/lib/nfs/ganesha');
  return {
    run, state,
    pid: (d: string) => `${run}/${d}.pid`,
    ganeshaConf: `${run}/ganesha.conf`,
    log: `${run}/${c.params.server}.log`,
    components: `${run}/components`,
    nfsConf: `/etc/nfs.conf.d/ha-oscar-${c.instanceId}.conf`,
  };
}

function exportsOf(c: Ctx): ExportEntry[] {
  const e = c.params.exports;
  if (!isExportsFile(e)) return parseInlineExports(e);
  let text: string;
  try { text = readFileSync(e, 'utf8'); } catch (x) { fail(OCF.ERR_CONFIGURED, `cannot read exports file ${e}: ${(x as NodeJS.ErrnoException).code ?? x}`); }
  try { return parseExportsFile(text, e); } catch (x) { fail(OCF.ERR_CONFIGURED, (x as Error).message); }
}

/** The protocol versions as a set of 3, 4.0, 4.1, 4.2. */
function versionSet(c: Ctx): Set<string> {
  const s = new Set<string>();
  for (const v of splitList(c.params.versions)) {
    if (v === '4') ['4.0', '4.1', '4.2'].forEach((x) => s.add(x)); else s.add(v);
  }
  return s;
}
const hasV3 = (c: Ctx) => versionSet(c).has('3');
const hasV4 = (c: Ctx) => [...versionSet(c)].some((v) => v.startsWith('4'));

const listenAddrs = (c: Ctx) => splitList(c.params.listen);
/** Where monitors ask: every listen address, or loopback when listening everywhere. */
const probeAddrs = (c: Ctx) => (listenAddrs(c).length ? listenAddrs(c) : ['127.0.0.1']).map((a) => (a === '0.0.0.0' ? '127.0.0.1' : a === '::' ? '::1' : a));

function probePath(c: Ctx): string {
  return c.params.probe_file ?? `${exportsOf(c)[0]!.path.replace(/\/$/, '')}/.ha-oscar-nfs-probe`;
}
const probeContent = (c: Ctx) => `ha-oscar nfs probe for ${c.instance}\n`;

// ---- shared helpers ----

const portmapAnswers = async (timeoutMs: number): Promise<boolean> => (await rpcNull('127.0.0.1', 111, PROG.PORTMAP, 2, { timeoutMs })).ok;

/**
 * The rpcbind this resource started (recorded pid) is alive but does not answer on loopback,
 * twice (hung: SIGSTOPped, wedged): kill it (SIGTERM, then SIGKILL: a stopped process only
 * dies of SIGKILL). While it holds port 111 no new rpcbind can bind it, and every daemon that
 * registers or unregisters with it (ganesha's start and stop, rpc.nfsd, mountd) blocks in the
 * call. Returns true when it killed one; throws when it would not die. An rpcbind started by
 * someone else is left alone.
 */
async function killHungRpcbind(c: Ctx): Promise<boolean> {
  const exe = which('rpcbind', c.env);
  const pidfile = paths(c).pid('rpcbind');
  const pid = exe ? runningPid(pidfile, exe) : undefined;
  if (!exe || pid === undefined) return false;
  if (await portmapAnswers(1000) || await portmapAnswers(2000)) return false;
  c.log.warn(`rpcbind (pid ${pid}, started by this resource) does not answer on 127.0.0.1:111: killing it`);
  await stopDaemon(pidfile, exe, 3000);
  return true;
}

/** rpcbind answering on loopback; start it (never stopped by us, unless hung) when allowed. */
async function ensureRpcbind(c: Ctx): Promise<void> {
  if (await portmapAnswers(1000)) return;
  if (!c.params.rpcbind) fail(OCF.ERR_GENERIC, 'no portmapper answers on 127.0.0.1:111: start rpcbind (or set rpcbind=true)');
  const exe = which('rpcbind', c.env);
  if (!exe) fail(OCF.ERR_INSTALLED, 'rpcbind is not installed and no portmapper is running (apt-get install rpcbind)');
  const f = paths(c);
  let killed = false;
  try { killed = await killHungRpcbind(c); } catch (e) { fail(OCF.ERR_GENERIC, `hung rpcbind: ${(e as Error).message}`); }
  if (!killed && await portmapAnswers(1000)) return; // slow, not hung
  try {
    const pid = await startDaemon(
      { argv: [exe, '-f', '-w'], pidfile: f.pid('rpcbind'), logfile: `${f.run}/rpcbind.log` },
      { timeoutMs: Math.min(10_000, Math.max(1000, c.remaining() / 3)), ready: async () => (await rpcNull('127.0.0.1', 111, PROG.PORTMAP, 2, { timeoutMs: 300 })).ok },
    );
    c.log.info(`started rpcbind (pid ${pid}); it is left running at stop`);
  } catch (e) { fail(OCF.ERR_GENERIC, `rpcbind: ${(e as Error).message}`); }
}

/** Why NFS does not answer an RPC NULL on some listen address, or undefined. */
async function rpcWhy(c: Ctx, timeoutMs: number): Promise<string | undefined> {
  const vers = hasV3(c) ? 3 : 4;
  const out = await Promise.all(probeAddrs(c).map(async (a) => {
    const r = await rpcNull(a, c.params.port, PROG.NFS, vers, { transport: 'tcp', timeoutMs });
    if (!r.ok) return `NFS v${vers} RPC NULL to ${hostPort(a, c.params.port)}/tcp failed: ${r.error}`;
    if (hasV3(c)) {
      const m = await rpcNullViaPortmap(a, PROG.MOUNT, 3, 'tcp', timeoutMs);
      if (!m.ok) return `mountd: ${m.error}`;
    }
    return undefined;
  }));
  return out.find(Boolean);
}

/** Why the probe file cannot be read through NFS on some listen address, or undefined. */
async function nfsWhy(c: Ctx, timeoutMs: number): Promise<string | undefined> {
  const file = probePath(c);
  const out = await Promise.all(probeAddrs(c).map(async (a) => {
    const r = await nfsRead(a, file, { version: hasV3(c) ? 3 : 4, timeoutMs, nfsPort: c.params.port, env: c.env });
    if (r.ok) return r.data === probeContent(c) ? undefined : `probe file ${file} read through ${a} has unexpected content`;
    if (/NFS4ERR_GRACE/.test(r.error ?? '')) { c.log.info(`NFS on ${a} is in its grace period`); return undefined; }
    return `cannot read ${file} through NFS on ${a}: ${r.error}`;
  }));
  return out.find(Boolean);
}

function writeProbe(c: Ctx): void {
  try { writeFileAtomicIfChanged(probePath(c), probeContent(c), { mode: 0o644 }); } catch (e) {
    c.log.warn(`cannot write probe file ${probePath(c)}: ${(e as NodeJS.ErrnoException).code ?? e}; level-20 monitors will fail`);
  }
}

function warnHolders(c: Ctx): void {
  const f = paths(c);
  let dirs = [f.state];
  try { dirs = [...dirs, ...exportsOf(c).map((e) => e.path)]; } catch { /* exports unreadable: state only */ }
  const h = holders(dirs);
  if (h.length) c.log.warn(`after stop, still holding files in the state dir or exports (an unmount would be busy): ${h.slice(0, 10).join(' ')}`);
}

// ---- ganesha ----

function ganeshaConfig(c: Ctx): string {
  const f = paths(c);
  const vs = versionSet(c);
  const protos = [hasV3(c) ? '3' : '', hasV4(c) ? '4' : ''].filter(Boolean).join(', ');
  const minors = ['4.0', '4.1', '4.2'].filter((v) => vs.has(v)).map((v) => v.slice(2));
  const addrs = listenAddrs(c);
  const bind = addrs.length === 1 ? addrs[0] : '::';
  const q = (s: string) => `"${s}"`;
  const L = [
    `# Generated by ocf:ha-oscar:nfsserver for resource ${c.instance}. Overwritten at every start.`,
    'NFS_CORE_PARAM {',
    `  Bind_addr = ${bind};`,
    `  NFS_Port = ${c.params.port};`,
    ...(c.params.mountd_port ? [`  MNT_Port = ${c.params.mountd_port};`] : []),
    `  Protocols = ${protos};`,
    '  Enable_RQUOTA = false;',
    '}',
    'NFSV4 {',
    `  Grace_Period = ${c.params.grace_time};`,
    `  Lease_Lifetime = ${c.params.lease_time};`,
    '  RecoveryBackend = fs;',
    `  RecoveryRoot = ${q(f.state)};`,
    ...(minors.length ? [`  Minor_Versions = ${minors.join(', ')};`] : []),
    '}',
  ];
  exportsOf(c).forEach((e, i) => {
    L.push('EXPORT {', `  Export_Id = ${i + 1};`, `  Path = ${q(e.path)};`, `  Pseudo = ${q(e.path)};`,
      `  Protocols = ${protos};`, '  Transports = TCP, UDP;', '  Access_Type = None;', '  SecType = sys;', '  FSAL { Name = VFS; }');
    for (const cl of e.clients) {
      const o = new Set(cl.options);
      const val = (k: string) => cl.options.find((x) => x.startsWith(`${k}=`))?.slice(k.length + 1);
      L.push('  CLIENT {', `    Clients = ${cl.client};`, `    Access_Type = ${o.has('rw') ? 'RW' : 'RO'};`,
        `    Squash = ${o.has('all_squash') ? 'All_Squash' : o.has('no_root_squash') ? 'No_Root_Squash' : 'Root_Squash'};`);
      if (val('anonuid')) L.push(`    Anonymous_Uid = ${val('anonuid')};`);
      if (val('anongid')) L.push(`    Anonymous_Gid = ${val('anongid')};`);
      if (o.has('secure')) L.push('    PrivilegedPort = true;');
      if (val('sec')) L.push(`    SecType = ${val('sec')!.split(':').join(', ')};`);
      L.push('  }');
    }
    L.push('}');
  });
  return `${L.join('\n')}\n`;
}

async function ganeshaStart(c: Ctx): Promise<void> {
  const f = paths(c);
  const exe = c.bin('ganesha.nfsd');
  if (daemonState(f.pid('ganesha'), exe).state === 'running') return;
  await ensureRpcbind(c);
  mkdirSync(f.state, { recursive: true, mode: 0o755 });
  writeFileAtomic(f.ganeshaConf, ganeshaConfig(c), { mode: 0o644, mkdir: true });
  writeProbe(c);
  try {
    const pid = await startDaemon(
      { argv: [exe, '-F', '-f', f.ganeshaConf, '-L', f.log, '-p', `${f.run}/ganesha.nfsd.pid`, '-N', 'NIV_EVENT'], pidfile: f.pid('ganesha'), logfile: f.log },
      { timeoutMs: Math.max(1000, c.remaining() - 500), ready: async () => (await rpcWhy(c, 500)) === undefined },
    );
    c.log.info(`started ganesha.nfsd (pid ${pid}), grace ${c.params.grace_time}s, recovery in ${f.state}`);
  } catch (e) {
    fail(OCF.ERR_GENERIC, `start failed: ${(e as Error).message.replace(/ : epoch [0-9a-f]+ : [^:]+ : /g, ' ')}`);
  }
}

// ---- kernel ----

const KDAEMONS = ['statd', 'nfsdcld', 'mountd'] as const;
const KEXE: Record<(typeof KDAEMONS)[number], string> = { statd: 'rpc.statd', nfsdcld: 'nfsdcld', mountd: 'rpc.mountd' };

function nfsdThreads(): number | undefined {
  try { return Number.parseInt(readFileSync(`${NFSD}/threads`, 'utf8').trim(), 10) || 0; } catch { return undefined; }
}

const mounted = (type: string, at: string) => {
  try { return readFileSync('/proc/mounts', 'utf8').split('\n').some((l) => { const w = l.split(' '); return w[1] === at && w[2] === type; }); } catch { return false; }
};

/** Make sure /proc/fs/nfsd is there; fail with ERR_INSTALLED when the kernel has no nfsd. */
async function ensureNfsd(c: Ctx): Promise<void> {
  if (existsSync(`${NFSD}/threads`)) return;
  let fss = '';
  try { fss = readFileSync('/proc/filesystems', 'utf8'); } catch { /* no /proc? */ }
  if (!/\tnfsd$/m.test(fss)) {
    // try to load the module; on kernels without it this fails and we say so
    const mp = which('modprobe', c.env);
    if (mp) await run(mp, ['nfsd'], { timeoutMs: 10_000 });
    try { fss = readFileSync('/proc/filesystems', 'utf8'); } catch { /* keep */ }
    if (!/\tnfsd$/m.test(fss)) fail(OCF.ERR_INSTALLED, 'this kernel has no nfsd ("nfsd" is not in /proc/filesystems and modprobe nfsd failed); use server=ganesha');
  }
  try { await runOk(c.bin('mount'), ['-t', 'nfsd', 'nfsd', NFSD], { timeoutMs: 10_000 }); } catch (e) { fail(OCF.ERR_GENERIC, `cannot mount nfsd on ${NFSD}: ${(e as Error).message}`); }
}

function versionFlags(c: Ctx): string[] {
  const vs = versionSet(c);
  const a: string[] = []; // nfs-utils 2.6 refuses "-N 2": v2 is gone
  for (const v of ['3', '4.0', '4.1', '4.2']) a.push(vs.has(v) ? '-V' : '-N', v);
  if (!hasV4(c)) a.push('-N', '4');
  return a;
}

async function kernelStart(c: Ctx): Promise<void> {
  const f = paths(c);
  await ensureNfsd(c);
  if ((nfsdThreads() ?? 0) > 0) {
    const why = await kernelDown(c);
    if (why === undefined) return; // running
    if (!existsSync(paths(c).components)) {
      fail(OCF.ERR_GENERIC, 'nfsd is already running outside the cluster (disable the distribution\'s nfs-server service on both heads)');
    }
  }
  if (hasV3(c) || c.params.rpcbind) await ensureRpcbind(c);
  // rpc_pipefs lives in /run, never in the state dir: nothing of it can make the state dir busy
  if (!mounted('rpc_pipefs', PIPEFS)) {
    mkdirSync(PIPEFS, { recursive: true });
    try { await runOk(c.bin('mount'), ['-t', 'rpc_pipefs', 'sunrpc', PIPEFS], { timeoutMs: 10_000 }); } catch (e) { c.log.warn(`rpc_pipefs: ${(e as Error).message}`); }
  }
  for (const d of ['sm', 'sm.bak', 'nfsdcld', 'v4recovery']) mkdirSync(`${f.state}/${d}`, { recursive: true, mode: 0o700 });
  // every nfs-utils tool uses the shared state dir; no bind mount over /var/lib/nfs
  writeFileAtomicIfChanged(f.nfsConf, [
    `# Generated by ocf:ha-oscar:nfsserver for resource ${c.instance}.`,
    // exportfs reads its state dir from [mountd] (nfs-utils 2.6), like rpc.mountd
    '[exportfs]', `state-directory-path=${f.state}`, '[mountd]', `state-directory-path=${f.state}`,
    '[statd]', `state-directory-path=${f.state}`, '[nfsdcld]', `storagedir=${f.state}/nfsdcld`, '',
  ].join('\n'), { mkdir: true });
  writeFileAtomic(`${f.state}/etab`, ''); // a clean slate: our exports only
  const started: string[] = [];
  // written before anything starts, so that stop cleans up after a start that failed half-way
  writeFileAtomic(f.components, '\n', { mkdir: true });
  const startOne = async (name: (typeof KDAEMONS)[number], argv: string[], ready: () => Promise<boolean> | boolean) => {
    const pid = await startDaemon({ argv, pidfile: f.pid(name), logfile: f.log }, { timeoutMs: Math.max(2000, Math.min(15_000, c.remaining() / 4)), ready });
    started.push(name);
    writeFileAtomic(f.components, `${started.join(' ')}\n`);
    c.log.info(`started ${argv[0]} (pid ${pid})`);
  };
  try {
    const registered = (prog: number, vers: number, proto: 'tcp' | 'udp') => async () => ((await pmapGetPort('127.0.0.1', prog, vers, proto, { timeoutMs: 500 })).port ?? 0) > 0;
    if (hasV3(c)) {
      // Tell the NLM clients recorded in the (moved) state dir that the server rebooted, so they
      // reclaim their locks. -f: statd's own sm-notify runs once per boot only, and this node may
      // have booted long before the takeover; statd itself then starts with -L (no notify).
      const smn = which('sm-notify', c.env);
      if (smn) {
        const r = await run(smn, ['-f', '-P', f.state, ...(listenAddrs(c)[0] ? ['-v', listenAddrs(c)[0]!] : [])], { timeoutMs: 10_000 });
        if (r.code !== 0) c.log.warn(describeFailure('sm-notify', r));
      }
      await startOne('statd', [c.bin('rpc.statd'), '-F', '-L', '-P', f.state, ...(c.params.statd_port ? ['-p', String(c.params.statd_port)] : [])], registered(PROG.STATUS, 1, 'udp'));
    }
    const cld = which('nfsdcld', c.env);
    if (hasV4(c) && cld && mounted('rpc_pipefs', PIPEFS)) {
      await startOne('nfsdcld', [cld, '-F', '-p', PIPEFS, '-s', `${f.state}/nfsdcld`], () => existsSync(`${f.state}/nfsdcld/main.sqlite`));
    } else if (hasV4(c)) {
      c.log.warn('nfsdcld not started (not installed, or no rpc_pipefs): NFSv4 client records go to the legacy v4recovery dir');
    }
    // legacy NFSv4 client tracking, used when nfsdcld is absent
    try { writeFileSync(`${NFSD}/nfsv4recoverydir`, `${f.state}/v4recovery`); } catch { /* newer kernels drop it */ }
    for (const e of exportsOf(c)) for (const cl of e.clients) await runOk(c.bin('exportfs'), exportfsArgs(e, cl), { timeoutMs: 20_000 });
    await startOne('mountd', [c.bin('rpc.mountd'), '-F', '-s', f.state, ...(hasV3(c) ? [] : ['-N', '3']), ...(c.params.mountd_port ? ['-p', String(c.params.mountd_port)] : [])],
      hasV3(c) ? registered(PROG.MOUNT, 3, 'tcp') : () => true);
    const hosts = listenAddrs(c).flatMap((a) => ['-H', a]);
    await runOk(c.bin('rpc.nfsd'), [...hosts, '-p', String(c.params.port), '-G', String(c.params.grace_time), '-L', String(c.params.lease_time), ...versionFlags(c), String(c.params.threads)], { timeoutMs: 30_000 });
    writeProbe(c);
    for (;;) {
      const why = await rpcWhy(c, 500);
      if (!why) break;
      if (c.remaining() < 1000) throw new Error(`not answering: ${why}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    await kernelStop(c).catch((x) => c.log.warn(`cleanup after the failed start: ${(x as Error).message}`));
    if (e instanceof OcfError) throw e;
    fail(OCF.ERR_GENERIC, `start failed: ${(e as Error).message}`);
  }
}

async function kernelStop(c: Ctx): Promise<void> {
  const f = paths(c);
  if (!existsSync(f.components) && (nfsdThreads() ?? 0) === 0) {
    for (const d of KDAEMONS) await stopDaemon(f.pid(d), `/usr/sbin/${KEXE[d]}`, Math.max(3000, c.remaining() / 4));
    return; // never started here: leave exportfs alone
  }
  if ((nfsdThreads() ?? 0) > 0) await runOk(c.bin('rpc.nfsd'), ['0'], { timeoutMs: Math.max(2000, c.remaining() / 3) });
  const exportfs = which('exportfs', c.env);
  if (exportfs) {
    let list: ExportEntry[] = [];
    try { list = exportsOf(c); } catch { /* unreadable now: flush below still drops the kernel's cache */ }
    for (const e of list) for (const cl of e.clients) await run(exportfs, ['-u', `${exportfsClient(cl.client)}:${e.path}`], { timeoutMs: 10_000 });
    if (existsSync(`${NFSD}/threads`)) await run(exportfs, ['-f'], { timeoutMs: 10_000 });
  }
  for (const d of [...KDAEMONS].reverse()) await stopDaemon(f.pid(d), `/usr/sbin/${KEXE[d]}`, Math.max(3000, c.remaining() / 4));
  rmSync(f.components, { force: true });
  if ((nfsdThreads() ?? 0) > 0) throw new Error('nfsd threads are still running after rpc.nfsd 0');
}

/** kernel level 0: undefined = all up; 'stopped' = nothing up; else why it is broken. */
async function kernelDown(c: Ctx): Promise<string | undefined> {
  const f = paths(c);
  let want: string[] = [];
  try { want = readFileSync(f.components, 'utf8').trim().split(/\s+/).filter(Boolean); } catch { /* not started by us */ }
  const threads = nfsdThreads() ?? 0;
  const alive = KDAEMONS.filter((d) => runningPid(f.pid(d), `/usr/sbin/${KEXE[d]}`) !== undefined);
  if (!existsSync(f.components) && threads === 0 && alive.length === 0) return 'stopped';
  if (threads === 0) return 'nfsd has no threads running';
  if (!existsSync(f.components)) return 'nfsd runs, but was not started by this resource';
  const dead = want.filter((d) => !alive.includes(d as (typeof KDAEMONS)[number]));
  return dead.length ? `${dead.map((d) => KEXE[d as (typeof KDAEMONS)[number]]).join(', ')} died` : undefined;
}

// ---- the agent ----

export default defineAgent({
  name: 'nfsserver',
  version,
  shortdesc: 'NFS server (kernel nfsd or nfs-ganesha) with failover state',
  longdesc: 'Serves the cluster\'s NFS exports on the head-node VIPs (IPv4 and IPv6), with the NFS state directory on the storage that moves with the service, so that clients reclaim their state in the grace period after a failover. server=kernel runs rpc.nfsd, exportfs, rpc.mountd, rpc.statd and nfsdcld; server=ganesha runs nfs-ganesha. Level 0 monitors check every daemon, level 10 an RPC NULL call to NFS (and mountd) on each address, level 20 reads a probe file through NFS.',
  params,
  needsRoot: true,
  binaries: (pr) => (pr.server === 'ganesha' ? ['ganesha.nfsd'] : ['rpc.nfsd', 'exportfs', 'rpc.mountd', 'mount', ...(splitList(pr.versions).includes('3') ? ['rpc.statd'] : [])]),
  timeouts: { start: 60, stop: 60, monitor: 30 },
  monitors: [{ depth: 0, interval: 10, timeout: 20 }, { depth: 10, interval: 120, timeout: 30 }, { depth: 20, interval: 300, timeout: 60 }],
  // what the level-0 monitor looks at (src/ocf/fastpath.ts: a sh fast path answers it) (ganesha only: the kernel
  // server's level 0 also looks at the kernel's threads and exports)
  processes: (c) => (c.params.server === 'ganesha' ? [{ pidfile: paths(c).pid('ganesha'), exe: c.bin('ganesha.nfsd') }] : undefined),

  validate(c) {
    if (c.params.server === 'ganesha' && (c.params.grace_time > 180 || c.params.lease_time > 180)) {
      fail(OCF.ERR_CONFIGURED, 'ganesha accepts grace_time and lease_time up to 180 s');
    }
    if (c.params.server === 'kernel' && (c.params.grace_time < 10 || c.params.lease_time < 10)) {
      fail(OCF.ERR_CONFIGURED, 'the kernel nfsd needs grace_time and lease_time of at least 10 s');
    }
    if (c.params.grace_time < c.params.lease_time) {
      fail(OCF.ERR_CONFIGURED, `grace_time (${c.params.grace_time}) must be at least lease_time (${c.params.lease_time}): clients need a whole lease to notice the failover and reclaim`);
    }
    const ex = exportsOf(c);
    for (const e of ex) {
      let st;
      try { st = statSync(e.path); } catch { fail(OCF.ERR_CONFIGURED, `exported path ${e.path} does not exist`); }
      if (!st.isDirectory()) fail(OCF.ERR_CONFIGURED, `exported path ${e.path} is not a directory`);
    }
    const probe = probePath(c);
    if (!ex.some((e) => probe.startsWith(`${e.path.replace(/\/$/, '')}/`))) fail(OCF.ERR_CONFIGURED, `probe_file ${probe} is not inside an export`);
    if (c.params.server === 'ganesha' && listenAddrs(c).length > 1) {
      c.log.debug('ganesha binds one address: listening on all (::)');
    }
  },

  async start(c) {
    if (c.params.server === 'ganesha') await ganeshaStart(c); else await kernelStart(c);
  },

  async stop(c) {
    const f = paths(c);
    // a hung rpcbind of ours first: the daemons' unregistration at exit would wait on it
    if (c.params.rpcbind) await killHungRpcbind(c).catch((e: Error) => c.log.warn(`hung rpcbind: ${e.message}`));
    if (c.params.server === 'ganesha') {
      await stopDaemon(f.pid('ganesha'), '/usr/bin/ganesha.nfsd', c.remaining());
    } else {
      try { await kernelStop(c); } catch (e) { fail(OCF.ERR_GENERIC, `stop failed: ${(e as Error).message}`); }
    }
    warnHolders(c);
  },

  async monitor(c) {
    const f = paths(c);
    if (c.params.server === 'ganesha') {
      if (daemonState(f.pid('ganesha'), c.bin('ganesha.nfsd')).state === 'stopped') return OCF.NOT_RUNNING;
    } else {
      const why = await kernelDown(c);
      if (why === 'stopped') return OCF.NOT_RUNNING;
      if (why) fail(OCF.ERR_GENERIC, why);
    }
    const budget = Math.min(5000, Math.max(500, c.remaining() / 3));
    if (c.checkLevel >= 10) {
      const why = await rpcWhy(c, budget);
      if (why) fail(OCF.ERR_GENERIC, why);
    }
    if (c.checkLevel >= 20) {
      const why = await nfsWhy(c, budget);
      if (why) fail(OCF.ERR_GENERIC, why);
    }
    return OCF.SUCCESS;
  },
}).main();

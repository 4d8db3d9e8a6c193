// ocf:ha-oscar:nfsserver with server=kernel. This machine has no nfsd (and cannot load it), so:
//  1. meta-data, validate-all and the export syntax are tested for real;
//  2. on a kernel without nfsd, start fails with ERR_INSTALLED and a clear reason, leaving nothing;
//  3. the exportfs / rpc.mountd / rpc.statd / rpc.nfsd handling runs the REAL nfs-utils tools in a
//     namespace of our own, where /proc/fs/nfsd is a plain directory standing in for the kernel's
//     control files (rpc.nfsd writes its versions, grace, lease and thread count there) and a small
//     RPC responder answers NULL calls on port 2049 in place of the kernel's nfsd threads.
//     What this does NOT prove: that the kernel serves NFS. Ganesha mode proves serving for real.
import { it, expect, beforeAll, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distOcf, runAgent, tempDir } from '../helpers/agents';
import { bundleEntry } from '../helpers/build';
import { describeWith } from '../helpers/prereq';
import { createNet, runIn, SRV4, SRV6, type NfsNet } from '../fixtures/nfs/ns';

const agent = join(distOcf, 'nfsserver');
const kernelBins = ['rpc.nfsd', 'exportfs', 'rpc.mountd', 'rpc.statd'];
const kernelPkgs = ['nfs-kernel-server', 'nfs-common'];
const hasNfsd = (() => { try { return /\tnfsd$/m.test(readFileSync('/proc/filesystems', 'utf8')); } catch { return false; } })();

describeWith({ bins: kernelBins, root: true, packages: kernelPkgs }, 'nfsserver (kernel): meta-data, validate-all, export syntax', () => {
  let dir: string;
  let base: Record<string, string>;
  beforeAll(() => {
    dir = tempDir('dv9-nfsk');
    mkdirSync(join(dir, 'home'));
    mkdirSync(join(dir, 'sw'));
    base = {
      server: 'kernel', exports: `${join(dir, 'home')} 2001:db8:a::/64(rw,no_root_squash) 192.0.2.0/24(rw,sync)`,
      state_dir: join(dir, 'state'), run_dir: join(dir, 'run'), grace_time: '30', lease_time: '30',
    };
  });
  afterAll(() => { rmSync(dir, { recursive: true, force: true }); });
  const validate = (over: Record<string, string>) => runAgent(agent, 'validate-all', { ...base, ...over });

  it('meta-data declares the parameters and the three monitor depths', () => {
    const r = runAgent(agent, 'meta-data');
    expect(r.code).toBe(0);
    for (const p of ['server', 'exports', 'state_dir', 'grace_time', 'lease_time', 'listen', 'versions', 'probe_file']) {
      expect(r.stdout).toContain(`<parameter name="${p}"`);
    }
    for (const d of ['0', '10', '20']) expect(r.stdout).toMatch(new RegExp(`<action name="monitor"[^>]*depth="${d}"`));
  });

  it('accepts one-line exports with IPv6 prefixes, several exports, and an exports file', () => {
    expect(validate({}).code).toBe(0);
    expect(validate({ exports: `${join(dir, 'home')} *(ro); ${join(dir, 'sw')} @cluster(ro) node*.example.org(rw) 192.0.2.0/255.255.255.0(rw,anonuid=1000,anongid=1000,sec=sys)` }).code).toBe(0);
    const f = join(dir, 'exports');
    writeFileSync(f, `# cluster exports\n${join(dir, 'home')} 2001:db8:a::/64(rw) \\\n   192.0.2.0/24(rw)\n\n${join(dir, 'sw')} *(ro,no_subtree_check)  # software\n`);
    const r = validate({ exports: f });
    expect(r.code, r.stderr).toBe(0);
  });

  const bad: [string, Record<string, string>, RegExp][] = [
    ['a missing exported path', { exports: '/nonexistent/dv9 192.0.2.0/24(rw)' }, /exported path \/nonexistent\/dv9 does not exist/],
    ['a relative path', { exports: 'srv/home 192.0.2.0/24(rw)' }, /export path must be absolute/],
    ['options after a space', { exports: '/tmp 192.0.2.0/24 (rw)' }, /must follow a client without a space/],
    ['no client', { exports: '/tmp ;/srv 192.0.2.1(rw)' }, /names no client/],
    ['an IPv4 prefix over 32', { exports: '/tmp 192.0.2.0/33(rw)' }, /bad client network/],
    ['an IPv6 prefix over 128', { exports: '/tmp 2001:db8::/129(rw)' }, /bad client network/],
    ['a bad IPv6 address', { exports: '/tmp 2001:db8::g/64(rw)' }, /bad client network/],
    ['a bad IPv6 address with ":::"', { exports: '/tmp 2001:db8:::1(rw)' }, /bad client/],
    ['an unknown option', { exports: '/tmp 192.0.2.0/24(rw,bogus)' }, /unknown or bad export option "bogus"/],
    ['rw and ro together', { exports: '/tmp 192.0.2.0/24(rw,ro)' }, /both rw and ro/],
    ['the same path twice', { exports: '/tmp 192.0.2.1(rw); /tmp 192.0.2.2(rw)' }, /exports \/tmp twice/],
    ['a missing exports file', { exports: '/nonexistent/dv9-exports' }, /cannot read exports file \/nonexistent\/dv9-exports: ENOENT/],
    ['a file as export path', { exports: '/etc/hostname 192.0.2.1(rw)' }, /is not a directory/],
    ['grace shorter than lease', { grace_time: '20', lease_time: '30' }, /grace_time \(20\) must be at least lease_time \(30\)/],
    ['a kernel grace under 10 s', { grace_time: '5', lease_time: '5' }, /at least 10 s/],
    ['an unknown NFS version', { versions: '3 5' }, /"5" is not one/],
    ['a probe file outside the exports', { probe_file: '/etc/dv9-probe' }, /probe_file \/etc\/dv9-probe is not inside an export/],
  ];
  for (const [what, over, reason] of bad) {
    it(`rejects ${what} with one clear reason (ERR_CONFIGURED)`, () => {
      const r = validate(over);
      expect(r.code, r.stderr).toBe(6);
      expect(r.reasons).toHaveLength(1);
      expect(r.reasons[0]).toMatch(reason);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });
  }

  it('reports the line of a bad exports file', () => {
    const f = join(dir, 'exports-bad');
    writeFileSync(f, `# ok\n${join(dir, 'home')} 192.0.2.0/24(rw)\n${join(dir, 'sw')} 192.0.2.0/24(rw,frobnicate)\n`);
    const r = validate({ exports: f });
    expect(r.code).toBe(6);
    expect(r.reasons[0]).toMatch(new RegExp(`${f} line 3: .*"frobnicate"`));
  });

  it.skipIf(hasNfsd)('on a kernel without nfsd: start fails with ERR_INSTALLED and a reason, probe says not running, stop succeeds, nothing is left', () => {
    const id = 'dv9k-noknfsd';
    const env = { OCF_RESOURCE_INSTANCE: id };
    const r = runAgent(agent, 'start', { ...base, rpcbind: 'false' }, env);
    expect(r.code, r.stderr).toBe(5);
    expect(r.reasons[0]).toMatch(/this kernel has no nfsd/);
    expect(existsSync(`/etc/nfs.conf.d/ha-oscar-${id}.conf`)).toBe(false);
    expect(existsSync(join(dir, 'run', 'mountd.pid'))).toBe(false);
    expect(runAgent(agent, 'monitor', base, { ...env, OCF_RESKEY_CRM_meta_interval: '0' }).code).toBe(7);
    expect(runAgent(agent, 'stop', base, env).code).toBe(0);
  });
});

describeWith({ bins: [...kernelBins, 'rpcbind', 'ip', 'nsenter', 'unshare', 'mount'], root: true, packages: [...kernelPkgs, 'rpcbind', 'iproute2', 'util-linux'] },
  'nfsserver (kernel): exportfs, mountd, statd and rpc.nfsd handling with the real nfs-utils', () => {
    let net: NfsNet;
    let dir: string;
    let responder: ChildProcess | undefined;
    let client: string;
    let respJs: string;
    let params: Record<string, string>;
    /** The RPC responder plays the kernel's nfsd threads on 2049: it can bind only after rpc.nfsd let go of its sockets. */
    const startResponder = async () => {
      responder = spawn('nsenter', [`--net=/run/netns/${net.srv}`, process.execPath, respJs, '2049', '100003'], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((res, rej) => {
        responder!.stdout!.once('data', () => res());
        responder!.once('exit', () => rej(new Error('responder died')));
      });
    };
    const stopResponder = () => { if (responder?.pid) { try { process.kill(responder.pid, 'SIGKILL'); } catch { /* gone */ } } responder = undefined; };
    /** agent start, with the responder brought up once rpc.nfsd has set the threads. */
    const startAgent = async () => {
      const e: Record<string, string> = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', OCF_ROOT: '/usr/lib/ocf', OCF_RESOURCE_INSTANCE: 'dv9k', OCF_RESKEY_CRM_meta_timeout: '40000' };
      for (const [k, v] of Object.entries(params)) e[`OCF_RESKEY_${k}`] = v;
      const child = spawn(net.inSrv[0]!, [...net.inSrv.slice(1), agent, 'start'], { env: e, stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr!.on('data', (d) => { stderr += String(d); });
      const done = new Promise<number>((res) => child.on('exit', (code) => res(code ?? -1)));
      let exited = false;
      void done.then(() => { exited = true; });
      while (!exited && knob('threads') !== params.threads) await new Promise((r) => setTimeout(r, 100));
      if (!exited) await startResponder();
      return { code: await done, stderr };
    };
    const nfsdDir = () => join(dir, 'proc-fs-nfsd');
    const act = (action: string, extra: Record<string, string> = {}) => {
      const e: Record<string, string> = { OCF_ROOT: '/usr/lib/ocf', OCF_RESOURCE_INSTANCE: 'dv9k', OCF_RESKEY_CRM_meta_timeout: '40000', ...extra };
      for (const [k, v] of Object.entries(params)) if (e[`OCF_RESKEY_${k}`] === undefined) e[`OCF_RESKEY_${k}`] = v;
      const r = runIn(net.inSrv, [agent, action], e);
      return { ...r, reasons: r.stderr.split('\n').filter((l) => l.startsWith('ocf-exit-reason:')).map((l) => l.slice(16)) };
    };
    const cli = (...a: string[]) => JSON.parse(runIn(net.inCli, [process.execPath, client, ...a]).stdout.trim() || '{}') as { ok: boolean; port?: number; error?: string };
    const knob = (n: string) => readFileSync(join(nfsdDir(), n), 'utf8').trim();
    const pid = (d: string) => Number.parseInt(readFileSync(join(dir, 'run', `${d}.pid`), 'utf8'), 10);
    const alive = (p: number) => { try { return !/^\d+ \(.*\) [ZX] /.test(readFileSync(`/proc/${p}/stat`, 'utf8')); } catch { return false; } };

    beforeAll(async () => {
      dir = tempDir('dv9-nfsk2');
      for (const d of ['home', 'sw', 'confd']) mkdirSync(join(dir, d));
      mkdirSync(nfsdDir());
      // the kernel's control files, as rpc.nfsd expects them with nfsd down
      for (const [n, v] of Object.entries({ threads: '0', versions: '+3 +4 +4.1 +4.2', portlist: '', nfsv4leasetime: '90', nfsv4gracetime: '90', nfsv4recoverydir: '/var/lib/nfs/v4recovery' })) {
        writeFileSync(join(nfsdDir(), n), v === '' ? '' : `${v}\n`); // portlist: empty = knfsd down
      }
      client = await bundleEntry('test/fixtures/nfs/client.ts', join(dir, 'client.js'));
      const resp = await bundleEntry('test/fixtures/nfs/rpc-responder.ts', join(dir, 'responder.js'));
      net = createNet(`k${process.pid % 10000}`, dir);
      // in the server's mount namespace only: our /proc/fs/nfsd stand-in and our nfs.conf.d
      runIn([], ['nsenter', `--mount=${net.mnt}`, 'mount', '--bind', nfsdDir(), '/proc/fs/nfsd']);
      runIn([], ['nsenter', `--mount=${net.mnt}`, 'mount', '--bind', join(dir, 'confd'), '/etc/nfs.conf.d']);
      respJs = resp;
      params = {
        server: 'kernel', exports: `${join(dir, 'home')} 2001:db8:9::/64(rw,no_root_squash) 192.0.2.0/24(rw); ${join(dir, 'sw')} *(ro)`,
        state_dir: join(dir, 'state'), run_dir: join(dir, 'run'), listen: `${SRV4} ${SRV6}`,
        grace_time: '15', lease_time: '10', versions: '3 4.1 4.2', threads: '4', mountd_port: '20048',
      };
    });
    afterAll(() => {
      if (net) {
        act('stop');
        stopResponder();
        const pids = ['mountd', 'statd', 'nfsdcld', 'rpcbind'].map((d) => join(dir, 'run', `${d}.pid`));
        for (const pf of pids) {
          try {
            const p = Number.parseInt(readFileSync(pf, 'utf8'), 10);
            if (/rpc\.|rpcbind|nfsdcld/.test(readFileSync(`/proc/${p}/cmdline`, 'utf8'))) process.kill(p, 'SIGKILL');
          } catch { /* gone */ }
        }
        net.teardown();
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('start runs exportfs, rpc.statd, rpc.mountd and rpc.nfsd with the right arguments', async () => {
      const r = await startAgent();
      expect(r.code, r.stderr).toBe(0);
      // rpc.nfsd wrote the kernel knobs: versions, grace, lease, threads, one socket per address
      expect(knob('versions')).toBe('-2 +3 -4.0 +4.1 +4.2');
      expect(knob('nfsv4gracetime')).toBe('15');
      expect(knob('nfsv4leasetime')).toBe('10');
      expect(knob('threads')).toBe('4');
      expect(knob('nfsv4recoverydir')).toBe(join(dir, 'state', 'v4recovery'));
      // exportfs wrote our exports, and only ours, to the etab in the shared state dir
      const etab = readFileSync(join(dir, 'state', 'etab'), 'utf8');
      expect(etab).toMatch(new RegExp(`^${join(dir, 'home')}\\t2001:db8:9::/64\\(rw,.*no_root_squash`, 'm'));
      expect(etab).toMatch(new RegExp(`^${join(dir, 'home')}\\t192\\.0\\.2\\.0/24\\(rw,.*[^_]root_squash`, 'm'));
      expect(etab).toMatch(new RegExp(`^${join(dir, 'sw')}\\t\\*\\(ro,`, 'm'));
      expect(etab.trim().split('\n')).toHaveLength(3);
      // nfs-utils were pointed at the state dir (no bind mount over /var/lib/nfs)
      expect(readFileSync(join(dir, 'confd', 'ha-oscar-dv9k.conf'), 'utf8')).toContain(`state-directory-path=${join(dir, 'state')}`);
      // mountd (fixed port) and statd registered with rpcbind, seen from the client
      for (const a of [SRV4, SRV6]) {
        expect(cli('pmap', a, '100005', '3', 'tcp')).toMatchObject({ ok: true, port: 20048 });
        expect(cli('null', a, '20048', '100005', '3', 'tcp')).toMatchObject({ ok: true });
        expect(cli('pmap', a, '100024', '1', 'udp').port).toBeGreaterThan(0);
      }
      for (const d of ['mountd', 'statd']) expect(alive(pid(d))).toBe(true);
      // a second start changes nothing
      const m = pid('mountd');
      expect(act('start').code).toBe(0);
      expect(pid('mountd')).toBe(m);
    });

    it('monitor levels 0 and 10 pass; a dead mountd is noticed at level 0', () => {
      expect(act('monitor', { OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(0);
      const r10 = act('monitor', { OCF_CHECK_LEVEL: '10', OCF_RESKEY_CRM_meta_interval: '10000' });
      expect(r10.code, r10.stderr).toBe(0);
      process.kill(pid('mountd'), 'SIGKILL');
      const r = act('monitor', { OCF_RESKEY_CRM_meta_interval: '10000' });
      expect(r.code).toBe(1);
      expect(r.reasons[0]).toMatch(/rpc\.mountd died/);
    });

    it('stop undoes everything: nfsd threads 0, exports withdrawn, daemons gone; stop again succeeds', () => {
      const statd = pid('statd');
      const r = act('stop');
      stopResponder(); // the kernel's threads are gone
      expect(r.code, r.stderr).toBe(0);
      expect(knob('threads')).toBe('0');
      expect(readFileSync(join(dir, 'state', 'etab'), 'utf8').trim()).toBe('');
      expect(alive(statd)).toBe(false);
      expect(act('monitor').code).toBe(7);
      expect(act('stop').code).toBe(0);
    });

    it('start after a failover finds its state dir (etab, sm) and starts clean', async () => {
      writeFileSync(join(nfsdDir(), 'portlist'), ''); // what the kernel does when its threads stop
      const r = await startAgent();
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(join(dir, 'state', 'sm'))).toBe(true);
      expect(readFileSync(join(dir, 'state', 'etab'), 'utf8').trim().split('\n')).toHaveLength(3);
      expect(knob('threads')).toBe('4');
      expect(act('monitor', { OCF_CHECK_LEVEL: '10', OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(0);
      expect(act('stop').code).toBe(0);
    });
  });


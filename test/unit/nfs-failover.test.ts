// Failover of ocf:ha-oscar:nfsserver (ganesha) between two "heads" (namespaces holding the same
// VIPs, sharing the export and state directories as the shared volume would), with a libnfs
// client writing a stream of files over IPv4 and IPv6, NFSv3 and NFSv4:
//  - every acknowledged write reads back after the failover;
//  - the stream resumes, and every error meanwhile is one a client retries.
// The cluster manager's part (noticing the failure, fencing) is the lab's; here the takeover
// starts right after the power-off, so the times printed are the NFS part of a failover.
import { it, expect, beforeAll, afterAll } from 'vitest';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distOcf, tempDir } from '../helpers/agents';
import { bundleEntry } from '../helpers/build';
import { describeWith } from '../helpers/prereq';
import { createClient, createHead, runIn, SRV4, SRV6, type Head } from '../fixtures/nfs/ns';

const agent = join(distOcf, 'nfsserver');
const need = {
  bins: ['ganesha.nfsd', 'rpcbind', 'nfs-cat', 'nfs-cp', 'ip', 'nsenter', 'unshare'],
  root: true,
  packages: ['nfs-ganesha', 'nfs-ganesha-vfs', 'rpcbind', 'libnfs-utils', 'iproute2', 'util-linux'],
};

interface IoResult { ok: boolean; error?: string; data?: string; retryable?: boolean }

describeWith(need, 'nfsserver (ganesha) failover between two heads', () => {
  const id = String(process.pid % 10000);
  let base: string;
  let exp: string;
  let client: string;
  let cl: ReturnType<typeof createClient> | undefined;
  let head: Head | undefined;
  let headNo = 0;
  const runDir = (n: number) => join(base, `run${n}`);
  const pidfiles = (n: number) => [join(runDir(n), 'ganesha.pid'), join(runDir(n), 'rpcbind.pid')];
  const params = (n: number, grace: string): Record<string, string> => ({
    server: 'ganesha', exports: `${exp} 192.0.2.0/24(rw) 2001:db8:9::/64(rw)`,
    state_dir: join(base, 'shared', 'nfs-state'), run_dir: runDir(n),
    listen: `${SRV4} ${SRV6}`, grace_time: grace, lease_time: '5',
  });
  const act = (h: Head, action: string, p: Record<string, string>) => {
    const e: Record<string, string> = { OCF_ROOT: '/usr/lib/ocf', OCF_RESOURCE_INSTANCE: 'dv9nfs', OCF_RESKEY_CRM_meta_timeout: '30000' };
    for (const [k, v] of Object.entries(p)) e[`OCF_RESKEY_${k}`] = v;
    return runIn(h.inSrv, [agent, action], e);
  };
  const io = (...a: string[]): IoResult => {
    const r = runIn(cl!.inCli, [process.execPath, client, ...a], {}, 30_000);
    try { return JSON.parse(r.stdout.trim()) as IoResult; } catch { return { ok: false, error: `client: ${r.stdout} ${r.stderr}`.trim() }; }
  };
  /** Bring up head n and start nfsserver on it. */
  const takeOver = (grace: string) => {
    headNo += 1;
    head = createHead(`${id}${headNo}`, base, cl!.ns);
    const r = act(head, 'start', params(headNo, grace));
    expect(r.code, r.stderr).toBe(0);
  };

  beforeAll(async () => {
    base = tempDir('dv9-nfsfo');
    exp = join(base, 'shared', 'export');
    mkdirSync(exp, { recursive: true });
    chmodSync(exp, 0o1777); // root is squashed to nobody: the stream writes as nobody
    client = await bundleEntry('test/fixtures/nfs/client.ts', join(base, 'client.js'));
    cl = createClient(`f${id}`);
  });
  afterAll(() => {
    if (head) { act(head, 'stop', params(headNo, '5')); head.powerOff(pidfiles(headNo)); }
    cl?.destroy();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  const stream: [string, string][] = [[SRV4, '3'], [SRV6, '4'], [SRV4, '4'], [SRV6, '3']];
  const acked = new Map<string, string>();
  let seq = 0;
  let attempt = 0;
  /** One write of the stream; retried (under a new name: nfs-cp creates exclusively) until acknowledged. */
  const writeNext = (): IoResult & { name: string } => {
    const [addr, v] = stream[seq % stream.length]!;
    attempt += 1;
    const name = `${exp}/f-${String(seq).padStart(4, '0')}-${attempt}-v${v}-${addr.includes(':') ? 'ip6' : 'ip4'}`;
    const content = `${name} ${'x'.repeat(seq * 37 % 4000)}\n`;
    const local = join(base, 'payload');
    writeFileSync(local, content);
    const r = io('write', addr, local, name, v);
    if (r.ok) { acked.set(name, content); seq += 1; }
    return { ...r, name };
  };

  for (const grace of ['5', '15']) {
    it(`power-off during a write stream, grace_time=${grace}: acknowledged writes survive, the stream resumes`, async () => {
      if (!head) takeOver(grace);
      // the stream runs on the active head (after its own grace)
      const t0 = Date.now();
      let n = 0;
      let last = '';
      while (n < 8 && Date.now() - t0 < 60_000) { const r = writeNext(); if (r.ok) n += 1; else last = r.error ?? ''; }
      expect(n, last).toBe(8);

      // power-off: no stop, the daemons are killed and the node's links vanish
      const off = Date.now();
      head!.powerOff(pidfiles(headNo));
      const during: string[] = [];
      const w = writeNext(); // the client keeps writing: this fails (no server) and is retried
      if (!w.ok) { expect(w.retryable, w.error).toBe(true); during.push(w.error!); }
      takeOver(grace);
      const started = Date.now() - off;

      const firstOk: Record<string, number> = {};
      n = 0;
      while (n < 8 && Date.now() - off < 90_000) {
        const r = writeNext();
        if (r.ok) {
          const [addr, v] = stream[(seq - 1) % stream.length]!;
          firstOk[`v${v}`] ??= Date.now() - off;
          firstOk[addr.includes(':') ? 'ip6' : 'ip4'] ??= Date.now() - off;
          n += 1;
        } else {
          expect(r.retryable, `not retryable: ${r.error}`).toBe(true);
          if (!during.includes(r.error!)) during.push(r.error!);
          await new Promise((res) => setTimeout(res, 200));
        }
      }
      expect(n).toBe(8);
      const read = io('read', SRV6, [...acked.keys()][0]!, '3');
      console.log(`[nfs failover grace=${grace} lease=5] takeover start done ${started} ms after power-off; first write ok: v3 ${firstOk.v3} ms, v4 ${firstOk.v4} ms; errors meanwhile: ${during.join(' | ') || 'none'}`);

      // every acknowledged byte reads back through the new head, over both addresses
      expect(read.ok, read.error).toBe(true);
      let i = 0;
      for (const [name, content] of acked) {
        const r = io('read', i % 2 ? SRV4 : SRV6, name, i % 3 ? '3' : '4');
        expect(r.ok, `${name}: ${r.error}`).toBe(true);
        expect(r.data === content, `${name} content`).toBe(true);
        i += 1;
        if (i > 12) break; // the rest by content on the shared volume (each NFS read costs ~1 s here)
      }
    }, 240_000);
  }

  it('every acknowledged file is intact on the shared volume', async () => {
    const { readFileSync } = await import('node:fs');
    for (const [name, content] of acked) expect(readFileSync(name, 'utf8') === content, name).toBe(true);
    expect(acked.size).toBeGreaterThanOrEqual(32);
  });
});

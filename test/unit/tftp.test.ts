// TFTP probe (src/probe/tftp.ts): packet codec, a scripted server for the awkward cases,
// and ocf:ha-oscar:tftpd for real: tftpd-hpa on 127.0.0.1 and ::1, driven through dist/ocf/tftpd.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from '../helpers/sync';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeTftp, encodeTftp, tftpGet, TftpDecodeError, OP } from '../../src/probe/tftp';
import { distOcf, runAgent, tempDir } from '../helpers/agents';
import { describeWith } from '../helpers/prereq';

describe('TFTP packet codec', () => {
  it('round-trips every opcode', () => {
    const pkts = [
      { op: 1, file: 'pxelinux.0', mode: 'octet', options: { blksize: '1468', tsize: '0' } },
      { op: 3, block: 65535, data: Buffer.from('abc') },
      { op: 4, block: 7 },
      { op: 5, code: 1, message: 'File not found' },
      { op: 6, options: { blksize: '1024' } },
    ] as const;
    for (const p of pkts) expect(decodeTftp(encodeTftp(p as never))).toEqual(p);
  });
  it('encodes an RRQ byte for byte', () => {
    expect(encodeTftp({ op: 1, file: 'a', mode: 'octet', options: {} }).toString('hex')).toBe('000161006f6374657400');
  });
  it('rejects malformed packets with a reason', () => {
    const bad: [string, RegExp][] = [
      ['', /too short/], ['00', /too short/], ['0009', /unknown opcode 9/], ['000161', /not terminated/],
      ['0001610000', /without file name or mode/], ['000300', /DATA shorter/], ['00040001ff', /ACK of 5 bytes/],
      ['000500', /ERROR shorter/], ['00066100', /option without a value/],
    ];
    for (const [hex, why] of bad) {
      expect(() => decodeTftp(Buffer.from(hex, 'hex')), hex).toThrow(TftpDecodeError);
      expect(() => decodeTftp(Buffer.from(hex, 'hex')), hex).toThrow(why);
    }
  });
  it('an ERROR without its NUL still decodes (lenient on the message)', () => {
    expect(decodeTftp(Buffer.from('0005000278', 'hex'))).toEqual({ op: 5, code: 2, message: 'x' });
  });
});

/** A scripted TFTP server on 127.0.0.1: `script` answers each packet from a per-transfer socket. */
async function fakeServer(script: (pkt: ReturnType<typeof decodeTftp>, reply: (b: Buffer) => void, n: number) => void): Promise<{ port: number; close: () => void }> {
  const main: Socket = createSocket('udp4');
  const socks: Socket[] = [main];
  await new Promise<void>((r) => main.bind(0, '127.0.0.1', () => r()));
  main.on('message', (msg, rinfo) => {
    const t = createSocket('udp4');
    socks.push(t);
    let n = 0;
    t.bind(0, '127.0.0.1', () => {
      const reply = (b: Buffer) => t.send(b, rinfo.port, rinfo.address);
      t.on('message', (m) => script(decodeTftp(m), reply, ++n));
      script(decodeTftp(msg), reply, 0);
    });
  });
  return { port: main.address().port, close: () => { for (const s of socks) try { s.close(); } catch { /* closed */ } } };
}

describe('tftpGet against a scripted server', () => {
  it('negotiates blksize via OACK, acknowledges block 0, assembles the blocks', async () => {
    const data = Buffer.alloc(2500, 7);
    const srv = await fakeServer((pkt, reply) => {
      if (pkt.op === OP.RRQ) { reply(encodeTftp({ op: OP.OACK, options: { blksize: '1000' } })); return; }
      if (pkt.op === OP.ACK) {
        const b = pkt.block + 1;
        if (b <= 3) reply(encodeTftp({ op: OP.DATA, block: b, data: data.subarray((b - 1) * 1000, b * 1000) }));
      }
    });
    try {
      const r = await tftpGet('127.0.0.1', 'x', { port: srv.port, blksize: 1000 });
      expect(r.ok, r.error).toBe(true);
      expect(r.data!.equals(data)).toBe(true);
      expect(r.blocks).toBe(3);
      expect(r.options).toEqual({ blksize: '1000' });
    } finally { srv.close(); }
  });

  it('retransmits its ACK when a DATA is lost, and ignores duplicates', async () => {
    let dropped = false;
    const srv = await fakeServer((pkt, reply) => {
      if (pkt.op === OP.RRQ) { reply(encodeTftp({ op: OP.DATA, block: 1, data: Buffer.alloc(512, 1) })); return; }
      if (pkt.op === OP.ACK && pkt.block === 1) {
        if (!dropped) { dropped = true; return; } // lose block 2 once: the client must resend ACK 1
        reply(encodeTftp({ op: OP.DATA, block: 2, data: Buffer.from('end') }));
        reply(encodeTftp({ op: OP.DATA, block: 2, data: Buffer.from('end') }));
      }
    });
    try {
      const r = await tftpGet('127.0.0.1', 'x', { port: srv.port, retransmitMs: 100 });
      expect(r.ok, r.error).toBe(true);
      expect(r.data!.length).toBe(515);
      expect(dropped).toBe(true);
    } finally { srv.close(); }
  });

  it('reports a server ERROR with its code and message', async () => {
    const srv = await fakeServer((_p, reply) => reply(encodeTftp({ op: OP.ERROR, code: 1, message: 'File not found' })));
    try {
      const r = await tftpGet('127.0.0.1', 'nope', { port: srv.port });
      expect(r).toMatchObject({ ok: false, errorCode: 1, error: 'server error 1: File not found' });
    } finally { srv.close(); }
  });

  it('refuses an OACK with a larger blksize than asked, and a DATA larger than the block size', async () => {
    const a = await fakeServer((p, reply) => { if (p.op === OP.RRQ) reply(encodeTftp({ op: OP.OACK, options: { blksize: '9000' } })); });
    const b = await fakeServer((p, reply) => { if (p.op === OP.RRQ) reply(encodeTftp({ op: OP.DATA, block: 1, data: Buffer.alloc(600) })); });
    try {
      expect((await tftpGet('127.0.0.1', 'x', { port: a.port, blksize: 1024 })).error).toMatch(/unacceptable blksize 9000/);
      expect((await tftpGet('127.0.0.1', 'x', { port: b.port })).error).toMatch(/exceeds blksize 512/);
    } finally { a.close(); b.close(); }
  });

  it('a garbage answer fails with a reason; silence times out within the budget', async () => {
    const g = await fakeServer((p, reply) => { if (p.op === OP.RRQ) reply(Buffer.from('00ff', 'hex')); });
    const silent = createSocket('udp4');
    await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
    try {
      expect((await tftpGet('127.0.0.1', 'x', { port: g.port })).error).toMatch(/malformed packet from server: unknown opcode 255/);
      const t0 = Date.now();
      const r = await tftpGet('127.0.0.1', 'x', { port: silent.address().port, timeoutMs: 400, retransmitMs: 100 });
      expect(r.ok).toBe(false);
      expect(r.error).toMatch(/no answer at all/);
      expect(Date.now() - t0).toBeLessThan(1500);
    } finally { g.close(); silent.close(); }
  });

  it('rejects a host that is not an IP literal without sending anything', async () => {
    expect((await tftpGet('head.example', 'x')).error).toMatch(/not an IP address/);
  });
});

const agent = join(distOcf, 'tftpd');
let dir: string;
let port = 0;
const base = () => ({ root: join(dir, 'root'), listen: '127.0.0.1 ::1', port: String(port), run_dir: join(dir, 'run'), blocksize_max: '1024' });
const monitor10 = { OCF_CHECK_LEVEL: '10', OCF_RESKEY_CRM_meta_interval: '30000' };
const monitor0 = { OCF_RESKEY_CRM_meta_interval: '10000' };
/** Alive and not a zombie (killed daemons may linger as zombies of a non-reaping parent). */
const alive = (pid: number) => { try { return !/^\S+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); } catch { return false; } };
const pidOf = (i: number) => Number(readFileSync(join(dir, 'run', `tftpd-${i}.pid`), 'utf8').trim());

describeWith({ bins: ['in.tftpd', 'tftp', 'ocf-tester', 'xmllint'], root: true, packages: ['tftpd-hpa', 'tftp-hpa', 'resource-agents', 'libxml2-utils'] }, 'ocf:ha-oscar:tftpd', () => {
  beforeAll(() => {
    dir = tempDir('dv5-tftpd');
    mkdirSync(join(dir, 'root', 'pxelinux.cfg'), { recursive: true });
    port = 20000 + Math.floor(Math.random() * 20000);
  });
  afterAll(() => {
    runAgent(agent, 'stop', base());
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes ocf-tester on 127.0.0.1 and ::1', () => {
    const args = ['-n', 'dv5-tftpd-test'];
    for (const [k, v] of Object.entries(base())) args.push('-o', `${k}=${v}`);
    const r = spawnSync('ocf-tester', [...args, agent], { encoding: 'utf8', timeout: 180_000 });
    expect(r.stdout + r.stderr).toContain('passed all tests');
    expect(r.status).toBe(0);
  }, 200_000); // ocf-tester runs ~20 actions: 20-80 s on a loaded box (the spawnSync allows 180 s)

  it('start serves both families; the level-10 monitor reads the probe file; block size is capped by blocksize_max', async () => {
    expect(runAgent(agent, 'start', base()).code).toBe(0);
    expect(readFileSync(join(dir, 'root', '.ha-oscar-tftp-probe')).length).toBe(2048);
    const kernel = Buffer.alloc(100_000);
    for (let i = 0; i < kernel.length; i++) kernel[i] = (i * 31 + 7) & 0xff;
    writeFileSync(join(dir, 'root', 'pxelinux.cfg', 'default'), kernel);
    for (const host of ['127.0.0.1', '::1']) {
      const r = await tftpGet(host, 'pxelinux.cfg/default', { port, blksize: 1468, tsize: true, timeoutMs: 5000 });
      expect(r.ok, r.error).toBe(true);
      expect(r.data!.equals(kernel)).toBe(true);
      expect(r.options?.blksize).toBe('1024');
      expect(r.options?.tsize).toBe('100000');
      const missing = await tftpGet(host, 'no-such-file', { port });
      expect(missing.errorCode).toBe(1);
      // secure mode: nothing outside the root
      expect((await tftpGet(host, '../../../etc/passwd', { port })).ok).toBe(false);
    }
    // tftp-hpa's own client agrees
    const c = spawnSync('tftp', ['-4', '127.0.0.1', String(port), '-m', 'binary', '-c', 'get', '.ha-oscar-tftp-probe', join(dir, 'got')], { encoding: 'utf8', timeout: 10_000 });
    expect(readFileSync(join(dir, 'got'), 'utf8'), c.stderr).toBe(readFileSync(join(dir, 'root', '.ha-oscar-tftp-probe'), 'utf8'));
    expect(runAgent(agent, 'monitor', base(), monitor10).code).toBe(0);
    expect(runAgent(agent, 'start', base()).code).toBe(0); // idempotent
  });

  it('level 10 fails, naming the address, when the probe file content or the server is wrong', () => {
    const probe = join(dir, 'root', '.ha-oscar-tftp-probe');
    const good = readFileSync(probe);
    // the file on disk is the reference: hide it from the server (mode 000, tftpd runs as "tftp")
    spawnSync('chmod', ['000', probe]);
    try {
      const r = runAgent(agent, 'monitor', base(), monitor10);
      expect(r.code).toBe(1);
      expect(r.reasons[0]).toMatch(/^tftp:\/\/(127\.0\.0\.1|\[::1\]):\d+\/\.ha-oscar-tftp-probe: server error/);
    } finally { spawnSync('chmod', ['644', probe]); }
    expect(readFileSync(probe).equals(good)).toBe(true);
    const pid = pidOf(1);
    process.kill(pid, 'SIGSTOP');
    try {
      expect(runAgent(agent, 'monitor', base(), monitor0).code).toBe(0);
      const r = runAgent(agent, 'monitor', base(), monitor10);
      expect(r.code).toBe(1);
      expect(r.reasons[0]).toMatch(/^tftp:\/\/\[::1\]:\d+\/\.ha-oscar-tftp-probe: no complete answer/);
    } finally { process.kill(pid, 'SIGCONT'); }
    expect(runAgent(agent, 'monitor', base(), monitor10).code).toBe(0);
  });

  it('one dead instance is a failure; all dead is "not running"; stop cleans up and start recovers', () => {
    process.kill(pidOf(0), 'SIGKILL');
    spawnSync('sleep', ['0.3']);
    const r = runAgent(agent, 'monitor', base(), monitor0);
    expect(r.code).toBe(1);
    expect(r.reasons[0]).toMatch(/in\.tftpd for 127\.0\.0\.1:\d+ is not running/);
    process.kill(pidOf(1), 'SIGKILL');
    spawnSync('sleep', ['0.3']);
    expect(runAgent(agent, 'monitor', base(), monitor0).code).toBe(7);
    expect(runAgent(agent, 'stop', base()).code).toBe(0);
    expect(existsSync(join(dir, 'run', 'tftpd-0.pid'))).toBe(false);
    expect(runAgent(agent, 'start', base()).code).toBe(0);
    expect(runAgent(agent, 'monitor', base(), monitor10).code).toBe(0);
  });

  it('start with other options restarts the running in.tftpd', () => {
    const old = pidOf(0);
    expect(runAgent(agent, 'start', { ...base(), blocksize_max: '1400' }).code).toBe(0);
    expect(pidOf(0)).not.toBe(old);
    expect(readFileSync(`/proc/${pidOf(0)}/cmdline`, 'utf8').split('\0')).toContain('1400');
    expect(runAgent(agent, 'start', base()).code).toBe(0);
  });

  it('dropping an address from listen stops its in.tftpd at the next start; stop kills leftovers too', () => {
    const old = pidOf(1);
    const one = { ...base(), listen: '127.0.0.1' };
    expect(runAgent(agent, 'start', one).code).toBe(0);
    spawnSync('sleep', ['0.2']);
    expect(alive(old)).toBe(false);
    expect(runAgent(agent, 'start', base()).code).toBe(0);
    const p1 = pidOf(1);
    expect(runAgent(agent, 'stop', one).code).toBe(0);
    spawnSync('sleep', ['0.2']);
    expect(alive(p1)).toBe(false);
    expect(runAgent(agent, 'monitor', base(), monitor0).code).toBe(7);
  });

  it('bad setups give a one-line reason and the right code, and start nothing', () => {
    const a = runAgent(agent, 'validate-all', { ...base(), root: join(dir, 'nope') });
    expect(a.code).toBe(5);
    expect(a.reasons).toEqual([`TFTP root ${join(dir, 'nope')} does not exist on this node`]);
    const b = runAgent(agent, 'start', { ...base(), user: 'dv5nosuchuser' });
    expect(b.code).toBe(6);
    expect(b.reasons[0]).toBe('user dv5nosuchuser does not exist on this node');
    expect(runAgent(agent, 'validate-all', { ...base(), listen: '127.0.0.1 127.0.0.1' }).code).toBe(6);
    expect(runAgent(agent, 'validate-all', { ...base(), probe_file: '../x' }).code).toBe(6);
    expect(runAgent(agent, 'validate-all', { ...base(), blocksize_max: '100' }).code).toBe(6);
    expect(existsSync(join(dir, 'run', 'tftpd-0.pid'))).toBe(false);
  });

  it('a port already taken makes start fail with a reason, not hang', async () => {
    const s = createSocket('udp4');
    const busy = 20000 + Math.floor(Math.random() * 20000);
    await new Promise<void>((r) => s.bind(busy, '127.0.0.1', () => r()));
    try {
      const r = runAgent(agent, 'start', { ...base(), listen: '127.0.0.1', port: String(busy), run_dir: join(dir, 'run2') }, { OCF_RESKEY_CRM_meta_timeout: '5000' });
      expect(r.code).toBe(1);
      expect(r.reasons[0]).toMatch(/^start on 127\.0\.0\.1:\d+ failed: in\.tftpd /);
    } finally {
      s.close();
      runAgent(agent, 'stop', { ...base(), listen: '127.0.0.1', port: String(busy), run_dir: join(dir, 'run2') });
    }
  });
});

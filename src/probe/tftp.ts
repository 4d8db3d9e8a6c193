// TFTP client (RFC 1350, options RFC 2347/2348/2349): a real read request and transfer,
// over UDP, IPv4 or IPv6. No OCF knowledge: the tftpd agent's monitor and the lab's
// compute-node side both use it.
import { createSocket, type Socket } from 'node:dgram';
import { isIP } from 'node:net';

export const OP = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

export type TftpPacket =
  | { op: 1 | 2; file: string; mode: string; options: Record<string, string> }
  | { op: 3; block: number; data: Buffer }
  | { op: 4; block: number }
  | { op: 5; code: number; message: string }
  | { op: 6; options: Record<string, string> };

export class TftpDecodeError extends Error {}

function cstrings(buf: Buffer, from: number): string[] {
  const out: string[] = [];
  let i = from;
  while (i < buf.length) {
    const z = buf.indexOf(0, i);
    if (z < 0) throw new TftpDecodeError('string not terminated by NUL');
    out.push(buf.toString('latin1', i, z));
    i = z + 1;
  }
  return out;
}

function optionPairs(list: string[]): Record<string, string> {
  if (list.length % 2 !== 0) throw new TftpDecodeError('option without a value');
  const o: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) o[list[i]!.toLowerCase()] = list[i + 1]!;
  return o;
}

/** Decode one TFTP packet. Throws TftpDecodeError on a malformed one. */
export function decodeTftp(buf: Buffer): TftpPacket {
  if (buf.length < 2) throw new TftpDecodeError(`packet too short (${buf.length} bytes)`);
  const op = buf.readUInt16BE(0);
  switch (op) {
    case OP.RRQ: case OP.WRQ: {
      const s = cstrings(buf, 2);
      if (s.length < 2 || !s[0] || !s[1]) throw new TftpDecodeError('request without file name or mode');
      return { op, file: s[0], mode: s[1]!.toLowerCase(), options: optionPairs(s.slice(2)) };
    }
    case OP.DATA:
      if (buf.length < 4) throw new TftpDecodeError('DATA shorter than 4 bytes');
      return { op, block: buf.readUInt16BE(2), data: buf.subarray(4) };
    case OP.ACK:
      if (buf.length !== 4) throw new TftpDecodeError(`ACK of ${buf.length} bytes (must be 4)`);
      return { op, block: buf.readUInt16BE(2) };
    case OP.ERROR: {
      if (buf.length < 5) throw new TftpDecodeError('ERROR shorter than 5 bytes');
      const z = buf.indexOf(0, 4);
      return { op, code: buf.readUInt16BE(2), message: buf.toString('latin1', 4, z < 0 ? buf.length : z) };
    }
    case OP.OACK:
      return { op, options: optionPairs(cstrings(buf, 2)) };
    default:
      throw new TftpDecodeError(`unknown opcode ${op}`);
  }
}

export function encodeTftp(p: TftpPacket): Buffer {
  const head = Buffer.alloc(2);
  head.writeUInt16BE(p.op);
  const z = (s: string) => Buffer.from(`${s}\0`, 'latin1');
  switch (p.op) {
    case OP.RRQ: case OP.WRQ:
      return Buffer.concat([head, z(p.file), z(p.mode), ...Object.entries(p.options).flatMap(([k, v]) => [z(k), z(v)])]);
    case OP.DATA: { const b = Buffer.alloc(2); b.writeUInt16BE(p.block); return Buffer.concat([head, b, p.data]); }
    case OP.ACK: { const b = Buffer.alloc(2); b.writeUInt16BE(p.block); return Buffer.concat([head, b]); }
    case OP.ERROR: { const b = Buffer.alloc(2); b.writeUInt16BE(p.code); return Buffer.concat([head, b, z(p.message)]); }
    case OP.OACK:
      return Buffer.concat([head, ...Object.entries(p.options).flatMap(([k, v]) => [z(k), z(v)])]);
  }
}

export interface TftpGetOptions {
  port?: number;
  /** Whole transfer budget. Default 3000 ms. */
  timeoutMs?: number;
  /** Retransmission interval for the last packet. Default 400 ms. */
  retransmitMs?: number;
  /** Ask for this block size (RFC 2348). Default: none (512). */
  blksize?: number;
  /** Ask for the transfer size (RFC 2349). */
  tsize?: boolean;
  /** Refuse files larger than this. Default 64 MiB. */
  maxBytes?: number;
  /** Source address to send from. */
  localAddress?: string;
}

export interface TftpGetResult {
  ok: boolean;
  data?: Buffer;
  /** Server error code (RFC 1350) when the server sent an ERROR. */
  errorCode?: number;
  error?: string;
  /** Options the server accepted (OACK). */
  options?: Record<string, string>;
  blocks: number;
  ms: number;
  /** Time to the first answer (DATA, OACK or ERROR). */
  firstAnswerMs?: number;
}

/** Read `file` from the TFTP server at `host` (IPv4/IPv6 literal). Resolves, never rejects. */
export function tftpGet(host: string, file: string, opts: TftpGetOptions = {}): Promise<TftpGetResult> {
  const t0 = Date.now();
  const fam = isIP(host.replace(/%.*$/, ''));
  if (fam === 0) return Promise.resolve({ ok: false, error: `not an IP address: ${host}`, blocks: 0, ms: 0 });
  const port = opts.port ?? 69;
  const budget = opts.timeoutMs ?? 3000;
  const rexmit = opts.retransmitMs ?? 400;
  const maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  const options: Record<string, string> = {};
  if (opts.blksize) options.blksize = String(opts.blksize);
  if (opts.tsize) options.tsize = '0';

  return new Promise<TftpGetResult>((resolve) => {
    const sock: Socket = createSocket({ type: fam === 6 ? 'udp6' : 'udp4' });
    const chunks: Buffer[] = [];
    let size = 0;
    let blksize = 512;
    let expect = 1;
    let blocks = 0;
    let tid: number | undefined;
    let last: Buffer = encodeTftp({ op: OP.RRQ, file, mode: 'octet', options });
    let lastTo = port;
    let accepted: Record<string, string> | undefined;
    let firstAnswerMs: number | undefined;
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => finish({ ok: false, error: `no complete answer within ${budget} ms${blocks ? ` (${blocks} blocks received)` : tid === undefined ? ' (no answer at all)' : ''}` }), budget);

    function finish(r: Omit<TftpGetResult, 'ms' | 'blocks' | 'firstAnswerMs'>) {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      if (timer) clearTimeout(timer);
      try { sock.close(); } catch { /* closed */ }
      resolve({ ...r, blocks, ms: Date.now() - t0, firstAnswerMs, options: accepted });
    }
    function send(buf: Buffer, to: number) {
      last = buf; lastTo = to;
      sock.send(buf, to, host, (e) => { if (e) finish({ ok: false, error: `send to ${host}:${to}: ${e.message}` }); });
      if (timer) clearTimeout(timer);
      timer = setTimeout(function again() { if (!done) { sock.send(last, lastTo, host, () => undefined); timer = setTimeout(again, rexmit); } }, rexmit);
    }

    sock.on('error', (e) => finish({ ok: false, error: e.message }));
    sock.on('message', (msg, rinfo) => {
      if (done) return;
      if (tid === undefined) tid = rinfo.port;
      else if (rinfo.port !== tid) {
        // RFC 1350: a packet from another TID gets an ERROR 5 and does not disturb the transfer
        sock.send(encodeTftp({ op: OP.ERROR, code: 5, message: 'Unknown transfer ID' }), rinfo.port, rinfo.address, () => undefined);
        return;
      }
      firstAnswerMs ??= Date.now() - t0;
      let pkt: TftpPacket;
      try { pkt = decodeTftp(msg); } catch (e) {
        sock.send(encodeTftp({ op: OP.ERROR, code: 4, message: 'Illegal TFTP operation' }), rinfo.port, rinfo.address, () => undefined);
        finish({ ok: false, error: `malformed packet from server: ${(e as Error).message}` });
        return;
      }
      if (pkt.op === OP.ERROR) { finish({ ok: false, errorCode: pkt.code, error: `server error ${pkt.code}: ${pkt.message || '(no message)'}` }); return; }
      if (pkt.op === OP.OACK) {
        if (blocks > 0) return; // duplicate
        accepted = pkt.options;
        const b = Number(pkt.options.blksize ?? 512);
        if (pkt.options.blksize && (!Number.isInteger(b) || b < 8 || b > (opts.blksize ?? 512))) {
          sock.send(encodeTftp({ op: OP.ERROR, code: 8, message: 'bad blksize' }), rinfo.port, rinfo.address, () => undefined);
          finish({ ok: false, error: `server offered an unacceptable blksize ${pkt.options.blksize}` });
          return;
        }
        blksize = b;
        const ts = Number(pkt.options.tsize);
        if (pkt.options.tsize && ts > maxBytes) {
          sock.send(encodeTftp({ op: OP.ERROR, code: 3, message: 'too large' }), rinfo.port, rinfo.address, () => undefined);
          finish({ ok: false, error: `file is ${ts} bytes, more than ${maxBytes}` });
          return;
        }
        send(encodeTftp({ op: OP.ACK, block: 0 }), tid);
        return;
      }
      if (pkt.op !== OP.DATA) { finish({ ok: false, error: `unexpected opcode ${pkt.op} from server` }); return; }
      if (pkt.block !== expect) {
        // a duplicate of the previous block: our ACK was lost; ACK it again
        if (pkt.block === ((expect - 1) & 0xffff)) sock.send(encodeTftp({ op: OP.ACK, block: pkt.block }), tid, host, () => undefined);
        return;
      }
      if (pkt.data.length > blksize) { finish({ ok: false, error: `DATA block ${pkt.block} of ${pkt.data.length} bytes exceeds blksize ${blksize}` }); return; }
      chunks.push(pkt.data);
      size += pkt.data.length;
      blocks++;
      if (size > maxBytes) { finish({ ok: false, error: `file exceeds ${maxBytes} bytes` }); return; }
      const ack = encodeTftp({ op: OP.ACK, block: pkt.block });
      expect = (expect + 1) & 0xffff; // block numbers roll over
      if (pkt.data.length < blksize) {
        sock.send(ack, tid, host, () => finish({ ok: true, data: Buffer.concat(chunks, size) }));
        return;
      }
      send(ack, tid);
    });
    const go = () => send(last, port);
    if (opts.localAddress) sock.bind({ address: opts.localAddress, port: 0 }, go);
    else go();
  });
}

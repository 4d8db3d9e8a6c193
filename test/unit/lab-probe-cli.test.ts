// `ha-oscar lab _probe [--wait SECONDS] ...` (src/cli/lab.ts): the client-side checks of the lab's
// failover timeline. --wait retries one check in ONE process until it passes or the time is up.
// Traffic: loopback only (nothing listens on 127.0.0.1:69 here; a TFTP server there would make
// the "no answer" cases pass, so the test first checks the port is free).
import { describe, it, expect } from 'vitest';
import { createSocket } from 'node:dgram';
import { main } from '../../src/cli/lab';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string; ms: number }> {
  let out = ''; let err = '';
  const log = console.log; const error = console.error;
  console.log = (...a: unknown[]) => { out += `${a.join(' ')}\n`; };
  console.error = (...a: unknown[]) => { err += `${a.join(' ')}\n`; };
  const t0 = Date.now();
  try {
    const code = await main(argv);
    return { code, out, err, ms: Date.now() - t0 };
  } finally {
    console.log = log; console.error = error;
  }
}

const port69Free = (): Promise<boolean> => new Promise((res) => {
  const s = createSocket('udp4');
  s.once('error', () => { s.close(); res(false); });
  s.bind(69, '127.0.0.1', () => s.close(() => res(true)));
});

describe('ha-oscar lab _probe', () => {
  it('refuses a bad --wait in one line, exit 2, and probes nothing', async () => {
    for (const bad of ['0', '-1', 'abc', '601']) {
      const r = await cli('_probe', '--wait', bad, 'tftp', '127.0.0.1', 'f');
      expect(r.code).toBe(2);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toContain('--wait');
    }
    const r = await cli('_probe', '--wait', '5', 'nosuch', '127.0.0.1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^usage: ha-oscar lab _probe \[--wait SECONDS\]/);
  });

  it('one try without --wait; with --wait 3 it keeps trying until the time is up, then exit 1 with one line', async () => {
    expect(await port69Free()).toBe(true);
    const once = await cli('_probe', 'tftp', '127.0.0.1', 'boot.file');
    expect(once.code).toBe(1);
    expect(once.ms).toBeLessThan(3_000);
    const waited = await cli('_probe', '--wait', '3', 'tftp', '127.0.0.1', 'boot.file');
    expect(waited.code).toBe(1);
    expect(waited.ms).toBeGreaterThanOrEqual(3_000);
    expect(waited.ms).toBeLessThan(8_000);
    expect(waited.out.trim().split('\n')).toHaveLength(1);
    expect(waited.out).toMatch(/^tftp 127\.0\.0\.1 boot\.file: /);
  });
});

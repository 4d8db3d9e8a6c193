// What the lab's client (the compute node) does for the lab tests, as `ha-oscar lab _probe ...`
// inside its namespaces.
import { join } from 'node:path';
import { expect } from 'vitest';
import { exec } from '../../src/lab/lab';
import type { LabSpec } from '../../src/lab/spec';
import type { LeaseLine } from '../../src/cli/lab';

/**
 * `ha-oscar lab _probe lease4|lease6 [--wait MS] [--timeout MS] ARG...` in the client: one
 * LeaseLine per MAC, in the order given (ARG: MAC or MAC=ADDRESS). timeoutMs is one exchange's
 * budget (the probe's default 4000 ms), waitMs how long each MAC is retried.
 */
export async function leases(spec: LabSpec, family: 4 | 6, args: string[], opts: { waitMs?: number; timeoutMs?: number } = {}): Promise<LeaseLine[]> {
  const timeoutMs = opts.timeoutMs ?? 4000;
  const argv = [process.execPath, join(spec.repo, 'dist', 'ha-oscar'), 'lab', '_probe', `lease${family}`, '--timeout', String(timeoutMs)];
  if (opts.waitMs) argv.push('--wait', String(opts.waitMs));
  const r = await exec(spec, 'client', [...argv, ...args], { timeoutMs: (opts.waitMs ?? 0) + 30_000 + args.length * (timeoutMs + 6000) });
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LeaseLine);
  expect(lines.map((l) => l.mac), `lease${family} ${args.join(' ')}: ${r.stdout}${r.stderr}`).toEqual(args.map((a) => a.split('=')[0]));
  return lines;
}

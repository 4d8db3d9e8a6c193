// `ha-oscar lab` on bad input: one clear line, no stack trace, no lab touched.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { run } from '../../src/service/run';
import { missingPrereqs } from '../../src/lab/lab';

const cli = (args: string[], env: Record<string, string> = {}) => run(process.execPath, ['dist/ha-oscar', 'lab', ...args], { env, timeoutMs: 30_000 });

describe('ha-oscar lab: bad input', () => {
  it.runIf(existsSync('dist/ha-oscar'))('answers each mistake with one line and a non-zero exit', async () => {
    const cases: [string[], RegExp][] = [
      [['up', '--name', 'Bad!'], /bad lab name 'Bad!'/],
      [['up', '--name', 'waytoolongname'], /bad lab name/],
      [['up', '--token', 'fast'], /--token: 'fast' is not a number/],
      [['up', '--token', '5'], /bad token '5'/],
      [['exec', 'head3', '--', 'true'], /unknown node 'head3'/],
      [['cable', 'head1', 'C', 'down'], /unknown net 'C'/],
      [['cable', 'head1', 'A', 'sideways'], /say 'up' or 'down'/],
      [['cable', 'client', 'M', 'down'], /^[^\n]*client has no cable on net M \(the management net M reaches the heads only\)\n?$/],
      [['status', '--name', 'nolab'], /lab 'nolab' is not up/],
      [['frobnicate'], /unknown command 'frobnicate'/],
    ];
    const rs = await Promise.all(cases.map(([args]) => cli(args)));
    for (const [i, [args, re]] of cases.entries()) {
      const r = rs[i]!;
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
  });

  it('names what is missing and how to install it', () => {
    const saved = process.env.PATH;
    process.env.PATH = '/nonexistent';
    try {
      const m = missingPrereqs();
      expect(m).toMatch(/missing .*tini/);
      expect(m).toMatch(/apt-get install .*tini/);
    } finally { process.env.PATH = saved; }
  });
});

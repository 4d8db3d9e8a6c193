// Bad input, for EVERY parameter of EVERY built OCF agent (dist/ocf/*).
// Each agent has test/fixtures/agents/<agent>.params.json: a set of valid parameters
// ({"valid": {...}, "bins": [...], "packages": [...]}). Every parameter then gets, one at a time,
// shell metacharacters, a newline, the empty string, a 64 KiB string and values of the wrong type.
// Each must give a valid OCF exit code, at most one clear exit-reason line, no stack trace,
// and nothing may be executed.
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { builtAgents, distOcf, root, runAgent, tempDir } from '../helpers/agents';
import { describeWith } from '../helpers/prereq';

interface Fixture { valid: Record<string, string>; bins?: string[]; packages?: string[] }

const agents = builtAgents();
let dir: string;
beforeAll(() => { dir = tempDir('bad-input'); });

function paramsOf(agent: string): { param: string; name: string; type: string; required: boolean }[] {
  const xml = runAgent(join(distOcf, agent), 'meta-data').stdout;
  const out: { param: string; name: string; type: string; required: boolean }[] = [];
  const re = /<parameter name="([^"]+)" required="(\d)"[^>]*>[\s\S]*?<content type="([a-z]+)"/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) out.push({ param: m[1]!, name: m[1]!, required: m[2] === '1', type: m[3]! });
  return out;
}

describe('every built agent has a bad-input fixture', () => {
  it('dist/ocf is built and not empty', () => { expect(agents.length).toBeGreaterThan(0); });
  for (const a of agents) {
    it(`${a} has test/fixtures/agents/${a}.params.json`, () => {
      expect(existsSync(join(root, 'test/fixtures/agents', `${a}.params.json`))).toBe(true);
    });
  }
});

interface Case { param: string; type: string; required: boolean; value: string; action: string }
interface Outcome extends Case { code: number; stderr: string; reasons: string[] }

/** Run an agent action as a real process, asynchronously (a pool keeps both cores busy). */
function runAsync(path: string, c: Case, valid: Record<string, string>): Promise<Outcome> {
  return new Promise((resolve) => {
    const env: Record<string, string> = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', OCF_ROOT: '/usr/lib/ocf',
      OCF_RESOURCE_INSTANCE: 'bad-input', OCF_RESKEY_CRM_meta_timeout: '20000',
      ...(c.action === 'monitor' ? { OCF_RESKEY_CRM_meta_interval: '0' } : {}),
    };
    for (const [k, v] of Object.entries({ ...valid, [c.param]: c.value })) env[`OCF_RESKEY_${k}`] = v;
    const child = spawn(path, [c.action], { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.on('close', (code) => {
      const reasons = stderr.split('\n').filter((l) => l.startsWith('ocf-exit-reason:')).map((l) => l.slice(16));
      resolve({ ...c, code: code ?? -1, stderr, reasons });
    });
  });
}

async function pool<T, R>(items: T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) { const i = next++; out[i] = await fn(items[i]!); }
  }));
  return out;
}

for (const agent of agents) {
  const fx = join(root, 'test/fixtures/agents', `${agent}.params.json`);
  if (!existsSync(fx)) continue;
  const fixture = JSON.parse(readFileSync(fx, 'utf8')) as Fixture;
  describeWith({ bins: fixture.bins ?? [], root: true, packages: fixture.packages }, `bad input: ${agent}`, () => {
    const path = join(distOcf, agent);
    const sentinel = () => join(dir, `executed-${agent}`);
    let outcomes: Outcome[] = [];
    beforeAll(async () => {
      const s = sentinel();
      const shell = `$(touch ${s})\`touch ${s}\`;touch ${s}&&touch ${s}|touch ${s}`;
      const values = [shell, 'a\nb', '', 'a'.repeat(65536), 'yes please', '-1', '../../../etc/shadow', '%s%n\u2028é'];
      const cases: Case[] = [];
      for (const prm of paramsOf(agent)) {
        for (const value of values) {
          cases.push({ ...prm, value, action: 'validate-all' });
          // the nastiest also through a probe
          if (value === shell || value.length > 1000) cases.push({ ...prm, value, action: 'monitor' });
        }
      }
      outcomes = await pool(cases, 4, (c) => runAsync(path, c, fixture.valid));
    }, 600_000);

    it('accepts its valid fixture', () => {
      const r = runAgent(path, 'validate-all', fixture.valid);
      expect(r.code, r.stderr).toBe(0);
    });
    for (const param of paramsOf(agent)) {
      it(`parameter '${param.name}' (${param.type})`, () => {
        const mine = outcomes.filter((o) => o.param === param.name);
        expect(mine.length).toBeGreaterThan(0);
        for (const r of mine) {
          const label = `${agent} ${r.action} ${r.param}=${JSON.stringify(r.value.slice(0, 30))}: ${r.stderr.slice(0, 300)}`;
          expect([0, 5, 6, 7], label).toContain(r.code);
          if (r.action === 'validate-all' && r.code !== 0) {
            expect(r.reasons, label).toHaveLength(1);
            expect(r.reasons[0]!.length, label).toBeLessThan(400);
          }
          expect(r.stderr, label).not.toMatch(/\n\s+at |Error: |TypeError|ReferenceError/);
          if ((r.type === 'integer' || r.type === 'boolean') && r.value !== '' && r.value !== '-1' && r.action === 'validate-all') {
            expect(r.code, label).toBe(6);
          }
          if (r.required && r.value === '' && r.action === 'validate-all') expect(r.code, label).toBe(6);
        }
        expect(existsSync(sentinel()), 'a parameter value was executed').toBe(false);
      });
    }
  });
}

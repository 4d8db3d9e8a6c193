// Bad input, for EVERY parameter of EVERY built OCF agent (dist/ocf/*).
// Each agent has test/fixtures/agents/<agent>.params.json: a set of valid parameters
// ({"valid": {...}, "bins": [...], "packages": [...]}). Every parameter then gets, one at a time,
// shell metacharacters, a newline, the empty string, a 64 KiB string and values of the wrong type.
// Each must give a valid OCF exit code, at most one clear exit-reason line, no stack trace,
// and nothing may be executed.
import { describe, it, expect, beforeAll } from 'vitest';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { builtAgents, distOcf, root, runAgent, tempDir } from '../helpers/agents';
import { describeWith } from '../helpers/prereq';

interface Fixture { valid: Record<string, string>; bins?: string[]; packages?: string[] }

const agents = builtAgents();
let dir: string;
beforeAll(() => { dir = tempDir('bad-input'); });

function paramsOf(agent: string): { name: string; type: string; required: boolean }[] {
  const xml = runAgent(join(distOcf, agent), 'meta-data').stdout;
  const out: { name: string; type: string; required: boolean }[] = [];
  const re = /<parameter name="([^"]+)" required="(\d)"[^>]*>[\s\S]*?<content type="([a-z]+)"/g;
  for (let m = re.exec(xml); m; m = re.exec(xml)) out.push({ name: m[1]!, required: m[2] === '1', type: m[3]! });
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

for (const agent of agents) {
  const fx = join(root, 'test/fixtures/agents', `${agent}.params.json`);
  if (!existsSync(fx)) continue;
  const fixture = JSON.parse(readFileSync(fx, 'utf8')) as Fixture;
  describeWith({ bins: fixture.bins ?? [], root: true, packages: fixture.packages }, `bad input: ${agent}`, () => {
    const path = join(distOcf, agent);
    it('accepts its valid fixture', () => {
      const r = runAgent(path, 'validate-all', fixture.valid);
      expect(r.code, r.stderr).toBe(0);
    });
    for (const param of paramsOf(agent)) {
      it(`parameter '${param.name}' (${param.type})`, () => {
        const sentinel = join(dir, `executed-${agent}-${param.name}`);
        const values = [
          `$(touch ${sentinel})`, `\`touch ${sentinel}\``, `x; touch ${sentinel}`, `x && touch ${sentinel} #`,
          'a\nb', '', 'a'.repeat(65536), '-1', 'yes please', '../../../etc/shadow', '%s%n%x', 'é\u2028',
        ];
        for (const v of values) {
          // every value through validate-all; the nastiest also through a probe
          const actions = v.startsWith('$(') || v.includes('\n') || v.length > 1000 ? ['validate-all', 'monitor'] : ['validate-all'];
          for (const action of actions) {
            const extra = action === 'monitor' ? { OCF_RESKEY_CRM_meta_interval: '0' } : {};
            const r = runAgent(path, action, { ...fixture.valid, [param.name]: v }, extra);
            const label = `${agent} ${action} ${param.name}=${JSON.stringify(v.slice(0, 30))}: ${r.stderr.slice(0, 300)}`;
            expect([0, 5, 6, 7], label).toContain(r.code);
            if (action === 'validate-all' && r.code !== 0) {
              expect(r.reasons, label).toHaveLength(1);
              expect(r.reasons[0]!.length, label).toBeLessThan(400);
            }
            expect(r.stderr, label).not.toMatch(/\n\s+at |Error: |TypeError|ReferenceError/);
            if ((param.type === 'integer' || param.type === 'boolean') && v !== '' && action === 'validate-all') {
              expect(r.code, label).toBe(6);
            }
            if (param.required && v === '' && action === 'validate-all') expect(r.code, label).toBe(6);
          }
        }
        expect(existsSync(sentinel), 'a parameter value was executed').toBe(false);
        rmSync(sentinel, { force: true });
      });
    }
  });
}

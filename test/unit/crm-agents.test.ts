// The parameter table (src/crm/agents.ts) against the agents themselves: every
// parameter the generator can emit must be one the agent declares in its
// meta-data. Agents built from agents/*.ts (the ones that exist yet), IPaddr2
// from resource-agents.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { describeWith } from '../helpers/prereq';
import { run } from '../../src/service/run';
import { SERVICES, HEALTH, FENCE, RA, VIP, type Monitor } from '../../src/crm/agents';

const root = join(__dirname, '..', '..');
let tmp = '';
beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'dv4-agents-')); });
afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

/** Every parameter name the table can emit for each agent. */
function emitted(): Map<string, Set<string>> {
  const m = new Map<string, Set<string>>();
  const add = (agent: string, ps: string[]) => { const s = m.get(agent) ?? new Set(); ps.forEach((p) => s.add(p)); m.set(agent, s); };
  for (const spec of Object.values(SERVICES)) {
    add(spec.agent, [...Object.values(spec.keys).map((k) => k.param), ...Object.keys(spec.defaults ?? {})]);
    for (const v of Object.values(spec.variants ?? {})) add(spec.agent, [...Object.values(v.keys).map((k) => k.param), ...Object.keys(v.fixed), ...Object.keys(v.defaults ?? {})]);
  }
  for (const spec of Object.values(HEALTH)) add(spec.agent, Object.values(spec.keys).map((k: { param: string }) => k.param));
  add(RA.agent, Object.values(RA.params));
  add(FENCE.agent, [FENCE.method, ...Object.values(FENCE.methods).flatMap((ks) => Object.values(ks).map((k) => k.param))]);
  add(VIP.agent, [VIP.ip, VIP.netmask, VIP.nic, ...Object.keys(VIP.ipv6Fixed)]);
  return m;
}

const paramNames = (xml: string) => new Set([...xml.matchAll(/<parameter name="([^"]+)"/g)].map((x) => x[1]));

async function metaDataFromSource(agent: string): Promise<string | undefined> {
  const name = agent.startsWith('stonith:') ? agent.slice('stonith:'.length) : agent.split(':')[2];
  const src = join(root, 'agents', `${name}.ts`);
  if (!existsSync(src)) return undefined;
  const out = join(tmp, `${name}.cjs`);
  await build({
    entryPoints: [src], outfile: out, bundle: true, platform: 'node', format: 'cjs', logLevel: 'error',
    tsconfigRaw: { compilerOptions: { alwaysStrict: false, strict: false, target: 'ES2022' } },
  });
  const r = await run(process.execPath, agent.startsWith('stonith:') ? [out, '-o', 'metadata'] : [out, 'meta-data'], { env: { OCF_ROOT: '/usr/lib/ocf' } });
  expect(r.code, `${name} meta-data: ${r.stderr}`).toBe(0);
  return r.stdout;
}

describe('the parameter table against the agents\' meta-data', () => {
  const table = emitted();
  const ours = [...table.keys()].filter((a) => a.startsWith('ocf:ha-oscar:') || a.startsWith('stonith:'));
  it('at least the agents that exist now are checked', async () => {
    const present = ours.filter((a) => existsSync(join(root, 'agents', `${a.split(':').pop()}.ts`)));
    expect(present).toEqual(expect.arrayContaining(['ocf:ha-oscar:snmpd', 'stonith:fence_haoscar']));
  });
  for (const agent of ours) {
    it(agent, async () => {
      const md = await metaDataFromSource(agent);
      if (md === undefined) return; // not written yet: nothing to compare with
      const declared = paramNames(md);
      expect(declared.size).toBeGreaterThan(0);
      expect([...table.get(agent)!].filter((p) => !declared.has(p))).toEqual([]);
    });
  }
});

describe('start/stop timeouts: at least what each agent\'s meta-data advises', () => {
  const specs = [...Object.values(SERVICES), ...Object.values(HEALTH), RA];
  for (const spec of specs) {
    it(spec.agent, async () => {
      const md = await metaDataFromSource(spec.agent);
      expect(md, `agents/${spec.agent.split(':')[2]}.ts`).toBeDefined();
      for (const action of ['start', 'stop'] as const) {
        const m = new RegExp(`<action name="${action}" timeout="(\\d+)s?"`).exec(md!);
        expect(m, `${spec.agent}: no ${action} action in its meta-data`).not.toBeNull();
        expect(Number(spec.timeouts[action].replace(/s$/, '')), `${spec.agent} ${action}`).toBeGreaterThanOrEqual(Number(m![1]));
      }
    });
  }
});

// Issue 25: a monitor runs for years; the generator may check less often than an agent advises
// (ntpd's level 0), never more often, and never with a shorter timeout.
describe('recurring monitors: each depth the agent advises, no more often and no shorter timeout', () => {
  const specs = [...Object.values(SERVICES), ...Object.values(HEALTH), RA];
  const secs = (x: string): number => Number(x.replace(/s$/, ''));
  for (const spec of specs) {
    it(spec.agent, async () => {
      const md = await metaDataFromSource(spec.agent);
      expect(md, `agents/${spec.agent.split(':')[2]}.ts`).toBeDefined();
      const advised = new Map([...md!.matchAll(/<action name="monitor"([^>]*)\/>/g)].map((m) => {
        const a = (k: string): string => new RegExp(`${k}="([^"]*)"`).exec(m[1]!)?.[1] ?? '';
        return [Number(a('depth') || 0), { interval: secs(a('interval')), timeout: secs(a('timeout')) }] as const;
      }));
      expect(advised.size, `${spec.agent}: no monitor action in its meta-data`).toBeGreaterThan(0);
      for (const m of spec.monitors as readonly Monitor[]) {
        const depth = m.depth ?? 0;
        const adv = advised.get(depth);
        expect(adv, `${spec.agent}: a depth-${depth} monitor the agent does not advertise`).toBeDefined();
        expect(secs(m.interval), `${spec.agent} depth ${depth}: interval`).toBeGreaterThanOrEqual(adv!.interval);
        expect(secs(m.timeout), `${spec.agent} depth ${depth}: timeout`).toBeGreaterThanOrEqual(adv!.timeout);
      }
    });
  }
});

describeWith({ bins: ['bash'], packages: ['resource-agents'] }, 'IPaddr2 parameters', () => {
  it('ocf:heartbeat:IPaddr2 declares every parameter the VIPs use', async () => {
    const agent = '/usr/lib/ocf/resource.d/heartbeat/IPaddr2';
    expect(existsSync(agent), 'resource-agents is not installed').toBe(true);
    const r = await run(agent, ['meta-data'], { env: { OCF_ROOT: '/usr/lib/ocf', OCF_FUNCTIONS_DIR: '/usr/lib/ocf/lib/heartbeat' } });
    expect(r.code).toBe(0);
    const declared = paramNames(r.stdout);
    expect([...emitted().get(VIP.agent)!].filter((p) => !declared.has(p))).toEqual([]);
  });
});

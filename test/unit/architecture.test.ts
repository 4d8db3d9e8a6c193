// The layering of ../shared/design/architecture.md, enforced on what the bundler really pulls in:
// - an agent (every Pacemaker action is a fresh process) reaches only src/ocf, src/service,
//   src/probe and src/pacemaker, never the lab, the generator or the subagent;
// - probes know nothing of OCF;
// - nothing outside src/lab and src/cli imports src/lab.
import { describe, it, expect } from 'vitest';
import { build } from 'esbuild';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { root } from '../helpers/agents';

async function inputsOf(entry: string): Promise<string[]> {
  const r = await build({ entryPoints: [join(root, entry)], bundle: true, platform: 'node', format: 'cjs', write: false, metafile: true, logLevel: 'silent', external: ['net-snmp', 'execa', 'xml2js', 'yaml'] });
  return Object.keys(r.metafile.inputs).map((p) => relative(root, join(root, p))).filter((p) => !p.startsWith('node_modules'));
}

const ocfAgents = readdirSync(join(root, 'agents')).filter((f) => f.endsWith('.ts') && !/^(fence|alert)_/.test(f));

describe('layers', () => {
  for (const a of ocfAgents) {
    it(`agents/${a} reaches only src/ocf, src/service, src/probe, src/pacemaker`, async () => {
      const bad = (await inputsOf(`agents/${a}`)).filter((p) => p.startsWith('src/') && !/^src\/(ocf|service|probe|pacemaker|types)\//.test(p));
      expect(bad).toEqual([]);
    });
  }
  it('probes do not know OCF', async () => {
    const dir = join(root, 'src/probe');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
      const bad = (await inputsOf(`src/probe/${f}`)).filter((p) => /^src\/(ocf|lab|cli|crm|snmp)\//.test(p));
      expect(bad, f).toEqual([]);
    }
  });
  it('nothing outside src/lab and src/cli imports src/lab', () => {
    const offenders: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(join(root, d), { withFileTypes: true })) {
        const p = `${d}/${e.name}`;
        if (e.isDirectory()) { walk(p); continue; }
        if (!p.endsWith('.ts') || p.startsWith('src/lab/') || p.startsWith('src/cli/')) continue;
        if (/from ['"][./]*(\.\.\/)+lab\/|from ['"]\.\.\/src\/lab\//.test(readFileSync(join(root, p), 'utf8'))) offenders.push(p);
      }
    };
    for (const d of ['src', 'agents']) if (existsSync(join(root, d))) walk(d);
    expect(offenders).toEqual([]);
  });
});

describe('bounded waits', () => {
  // A synchronous child blocks the event loop, so no Vitest timeout can end it: every test
  // takes spawnSync from test/helpers/sync.ts (a default timeout), and the product runs
  // commands through run() (src/service/run.ts), which owns the timeout and the process group.
  const files = (d: string, ext: RegExp): string[] => {
    const out: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
        const p = `${dir}/${e.name}`;
        if (e.isDirectory()) walk(p);
        else if (ext.test(p)) out.push(p);
      }
    };
    walk(d);
    return out;
  };
  it('tests take spawnSync/execSync/execFileSync only from test/helpers/sync.ts', () => {
    const bad = files('test', /\.ts$/).filter((p) => p !== 'test/helpers/sync.ts')
      .filter((p) => /import \{[^}]*\b(spawnSync|execSync|execFileSync)\b[^}]*\} from 'node:child_process'/.test(readFileSync(join(root, p), 'utf8')));
    expect(bad).toEqual([]);
  });
  it('src/ and agents/ run no synchronous child process', () => {
    const bad = [...files('src', /\.ts$/), ...files('agents', /\.ts$/)]
      .filter((p) => /\b(spawnSync|execSync|execFileSync)\b/.test(readFileSync(join(root, p), 'utf8')));
    expect(bad).toEqual([]);
  });
});

// `ha-oscar config pcs` (src/crm/render-pcs.ts): golden files for every example, and the
// proof that the commands mean what the CIB XML says. The commands are run one by one with
// `pcs -f FILE` (pcs edits a CIB file offline: no cluster, no pcsd) on a CIB that has only
// the two heads; the result must pass `crm_verify -x` and equal render-xml's <configuration>.
//
// "Equal", and what is normalised (canon() below), only what cannot matter to Pacemaker:
// - the ids pcs makes itself and lets nobody choose: op ids (and the ids inside an op),
//   nvpair ids (pcs shortens some: cib-bootstrap-options-priority-fencing-del),
//   resource_set, rule expression and fencing-level ids;
// - attribute order and whitespace;
// - the order of the nvpairs in a set (by name), of the ops in <operations> (by name and
//   interval), of a primitive's/clone's/alert's kinds of children (params, meta, ops;
//   a clone's meta before or after its primitive), and of the configuration's sections.
// Everything else must be the same: every other id (resources, constraints, rules, the
// property and defaults sets, alerts, recipients), params, meta, ops with interval,
// timeout and depth, resource and constraint order, sets with their order and
// sequential=false, scores, rules, topology, properties, defaults, alert attributes,
// selection and recipients. The comparator's own tests below break the XML in 19 such ways
// and check that each break is seen.
//
// Cost: pcs is a slow Python CLI (about 1 s per call on an idle machine, 2-3 s on the
// loaded 2-core CI box) and an example needs 20-25 calls. So the pcs -f run covers the two
// most different examples (active-standby-pdu: one service set, RAID health, clones with
// allow-unhealthy-nodes, a PDU; lab-active-active: two sets, fencing heuristic and levels,
// stonith-action/-timeout), run side by side; the goldens cover all.
//
// The ha-oscar agents are not installed on the test machine (they are on a head, from the
// package), so pcs cannot read their meta-data and refuses them without --force: the test
// adds --force to exactly those create commands. IPaddr2 and fence_heuristics_ping, when
// installed, are validated by pcs as an admin's would be (their params are checked against
// the agents' meta-data in crm-agents.test.ts anyway).
//
// After an intended change: UPDATE_GOLDEN=1 npx vitest run test/unit/crm-pcs.test.ts, then review the diff.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseStringPromise } from 'xml2js';
import { tempDir } from '../helpers/agents';
import { spawnSync } from '../helpers/sync';
import { describeWith, which } from '../helpers/prereq';
import { writeFileAtomic } from '../../src/service/atomic';
import { run } from '../../src/service/run';
import { buildConfig, generateCrm, generatePcs, loadDescription, renderFullCib, renderPcs, shq } from '../../src/crm/index';
import type { ClusterConfig } from '../../src/crm/model';

const root = join(__dirname, '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'crm');
const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml')).sort();
const PCS_RUN = ['active-standby-pdu.yaml', 'lab-active-active.yaml'];

function golden(name: string, text: string): void {
  const path = join(fixtures, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileAtomic(path, text, { mkdir: true });
  if (!existsSync(path)) throw new Error(`golden file ${name} missing: run with UPDATE_GOLDEN=1 and review it`);
  expect(text, `${name} differs from the golden file`).toBe(readFileSync(path, 'utf8'));
}

/** A line of the output as argv: bare words and '...' words ('\'' inside), what shq() makes. */
function words(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === ' ') { i++; continue; }
    let w = '';
    while (i < line.length && line[i] !== ' ') {
      if (line[i] === "'") {
        const close = line.indexOf("'", i + 1);
        if (close < 0) throw new Error(`unterminated quote: ${line}`);
        w += line.slice(i + 1, close); i = close + 1;
      } else if (line[i] === '\\') { w += line[i + 1]; i += 2; } else { w += line[i++]; }
    }
    out.push(w);
  }
  return out;
}
const commands = (text: string): string[] => text.split('\n').filter((l) => l.trim() && !l.startsWith('#'));

describe('config pcs: golden files', () => {
  for (const ex of examples) {
    it(ex, () => golden(`${ex.replace(/\.yaml$/, '')}.pcs`, generatePcs(loadDescription(join(root, 'examples', ex)), ex)));
  }
  it('every line is a comment, a pcs command or (the alert selection) a cibadmin command', () => {
    for (const ex of examples) {
      for (const l of commands(generatePcs(loadDescription(join(root, 'examples', ex)), ex))) expect(l).toMatch(/^(pcs|cibadmin) /);
    }
  });
  it('shq quotes for a POSIX shell only where needed, and words() reads it back', () => {
    const tricky = ['plain', 'a=b', 'listen=192.0.2.1 2001:db8::1', "it's", 'udp6:[2001:db8::6]:162', '#x', '', '$HOME', 'a*b', '<x y="1"/>'];
    expect(shq('ip=192.0.2.1')).toBe('ip=192.0.2.1');
    expect(shq('listen=a b')).toBe("'listen=a b'");
    expect(shq("it's")).toBe("'it'\\''s'");
    expect(shq('#x')).toBe("'#x'");
    expect(words(tricky.map(shq).join(' '))).toEqual(tricky);
    // and a real shell agrees
    const r = spawnSync('sh', ['-c', `printf '%s\\n' ${tricky.map(shq).join(' ')}`], { encoding: 'utf8', timeout: 10_000 });
    expect(r.stdout).toBe(tricky.map((t) => `${t}\n`).join(''));
  });
  it('a -INFINITY score comes after --, so that pcs reads it as a score, not an option', () => {
    const text = generatePcs(loadDescription(join(root, 'examples', 'active-standby-pdu.yaml')), 'x');
    expect(text).toContain('pcs constraint location add ban-fence-head1 fence-head1 head1 -- -INFINITY\n');
  });
  it('groups (asGroups, not generated) become --group; nothing of the model is silently dropped', () => {
    const cfg: ClusterConfig = buildConfig(loadDescription(join(root, 'examples', 'active-standby-pdu.yaml')));
    const text = renderPcs(cfg);
    for (const p of cfg.primitives) expect(text).toMatch(new RegExp(`^pcs (resource|stonith) create ${p.id} `, 'm'));
    for (const c of cfg.constraints) expect(text).toContain(c.id);
    const g = renderPcs({ ...cfg, primitives: [], groups: [{ id: 'grp-x', members: cfg.primitives.slice(0, 2) }] });
    expect(g).toContain(`pcs resource create ${cfg.primitives[1].id} `);
    expect(g).toMatch(new RegExp(`create ${cfg.primitives[1].id} .* --group grp-x$`, 'm'));
  });
});

// --- the comparison ---------------------------------------------------------------------

interface El { '#name': string; $?: Record<string, string>; $$?: El[] }
async function parse(xml: string): Promise<El> {
  return await parseStringPromise(xml, { explicitChildren: true, preserveChildrenOrder: true, explicitRoot: false, charsAsChildren: false, trim: true }) as El;
}
const kids = (e: El | undefined): El[] => e?.$$ ?? [];
/** Elements whose ids pcs makes itself (see the top of the file). */
const GENERATED_ID = new Set(['op', 'nvpair', 'resource_set', 'expression', 'fencing-level']);
const NVSET = new Set(['instance_attributes', 'meta_attributes', 'cluster_property_set', 'utilization']);
const KINDS_UNORDERED = new Set(['primitive', 'clone', 'group', 'alert', 'op']);

function canon(e: El, inOp = false): string {
  const name = e['#name'];
  const attrs = Object.entries(e.$ ?? {})
    .filter(([k]) => !(k === 'id' && (GENERATED_ID.has(name) || inOp)))
    .sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  let children = kids(e);
  const key = (c: El): string => c.$?.name ?? '';
  if (NVSET.has(name)) children = [...children].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  if (name === 'operations') children = [...children].sort((a, b) => { const ka = `${a.$?.name} ${a.$?.interval}`; const kb = `${b.$?.name} ${b.$?.interval}`; return ka < kb ? -1 : ka > kb ? 1 : 0; });
  // a stable sort by tag: kinds of children in any order, same kind in its order (members, recipients)
  if (KINDS_UNORDERED.has(name)) children = [...children].sort((a, b) => (a['#name'] < b['#name'] ? -1 : a['#name'] > b['#name'] ? 1 : 0));
  return `<${name}${attrs.length ? ` ${attrs.join(' ')}` : ''}>${children.map((c) => canon(c, inOp || name === 'op')).join('')}</${name}>`;
}

/** Per section of a <configuration> (or a whole CIB's), the canonical text of each child: the unit of comparison. */
async function sections(xml: string): Promise<Record<string, string[]>> {
  let e = await parse(xml);
  if (e['#name'] === 'cib') e = kids(e).find((c) => c['#name'] === 'configuration')!;
  const out: Record<string, string[]> = {};
  for (const s of kids(e)) if (kids(s).length) out[s['#name']] = kids(s).map((c) => canon(c));
  return out;
}

describe('config pcs: the comparator sees what matters', () => {
  const xml = generateCrm(loadDescription(join(root, 'examples', 'lab-active-active.yaml')), 'x', 'xml');
  const breaks: [string, (s: string) => string][] = [
    ['a param dropped', (s) => s.replace(/\n *<nvpair name="nic" value="eth0" id="vip-boot-ipv4-instance_attributes-nic"\/>/, '')],
    ['a param value', (s) => s.replace('value="192.0.2.100" id="vip-boot-ipv4-instance_attributes-ip"', 'value="192.0.2.99" id="vip-boot-ipv4-instance_attributes-ip"')],
    ['a meta attribute dropped', (s) => s.replace(/\n *<nvpair name="interleave" value="true" id="radvd-a-clone-meta_attributes-interleave"\/>/, '')],
    ['an op timeout', (s) => s.replace('<op name="stop" interval="0s" timeout="20s" id="dhcpd4-stop-0s"/>', '<op name="stop" interval="0s" timeout="21s" id="dhcpd4-stop-0s"/>')],
    ['an op depth', (s) => s.replace('<nvpair name="OCF_CHECK_LEVEL" value="10" id="tftpd-monitor-120s-instance_attributes-OCF_CHECK_LEVEL"/>', '<nvpair name="OCF_CHECK_LEVEL" value="20" id="tftpd-monitor-120s-instance_attributes-OCF_CHECK_LEVEL"/>')],
    ['a resource id', (s) => s.replace('<primitive id="tftpd" ', '<primitive id="tftpd2" ')],
    ['resource order', (s) => s.replace(/(\n *<primitive id="vip-boot-ipv4"[\s\S]*?<\/primitive>)(\n *<primitive id="vip-boot-ipv6"[\s\S]*?<\/primitive>)/, '$2$1')],
    ['sequential dropped from a set', (s) => s.replace('<resource_set sequential="false" id="ord-boot-1">', '<resource_set id="ord-boot-1">')],
    ['refs in a set reordered', (s) => s.replace(/(<resource_ref id="vip-data-ipv4"\/>)(\s*)(<resource_ref id="vip-data-ipv6"\/>)/, '$3$2$1')],
    ['a constraint id', (s) => s.replace('id="prefer-boot"', 'id="location-vip-boot-ipv4-head1-50"')],
    ['a rule score', (s) => s.replace('<rule score="-INFINITY" id="health-link-data-rule">', '<rule score="-1000" id="health-link-data-rule">')],
    ['a fencing level', (s) => s.replace('devices="fence-heuristic,fence-delay,fence-head2"', 'devices="fence-heuristic,fence-head2"')],
    ['a property', (s) => s.replace('name="stonith-timeout" value="90s"', 'name="stonith-timeout" value="60s"')],
    ['a resource default', (s) => s.replace('name="migration-threshold" value="3"', 'name="migration-threshold" value="4"')],
    ['the clone meta on its primitive', (s) => {
      const m = /(<clone id="linkmon-clone">\s*)(<meta_attributes id="linkmon-clone-meta_attributes">[\s\S]*?<\/meta_attributes>)(\s*<primitive id="linkmon"[^>]*>)/.exec(s)!;
      return s.replace(m[0], `${m[1]}${m[3]}${m[2].replace(/linkmon-clone-meta/g, 'linkmon-meta')}`);
    }],
  ];
  it('the XML equals itself, and equals itself with the normalised things changed', async () => {
    const same = xml
      .replace(/id="dhcpd4-monitor-10s"/, 'id="dhcpd4-monitor-interval-10s"')
      .replace('id="fencing"', 'id="fl-head1-1"')
      .replace(/(<nvpair name="server" value="isc" id="dhcpd4-instance_attributes-server"\/>)(\s*)(<nvpair name="interface" value="eth0" id="dhcpd4-instance_attributes-interface"\/>)/, '$3$2$1');
    expect(same).not.toBe(xml);
    expect(await sections(same)).toEqual(await sections(xml));
  });
  for (const [what, brk] of breaks) {
    it(`sees ${what}`, async () => {
      const broken = brk(xml);
      expect(broken, 'the break applies').not.toBe(xml);
      expect(await sections(broken)).not.toEqual(await sections(xml));
    });
  }
  // the alert: lab-active-active has none, active-standby-pdu has one (with a <select>)
  const pdu = generateCrm(loadDescription(join(root, 'examples', 'active-standby-pdu.yaml')), 'x', 'xml');
  const alertBreaks: [string, (s: string) => string][] = [
    ['the alert selection dropped', (s) => s.replace(/\n *<select>[\s\S]*?<\/select>/, '')],
    ['an attribute left out of the selection', (s) => s.replace(/\n *<attribute name="#health-ha-oscar-raid" id="ha-oscar-snmp-1"\/>/, '')],
    ['a recipient', (s) => s.replace('value="udp:192.0.2.5:162"', 'value="udp:192.0.2.5:1162"')],
    ['an alert attribute', (s) => s.replace('name="transport" value="snmptrap"', 'name="transport" value="subagent"')],
  ];
  for (const [what, brk] of alertBreaks) {
    it(`sees ${what}`, async () => {
      const broken = brk(pdu);
      expect(broken, 'the break applies').not.toBe(pdu);
      expect(await sections(broken)).not.toEqual(await sections(pdu));
    });
  }
});

// --- pcs -f ------------------------------------------------------------------------------

interface Built { commands: number; failures: string[]; cib: string; ms: number }

/** pcs refuses an agent it cannot read: --force for exactly those not installed here. */
function agentMissing(argv: string[]): boolean {
  if (argv[0] !== 'resource' && argv[0] !== 'stonith') return false;
  if (argv[1] !== 'create') return false;
  const agent = argv[3];
  if (argv[0] === 'stonith') return !which(agent);
  const [cls, provider, type] = agent.split(':');
  return cls === 'ocf' && !existsSync(`/usr/lib/ocf/resource.d/${provider}/${type}`);
}

async function buildWithPcs(dir: string, ex: string): Promise<Built> {
  const d = loadDescription(join(root, 'examples', ex));
  const cfg = buildConfig(d);
  const file = join(dir, ex.replace(/\.yaml$/, '.cib.xml'));
  // the heads only (what joining gives; no pcs command makes them), online and quorate as in
  // `ha-oscar config check`, so that crm_verify judges the configuration and not a cluster that never started
  const empty: ClusterConfig = { nodes: cfg.nodes, properties: [], rscDefaults: [], primitives: [], clones: [], constraints: [], fencingLevels: [], alerts: [] };
  writeFileSync(file, renderFullCib(empty));
  const failures: string[] = [];
  const lines = commands(generatePcs(d, ex));
  const t0 = Date.now();
  for (const l of lines) {
    const [cmd, ...argv] = words(l);
    const r = cmd === 'pcs'
      // --force before the command: after a '--' (-- -INFINITY) pcs would read it as a word
      ? await run('pcs', ['-f', file, ...(agentMissing(argv) ? ['--force'] : []), ...argv], { timeoutMs: 60_000 })
      : await run(cmd, argv, { env: { CIB_file: file }, timeoutMs: 30_000 });
    if (r.code !== 0) failures.push(`${l}\n  -> exit ${r.code}: ${(r.stderr + r.stdout).trim()}`);
  }
  return { commands: lines.length, failures, cib: readFileSync(file, 'utf8'), ms: Date.now() - t0 };
}

describeWith({ bins: ['pcs', 'cibadmin', 'crm_verify'], packages: ['pcs', 'pacemaker-cli-utils'] }, 'config pcs: the commands, run with pcs -f, give the same CIB', () => {
  let dir = '';
  const built = new Map<string, Built>();
  beforeAll(async () => {
    dir = tempDir('pcs');
    const all = await Promise.all(PCS_RUN.map((ex) => buildWithPcs(dir, ex)));
    PCS_RUN.forEach((ex, i) => built.set(ex, all[i]));
  }, 400_000);
  afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

  for (const ex of PCS_RUN) {
    describe(ex, () => {
      it('every command succeeds', () => {
        const b = built.get(ex)!;
        expect(b.commands).toBeGreaterThan(15);
        expect(b.failures).toEqual([]);
      });
      it('crm_verify -x accepts the CIB pcs made', async () => {
        const file = join(dir, `${ex.replace(/\.yaml$/, '')}.verify.xml`);
        writeFileSync(file, built.get(ex)!.cib);
        const r = await run('crm_verify', ['-V', '-x', file], { timeoutMs: 60_000 });
        expect(`${r.code} ${r.stderr}${r.stdout}`.trim()).toBe('0');
      });
      it('its configuration equals `config crm --format xml` (ids pcs makes and order that cannot matter aside)', async () => {
        const want = await sections(generateCrm(loadDescription(join(root, 'examples', ex)), ex, 'xml'));
        const got = await sections(built.get(ex)!.cib);
        expect(Object.keys(got).sort()).toEqual(Object.keys(want).sort());
        for (const s of Object.keys(want)) expect(got[s], `<${s}>`).toEqual(want[s]);
      });
    });
  }
});

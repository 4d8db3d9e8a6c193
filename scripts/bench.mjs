#!/usr/bin/env node
// npm run bench: start-up cost of an OCF agent action, against a bare `node -e 0`.
// Every Pacemaker action is a fresh process, so this is what the cluster pays every few seconds.
// Prints the median wall time and peak RSS of 25 interleaved runs of each command, and the
// ratio to `node -e 0` measured in the same run. Target: <= 1.2x for both agent commands.
//
// Then the CPU (user + system) per action, which is what an idle cluster pays (issue 25):
// ocf:ha-oscar:tftpd serving on loopback, its recurring level-0 monitor answered by the sh
// fast path (src/ocf/fastpath.ts) and the same monitor through node, against `node -e 0` and
// an empty sh script. Needs root and in.tftpd (tftpd-hpa); skipped otherwise, with the reason.
// The idle figure of a whole head comes from the lab: `ha-oscar lab idle` (docs/lab.md).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const RUNS = Number(process.env.BENCH_RUNS ?? 25);
const agent = new URL('../dist/ocf/snmpd', import.meta.url).pathname;
if (!existsSync(agent)) { console.error('bench: dist/ocf/snmpd missing; run npm run build'); process.exit(1); }
if (!existsSync('/usr/bin/time')) { console.error('bench: /usr/bin/time missing (apt-get install time)'); process.exit(1); }

const probeEnv = {
  ...process.env,
  OCF_ROOT: '/usr/lib/ocf', OCF_RESOURCE_INSTANCE: 'bench-snmpd',
  OCF_RESKEY_listen: '127.0.0.1 ::1', OCF_RESKEY_port: '16199',
  OCF_RESKEY_pidfile: '/tmp/ha-oscar-bench-none.pid', OCF_RESKEY_CRM_meta_interval: '0', OCF_RESKEY_CRM_meta_timeout: '20000',
};
const cases = [
  { name: 'node -e 0', argv: [process.execPath, '-e', '0'], env: process.env, expect: 0 },
  { name: 'snmpd meta-data', argv: [agent, 'meta-data'], env: process.env, expect: 0 },
  { name: 'snmpd monitor (probe)', argv: [agent, 'monitor'], env: probeEnv, expect: 7 },
];

function once(c) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...c.argv], { env: c.env, encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== c.expect) throw new Error(`${c.name}: exit ${r.status}, expected ${c.expect}: ${r.stderr}`);
  const rssKb = Number(r.stderr.trim().split('\n').pop());
  return { ms, rssKb };
}
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };

const samples = new Map(cases.map((c) => [c.name, []]));
for (const c of cases) once(c); // warm the page cache
for (let i = 0; i < RUNS; i++) for (const c of cases) samples.get(c.name).push(once(c));

const base = samples.get('node -e 0');
const baseMs = median(base.map((s) => s.ms));
const baseRss = median(base.map((s) => s.rssKb));
console.log(`runs per command: ${RUNS} (interleaved)`);
console.log('command                    median ms   x node   peak RSS MB   x node');
let worst = 0;
for (const c of cases) {
  const s = samples.get(c.name);
  const ms = median(s.map((x) => x.ms));
  const rss = median(s.map((x) => x.rssKb));
  const r = ms / baseMs;
  if (c.name !== 'node -e 0') worst = Math.max(worst, r);
  console.log(`${c.name.padEnd(26)} ${ms.toFixed(1).padStart(9)}   ${r.toFixed(2).padStart(6)}   ${(rss / 1024).toFixed(1).padStart(11)}   ${(rss / baseRss).toFixed(2).padStart(6)}`);
}
console.log(`worst wall-time ratio: ${worst.toFixed(2)}x (target <= 1.20x): ${worst <= 1.2 ? 'MET' : 'NOT MET'}`);

// ---- CPU per action ----
const HZ = 100; // USER_HZ: /proc/PID/stat counts in 1/100 s
function childTicks() {
  const st = readFileSync('/proc/self/stat', 'utf8');
  const r = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return Number(r[13]) + Number(r[14]); // cutime + cstime: every child this process waited for
}
const CPU_RUNS = Number(process.env.BENCH_CPU_RUNS ?? 40);
function cpuPerRun(c) {
  for (let i = 0; i < 2; i++) spawnSync(c.argv[0], c.argv.slice(1), { env: c.env, stdio: 'ignore' });
  const t0 = childTicks();
  for (let i = 0; i < CPU_RUNS; i++) {
    const r = spawnSync(c.argv[0], c.argv.slice(1), { env: c.env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
    if (r.status !== c.expect) throw new Error(`${c.name}: exit ${r.status}, expected ${c.expect}: ${r.stderr}`);
  }
  return ((childTicks() - t0) / HZ) * 1000 / CPU_RUNS;
}
const tftpd = new URL('../dist/ocf/tftpd', import.meta.url).pathname;
const which = (b) => ['/usr/sbin', '/sbin', '/usr/bin', '/bin'].map((d) => join(d, b)).find((p) => existsSync(p));
console.log(`\nCPU per action (user + system, mean of ${CPU_RUNS} runs; sh = the agent's sh fast path)`);
if (process.getuid?.() !== 0 || !which('in.tftpd')) {
  console.log('  skipped: needs root and in.tftpd (apt-get install tftpd-hpa)');
} else {
  const dir = mkdtempSync(join(tmpdir(), 'ha-oscar-bench-idle-'));
  mkdirSync(join(dir, 'root'));
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const env = (extra = {}) => ({
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', OCF_ROOT: '/usr/lib/ocf',
    OCF_RESOURCE_INSTANCE: 'bench-idle', OCF_RESKEY_CRM_meta_timeout: '20000', HA_OSCAR_MONITOR_DIR: join(dir, 'monitor'),
    OCF_RESKEY_root: join(dir, 'root'), OCF_RESKEY_listen: '127.0.0.1 ::1', OCF_RESKEY_port: port, OCF_RESKEY_run_dir: join(dir, 'run'),
    ...extra,
  });
  const l0 = { OCF_RESKEY_CRM_meta_interval: '10000' };
  const l10 = { OCF_RESKEY_CRM_meta_interval: '60000', OCF_CHECK_LEVEL: '10' };
  const cpuCases = [
    { name: 'node -e 0', argv: [process.execPath, '-e', '0'], env: env(), expect: 0 },
    { name: 'empty sh script', argv: ['/bin/sh', '/dev/null'], env: env(), expect: 0 },
    { name: 'tftpd meta-data', argv: [tftpd, 'meta-data'], env: env(), expect: 0 },
    { name: 'tftpd monitor, level 0 (sh)', argv: [tftpd, 'monitor'], env: env(l0), expect: 0 },
    { name: 'tftpd monitor, level 0 (node)', argv: [process.execPath, tftpd, 'monitor'], env: env(l0), expect: 0 },
    { name: 'tftpd monitor, level 10', argv: [tftpd, 'monitor'], env: env(l10), expect: 0 },
    { name: 'tftpd monitor, probe', argv: [tftpd, 'monitor'], env: env(), expect: 0 },
  ];
  const start = spawnSync(tftpd, ['start'], { env: env(), encoding: 'utf8' });
  try {
    if (start.status !== 0) throw new Error(`tftpd start: exit ${start.status}: ${start.stderr}`);
    spawnSync(tftpd, ['monitor'], { env: env(l0) }); // Node answers first and writes the record
    if (!existsSync(join(dir, 'monitor', 'tftpd.bench-idle'))) throw new Error('tftpd monitor wrote no fast-path record');
    console.log('  action                              CPU ms   x node -e 0');
    const res = cpuCases.map((c) => ({ c, ms: cpuPerRun(c) }));
    const base0 = res[0].ms;
    for (const { c, ms } of res) console.log(`  ${c.name.padEnd(34)} ${ms.toFixed(1).padStart(7)}   ${(ms / base0).toFixed(2).padStart(6)}`);
  } finally {
    spawnSync(tftpd, ['stop'], { env: env(), stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
}

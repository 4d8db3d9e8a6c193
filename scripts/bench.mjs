#!/usr/bin/env node
// npm run bench: start-up cost of an OCF agent action, against a bare `node -e 0`.
// Every Pacemaker action is a fresh process, so this is what the cluster pays every few seconds.
// Prints the median wall time and peak RSS of 25 interleaved runs of each command, and the
// ratio to `node -e 0` measured in the same run. Target: <= 1.2x for both agent commands.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

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

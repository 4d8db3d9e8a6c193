#!/usr/bin/env node
// npm run bench:failover: power off the active head 10+ times with corosync token 1000 ms and
// again with corosync's default token; print median/max time until each VIP/service answers
// from the client, beside corosync's own detection time; then pings lost and membership
// changes for a cut of one link. Needs root (the lab). Runs: BENCH_RUNS (default 10); tokens:
// BENCH_TOKENS (default "1000 default"). --peer: after ha-oscar's runs, the same power-offs
// against the bare resource-agents peer (src/lab/peer.ts), and per service the time from the
// power-off, the time after "fenced", and the ratio ha-oscar / peer. --quorum-device: then the same
// power-offs on a lab with the quorum device (corosync-qnetd, no fence delay: src/lab/qdevice.ts).
// Figures are also written as JSON to out/bench-failover-<token>.json.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const runs = process.env.BENCH_RUNS ?? '10';
const name = process.env.BENCH_LAB ?? 'bfo';
const peer = process.argv.includes('--peer');
const qdevice = process.argv.includes('--quorum-device');
const bad = process.argv.slice(2).filter((a) => a !== '--peer' && a !== '--quorum-device');
if (bad.length) { console.error(`bench-failover: unknown argument ${bad[0]} (only --peer, --quorum-device)`); process.exit(2); }
const tokens = (process.env.BENCH_TOKENS ?? '1000 default').split(/\s+/).filter(Boolean);
let failed = 0;
for (const token of tokens) {
  const args = [join(root, 'dist', 'ha-oscar'), 'lab', 'bench', '--name', name, '--runs', runs];
  if (token !== 'default') args.push('--token', token);
  if (peer) args.push('--peer');
  if (qdevice) args.push('--quorum-device');
  console.log(`\n== failover benchmark, token ${token}, ${runs} runs${peer ? ' each, ha-oscar then the bare resource-agents peer' : ''}`);
  const r = spawnSync(process.execPath, args, {
    stdio: 'inherit',
    env: { ...process.env, HA_OSCAR_BENCH_JSON: join(root, 'out', `bench-failover-${token}.json`) },
  });
  if (r.status !== 0) { failed++; console.error(`bench (token ${token}) failed: exit ${r.status ?? r.signal}`); }
}
process.exit(failed ? 1 : 0);

#!/usr/bin/env node
// npm run bench:dhcp (issue 19): a PXE boot storm. perfdhcp (kea-admin) on the lab's compute
// node against ISC dhcpd (the lab's own configuration) and the Kea HA pair in load-balancing
// (examples/lab-kea-ha.yaml), then across a power-off of a head (src/lab/bench-dhcp.ts).
// Needs root (the lab). Lab name: BENCH_LAB (default 'bdhcp'). JSON in out/bench-dhcp.json.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (process.argv.length > 2) { console.error(`bench-dhcp: no arguments (got ${process.argv[2]})`); process.exit(2); }
const r = spawnSync(process.execPath, [join(root, 'dist', 'ha-oscar'), 'lab', 'bench-dhcp', '--name', process.env.BENCH_LAB ?? 'bdhcp', '--token', '1000'], {
  stdio: 'inherit',
  env: { ...process.env, HA_OSCAR_BENCH_JSON: join(root, 'out', 'bench-dhcp.json') },
});
process.exit(r.status ?? 1);

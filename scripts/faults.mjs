#!/usr/bin/env node
// npm run faults: the fault battery (issue 21; src/lab/faults.ts). Brings up its own lab
// (FAULTS_LAB, default 'flt'), keeps load on the client (NFS writes, DHCP leases, ARP/NDP for
// the VIPs), runs the faults, tears the lab down and writes docs/faults.md. Not part of npm test.
// Needs root (the lab). Options are passed on: --quick (one round of each fault), --runs N,
// --only REGEX (just the faults whose name matches; the table goes to out/faults-only.md).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const name = process.env.FAULTS_LAB ?? 'flt';
const args = [join(root, 'dist', 'ha-oscar'), 'lab', 'faults', '--name', name, ...process.argv.slice(2)];
const t0 = Date.now();
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
console.log(`fault battery: ${Math.round((Date.now() - t0) / 1000)} s wall time`);
if (r.status !== 0) console.error(`faults: exit ${r.status ?? r.signal}`);
process.exit(r.status ?? 1);

#!/usr/bin/env node
// npm test's runner (after typecheck and build): ONE vitest run, inside three guarantees.
//
// 1. It runs wherever root cloned the repository. ocf-tester runs each agent's meta-data as
//    user nobody, and the SNMP subagent runs as its own user: neither can reach a clone under
//    /root (mode 0700). When some directory above the clone is closed to others, the clone is
//    bind-mounted at /tmp/ha-oscar-test/repo-<pid> (every directory above it open) and vitest
//    runs from there; the mount is removed at the end.
// 2. It is bounded: vitest gets HA_OSCAR_TEST_TIMEOUT_MIN minutes (default 45) in all, then
//    SIGTERM (its lab teardown runs), then SIGKILL 120 s later.
// 3. It leaves nothing behind: processes, network namespaces, root-namespace interfaces and mounts
//    that exist after the run and did not before it fail the run, each named with its command line
//    (scripts/leftovers.mjs), and are then removed by their recorded PID or name.
//
// The last line is the plain count "tests: N passed, N failed, N skipped"; the leftover check
// counts as one more failed test when it finds anything. Arguments go to vitest
// (`npm test -- test/unit/x.test.ts`).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clean, describe, isEmpty, leftovers, snapshot, stat } from './leftovers.mjs';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..');
const reporters = ['--reporter=default', '--reporter=./test/helpers/summary-reporter.ts'];
const limitMin = Number(process.env.HA_OSCAR_TEST_TIMEOUT_MIN ?? 45);
// Not under /run: the lab's nodes and the NFS tests mount a fresh tmpfs on /run.
const BIND_ROOT = '/tmp/ha-oscar-test';
const isRoot = process.getuid?.() === 0;

/** The first directory at or above `dir` that other users cannot enter, or undefined. */
function closedAbove(dir) {
  for (let d = dir; ; d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0) return d;
    if (dirname(d) === d) return undefined;
  }
}

/** Bind mounts of earlier runs whose runner is gone (a killed npm test). */
function removeStaleBinds() {
  if (!existsSync(BIND_ROOT)) return;
  for (const e of readdirSync(BIND_ROOT)) {
    const m = /^repo-(\d+)$/.exec(e);
    if (!m || stat(Number(m[1]))) continue;
    spawnSync('umount', ['-l', join(BIND_ROOT, e)], { timeout: 10_000 });
    try { rmdirSync(join(BIND_ROOT, e)); } catch { /* not empty: still mounted; left for a look */ }
  }
}

let cwd = repo;
let bind;
if (isRoot) {
  removeStaleBinds();
  const closed = closedAbove(repo);
  if (closed) {
    bind = join(BIND_ROOT, `repo-${process.pid}`);
    mkdirSync(bind, { recursive: true, mode: 0o755 });
    const r = spawnSync('mount', ['--bind', repo, bind], { encoding: 'utf8', timeout: 10_000 });
    if (r.status !== 0) {
      process.stderr.write(`npm test: ${closed} is closed to other users (mode ${(statSync(closed).mode & 0o777).toString(8)}), and bind-mounting the clone at ${bind} failed: ${(r.stderr || '').trim()}; clone it under a directory others can enter (e.g. /srv or /opt)\n`);
      process.exit(1);
    }
    process.stdout.write(`npm test: ${closed} is closed to other users, so the tests run from a bind mount of this clone at ${bind}\n`);
    cwd = bind;
  }
}

// Labs (src/lab) live under this root, one directory each; one still there after vitest has
// ended (killed before its global teardown) is torn down from its own records.
const LAB_ROOT = process.env.HA_OSCAR_LAB_ROOT ?? '/run/ha-oscar-lab';
const labs = () => { try { return readdirSync(LAB_ROOT); } catch { return []; } };
const labsBefore = new Set(labs());
const before = snapshot();
// HA_OSCAR_DIST_FRESH: npm test has just built dist/ (package.json), so the lab's global setup
// does not build it again.
const child = spawn(join(cwd, 'node_modules', '.bin', 'vitest'), ['run', ...reporters, ...process.argv.slice(2)],
  { cwd, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, HA_OSCAR_DIST_FRESH: '1' } });
let out = '';
child.stdout.setEncoding('utf8');
child.stdout.on('data', (d) => { out += d; if (out.length > 4_000_000) out = out.slice(-1_000_000); process.stdout.write(d); });
let stopping = false;
const stop = (why) => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\nnpm test: ${why}: stopping vitest (SIGTERM; SIGKILL in 120 s)\n`);
  try { child.kill('SIGTERM'); } catch { /* gone */ }
  setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, 120_000).unref();
};
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => stop(`got ${sig}`));
const limit = setTimeout(() => stop(`the whole run took more than ${limitMin} min`), limitMin * 60_000);
const [code, signal] = await new Promise((res) => child.on('close', (c, s) => res([c, s])));
clearTimeout(limit);

const labsLeft = labs().filter((n) => !labsBefore.has(n));
for (const n of labsLeft) {
  process.stdout.write(`\nnpm test: lab '${n}' is still up after vitest ended: 'ha-oscar lab down --name ${n}'\n`);
  spawnSync(process.execPath, [join(cwd, 'dist', 'ha-oscar'), 'lab', 'down', '--name', n], { stdio: 'inherit', timeout: 300_000, killSignal: 'SIGKILL' });
}
// Whatever the tests started has had its teardown; give what is still dying a few seconds.
let left = leftovers(before, process.pid, bind ? [bind] : []);
for (let i = 0; i < 50 && !isEmpty(left); i++) {
  await new Promise((r) => setTimeout(r, 200));
  left = leftovers(before, process.pid, bind ? [bind] : []);
}
const lines = [...labsLeft.map((n) => `lab ${n} (still up after the run; torn down above)`), ...describe(left)];
if (lines.length) {
  process.stdout.write(`\nnpm test: the run left ${lines.length} thing(s) behind (removed now, by PID or name):\n${lines.map((l) => `  leftover: ${l}`).join('\n')}\n`);
  clean(left);
}
if (bind) {
  const u = spawnSync('umount', [bind], { timeout: 10_000 });
  if (u.status !== 0) spawnSync('umount', ['-l', bind], { timeout: 10_000 });
  try { rmdirSync(bind); } catch { /* still busy: removed by the next run */ }
}

const m = [...out.matchAll(/^tests: (\d+) passed, (\d+) failed, (\d+) skipped$/gm)].pop();
const passed = m ? Number(m[1]) : 0;
const failed = (m ? Number(m[2]) : 1) + (lines.length ? 1 : 0);
const skipped = m ? Number(m[3]) : 0;
const ok = code === 0 && !signal && !stopping && failed === 0;
if (!m) process.stdout.write(`\nnpm test: vitest ended (${signal ?? `exit ${code}`}) without its summary\n`);
process.stdout.write(`\ntests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
process.exit(ok ? 0 : 1);

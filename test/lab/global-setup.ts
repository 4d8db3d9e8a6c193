// One lab for the whole `lab` test project: brought up once here, torn down after the last file.
// Tests get its name with inject('labName'); '' means it could not be started, and labError says
// why. The lab boots in the background (~40 s, while the unit files run: vitest runs the unit
// project first); each lab file waits for it in test/lab/ready.ts, which fails the file with the
// reason when the boot failed.
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { run } from '../../src/service/run';
import { down, missingPrereqs, orphanLabs, up } from '../../src/lab/lab';
import { makeSpec } from '../../src/lab/spec';
import { agentsSource, describeAgentsSource } from '../../src/lab/package';

declare module 'vitest' {
  export interface ProvidedContext { labName: string; labError: string; labRunId: string; labReady: string }
}

// Lab names are per test run ('t' + 4 characters of this process's id), so two runs on one
// machine (a developer's and CI's) never meet; the teardown tests use the same id.
const RUN_ID = (process.pid % 36 ** 4).toString(36).padStart(4, '0');
export const TEST_LAB = process.env.HA_OSCAR_TEST_LAB ?? `t${RUN_ID}`;
/** The boot under way (never rejects; set once it started), and the file it writes when done: '' or why it failed. */
let booting: Promise<void> | undefined;
const READY = join(tmpdir(), `ha-oscar-lab-ready-${TEST_LAB}`);

export async function setup(project: TestProject): Promise<void> {
  project.provide('labName', '');
  project.provide('labRunId', RUN_ID);
  project.provide('labReady', READY);
  rmSync(READY, { force: true });
  const miss = missingPrereqs();
  if (miss) { project.provide('labError', miss); return; }
  // Everything the lab runs: the CLI, every agent, fence_haoscar and the lab PDU (fencing is on
  // only when those two exist), so that `vitest --project lab` alone tests what npm test does.
  // npm test (scripts/test.mjs) has just built them, and says so.
  if (process.env.HA_OSCAR_DIST_FRESH !== '1') {
    const b = await run('node', ['scripts/build.mjs'], { timeoutMs: 180_000 });
    if (b.code !== 0) { project.provide('labError', `build failed: ${b.stderr.trim()}`); return; }
  }
  // ...and the .deb of those files: the heads install it with dpkg (src/lab/package.ts), so the
  // lab tests run the PACKAGED agents. Only the .deb: the heads have no use for the .rpm.
  const p = await run('node', ['scripts/package.mjs', '--deb'], { timeoutMs: 180_000 });
  if (p.code !== 0) { project.provide('labError', `package build failed: ${(p.stderr || p.stdout).trim()}`); return; }
  // Labs left by killed test runs (their recorded owner process is gone): only what they recorded.
  for (const n of orphanLabs(/^t[0-9a-z]{4}[fdsq]?$/)) await down(n);
  const spec = makeSpec(TEST_LAB, { token: 1000 });
  project.provide('labName', TEST_LAB);
  project.provide('labError', '');
  const done = (why: string): void => { writeFileSync(`${READY}.tmp`, why); renameSync(`${READY}.tmp`, READY); };
  booting = up(spec, { say: (l) => console.log(`[lab ${TEST_LAB}] ${l}`), keepLogs: process.env.HA_OSCAR_LAB_KEEP_LOGS })
    .then(() => { console.log(`[lab ${TEST_LAB}] ${describeAgentsSource(agentsSource(spec))}`); done(''); })
    .catch((e: unknown) => done(`lab up failed: ${e instanceof Error ? e.message : String(e)}`));
}

export async function teardown(): Promise<void> {
  // HA_OSCAR_LAB_KEEP_LOGS=DIR: the lab's logs (pacemaker, corosync, PDU, node inits) are
  // copied there before the teardown, to read after a failed run.
  if (!booting) return;
  await booting;
  rmSync(READY, { force: true });
  await down(TEST_LAB, { say: (l) => console.log(`[lab ${TEST_LAB}] ${l}`), keepLogs: process.env.HA_OSCAR_LAB_KEEP_LOGS });
}

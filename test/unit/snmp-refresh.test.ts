// When the subagent re-reads the cluster: at once on the alert agent's trigger (inotify on its
// directory), then polling the CIB epoch fast for a while (the later steps of a transition run
// their alerts on the other head), and slowly while nothing changes (idle cost).
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HaOscarAgent, FAST_POLL_MS, fullGc } from '../../src/snmp/subagent';
import type { Runner } from '../../src/pacemaker/crm-mon';

const fx = (p: string) => readFileSync(join(__dirname, '..', 'fixtures', p), 'utf8');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => { for (const c of cleanups.splice(0).reverse()) await c(); });

function setup(opts: { pollMs: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'dv7-refresh-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const state = { epoch: 1, epochReads: 0 };
  const runner: Runner = async (cmd, args) => {
    const ok = (stdout: string) => ({ code: 0, stdout, stderr: '', timedOut: false });
    if (cmd === 'cibadmin' && args.includes('--no-children')) { state.epochReads++; return ok(`<cib epoch="${state.epoch}" num_updates="0" admin_epoch="0"/>`); }
    if (cmd === 'cibadmin') return ok(fx('crm_mon/cib-config.xml'));
    if (cmd === 'crm_mon') return ok(fx('crm_mon/two-heads.xml'));
    return { code: 127, stdout: '', stderr: `${cmd}: not found`, timedOut: false, spawnError: 'ENOENT' };
  };
  const trigger = join(dir, 'snmp-refresh');
  const agent = new HaOscarAgent({ master: join(dir, 'no-master.sock'), runner, localNode: 'head1', triggerFile: trigger, pollMs: opts.pollMs, fastWindowMs: 2_000, slowPollMs: 600_000, retryMs: 60_000, pingMs: 0, log: () => {} });
  cleanups.push(() => agent.stop());
  /** What alert_haoscar does: a new file renamed over the trigger. */
  const poke = () => { writeFileSync(`${trigger}.tmp`, `${Date.now()}\n`); renameSync(`${trigger}.tmp`, trigger); };
  return { agent, state, poke };
}

async function until(what: string, fn: () => boolean, ms: number): Promise<void> {
  for (const t0 = Date.now(); !fn(); await sleep(20)) if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
}

describe('refresh: the trigger, then an adaptive poll', () => {
  it('the alert agent\'s trigger (a rename into its directory) makes the subagent re-read the cluster at once', async () => {
    const { agent, poke } = setup({ pollMs: 600_000 });
    await agent.start();
    const before = agent.refreshes;
    poke();
    // a forced re-read: the snapshot is rebuilt although the epoch did not move
    await until('a refresh after the trigger', () => agent.refreshes > before, 5_000);
  });

  it('after a change it polls every FAST_POLL_MS, so a later change without a trigger shows in about that', async () => {
    const { agent, state, poke } = setup({ pollMs: 600_000 });
    await agent.start();
    poke();
    await until('the triggered refresh', () => agent.refreshes >= 2, 5_000);
    const before = agent.refreshes;
    state.epoch++; // e.g. the start on the other head, whose alert runs there
    await until('the change seen by the fast poll', () => agent.refreshes > before, FAST_POLL_MS * 6);
  });

  it('while nothing changes it polls at the slow interval only', async () => {
    const { agent, state } = setup({ pollMs: 600_000 });
    await agent.start();
    // the start-up read counts as a change: fast for the window (2 s here), then quiet
    await sleep(500);
    const fastReads = state.epochReads;
    await sleep(1_000);
    expect(state.epochReads - fastReads).toBeGreaterThanOrEqual(1); // still in the window
    await sleep(1_500 + FAST_POLL_MS);
    const reads = state.epochReads;
    await sleep(2_000);
    expect(state.epochReads).toBe(reads);
  });
});

describe('memory: one full GC each time the cluster goes quiet', () => {
  it('collects once when a fast window ends, again after the next change, never while quiet', async () => {
    const { agent, poke } = setup({ pollMs: 600_000 });
    let compactions = 0;
    const real = agent.compact.bind(agent);
    agent.compact = () => { compactions++; real(); };
    await agent.start();
    // the start-up read opens a 2 s window: no collection inside it
    await sleep(1_000);
    expect(compactions).toBe(0);
    await until('the collection after the start-up window', () => compactions === 1, 4_000);
    await sleep(1_500);
    expect(compactions).toBe(1); // quiet: nothing more
    poke();
    await until('the collection after the next window', () => compactions === 2, 5_000);
    await sleep(1_000);
    expect(compactions).toBe(2);
  });

  it('the full GC is really there, and frees what nothing holds any more', () => {
    const gc = fullGc();
    expect(typeof gc).toBe('function');
    gc!();
    const base = process.memoryUsage().heapUsed;
    let junk: number[][] | null = Array.from({ length: 200 }, () => Array.from({ length: 10_000 }, (_, i) => i + 0.5));
    expect(process.memoryUsage().heapUsed - base).toBeGreaterThan(10 * 2 ** 20);
    junk = null;
    gc!();
    expect(junk).toBeNull();
    expect(process.memoryUsage().heapUsed - base).toBeLessThan(4 * 2 ** 20);
  });
});

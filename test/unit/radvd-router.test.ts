// Router lifetime > 0 (the heads are the compute nodes' default router): how the default route
// survives a failover. The choice (docs/pxe.md): BOTH heads advertise, each from its own
// link-local address (the radvd clone), so a node has two default routers and loses one when a
// head goes; nothing moves at a failover. Proven for real in namespaces of our own: two "heads"
// (R1, R2) each running the agent with router_lifetime > 0, a "node" (N) whose kernel takes its
// default routes from their RAs (accept_ra), all on one bridge in N. Beyond the link stands
// 2001:db8:2323::1, an address on both heads' loopback: N reaches it only through a default route.
//   - both heads up: N has a default route through each head's link-local address;
//   - the head N's traffic uses is stopped (agent stop: radvd's last RA says lifetime 0): N drops
//     that route at once and reaches 2001:db8:2323::1 through the other head;
//   - that head back, then the head in use "powered off" (radvd SIGKILLed, its link down: no last
//     RA): N's route through it stays until its lifetime ends (90 s), but the kernel's neighbour
//     unreachability detection fails it over to the other head's route (6-12 s seen); the time is printed.
import { it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from '../helpers/sync';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { distOcf, runAgentIn, tempDir, type AgentRun } from '../helpers/agents';
import { describeWith } from '../helpers/prereq';
import { linkLocalAddresses, sameIPv6 } from '../../src/probe/ra';

const agent = join(distOcf, 'radvd');
const HEADS = [`dv23R1${process.pid}`, `dv23R2${process.pid}`] as const;
const NODE = `dv23N${process.pid}`;
const HIF = ['dv23r1', 'dv23r2'] as const; // in the heads
const PORT = ['dv23p1', 'dv23p2'] as const; // their peers, bridge ports in N
const BR = 'dv23br';
const PREFIX = '2001:db8:23::/64';
const BEYOND = '2001:db8:2323::1';
let dir: string;
const ll: string[] = [];

function sh(cmd: string, args: string[], timeout = 20_000): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const inNode = (args: string[], timeout = 10_000) => spawnSync('ip', ['netns', 'exec', NODE, ...args], { encoding: 'utf8', timeout });
const sleepMs = (ms: number) => spawnSync('sleep', [String(ms / 1000)], { timeout: ms + 5000 });

// router_lifetime 90 s, unsolicited RAs every 4-10 s (the agent's limits: lifetime 0 or >= interval):
// a route through a dead head stays at least 80 s, so a recovery within 75 s is not its expiry
const params = (i: number): Record<string, string> => ({
  interface: HIF[i]!, prefixes: PREFIX, router_lifetime: '90', interval: '10',
  state_dir: join(dir, `r${i + 1}`), pidfile: join(dir, `r${i + 1}.pid`),
});
const headAgent = (i: number, action: string): AgentRun =>
  runAgentIn(HEADS[i], agent, action, params(i), { OCF_RESOURCE_INSTANCE: `dv23-ra-r${i + 1}` }, 40_000);

/** N's default routers: the link-local gateways of its default routes that came from RAs. */
function defaultRouters(): string[] {
  const out = inNode(['ip', '-6', 'route', 'show', 'default']).stdout;
  return [...out.matchAll(/via (fe80::[0-9a-f:]+)/g)].map((m) => m[1]!).sort();
}
/** Which head (0, 1) N's kernel sends BEYOND through now, or -1. */
function routerInUse(): number {
  const out = inNode(['ip', '-6', 'route', 'get', BEYOND]).stdout;
  const via = /via (fe80::[0-9a-f:]+)/.exec(out)?.[1];
  return via ? ll.findIndex((a) => sameIPv6(a, via)) : -1;
}
/** One echo to BEYOND (1 s to answer): the default route works. */
const reachBeyond = () => inNode(['ping', '-6', '-n', '-q', '-c', '1', '-W', '1', BEYOND]).status === 0;

/** Poll until fn() or ms passed; the time it took, or undefined. */
function within(ms: number, fn: () => boolean, stepMs = 100): number | undefined {
  const t0 = Date.now();
  for (;;) {
    if (fn()) return Date.now() - t0;
    if (Date.now() - t0 > ms) return undefined;
    sleepMs(stepMs);
  }
}

describeWith({ bins: ['radvd', 'rdisc6', 'ip', 'ping'], root: true, packages: ['radvd', 'ndisc6', 'iproute2', 'iputils-ping'] }, 'radvd with router lifetime > 0: the default route survives the loss of a head (both heads advertise)', () => {
  beforeAll(() => {
    dir = tempDir('dv23-router');
    for (const n of [...HEADS, NODE]) {
      sh('ip', ['netns', 'add', n]);
      sh('ip', ['netns', 'exec', n, 'sysctl', '-qw', 'net.ipv6.conf.default.accept_dad=0', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.all.forwarding=0']);
      sh('ip', ['-n', n, 'link', 'set', 'lo', 'up']);
    }
    sh('ip', ['-n', NODE, 'link', 'add', BR, 'type', 'bridge']);
    // the node: a host, not a router, taking its default routes from RAs
    sh('ip', ['netns', 'exec', NODE, 'sysctl', '-qw', `net.ipv6.conf.${BR}.accept_dad=0`, `net.ipv6.conf.${BR}.accept_ra=2`, `net.ipv6.conf.${BR}.accept_ra_defrtr=1`]);
    sh('ip', ['-n', NODE, 'addr', 'add', '2001:db8:23::20/64', 'dev', BR, 'nodad']);
    HEADS.forEach((h, i) => {
      sh('ip', ['-n', h, 'link', 'add', HIF[i]!, 'type', 'veth', 'peer', 'name', PORT[i]!, 'netns', NODE]);
      sh('ip', ['netns', 'exec', h, 'sysctl', '-qw', `net.ipv6.conf.${HIF[i]}.accept_dad=0`]);
      sh('ip', ['-n', h, 'addr', 'add', `2001:db8:23::${i + 1}/64`, 'dev', HIF[i]!, 'nodad']);
      sh('ip', ['-n', h, 'addr', 'add', `${BEYOND}/128`, 'dev', 'lo']);
      sh('ip', ['-n', NODE, 'link', 'set', PORT[i]!, 'master', BR, 'up']);
      sh('ip', ['-n', h, 'link', 'set', HIF[i]!, 'up']);
    });
    sh('ip', ['-n', NODE, 'link', 'set', BR, 'up']);
    HEADS.forEach((h, i) => {
      for (let k = 0; k < 50 && !ll[i]; k++) {
        const f = join(dir, `if_inet6-${i}`);
        writeFileSync(f, sh('ip', ['netns', 'exec', h, 'cat', '/proc/net/if_inet6']));
        ll[i] = linkLocalAddresses(HIF[i]!, f).find((a) => !a.tentative)?.address ?? '';
        if (!ll[i]) sleepMs(100);
      }
      expect(ll[i]).toMatch(/^fe80::/);
    });
  });
  afterAll(() => {
    for (const i of [0, 1]) headAgent(i, 'stop');
    for (const n of [...HEADS, NODE]) spawnSync('ip', ['netns', 'del', n], { timeout: 10_000 });
    rmSync(dir, { recursive: true, force: true });
  });

  it('both heads advertise router lifetime 90: the node has a default route through each, and reaches beyond the link', () => {
    for (const i of [0, 1]) { const s = headAgent(i, 'start'); expect(s.code, s.stderr).toBe(0); }
    // a solicitation from the node: both answer, and the node's kernel takes both RAs
    inNode(['rdisc6', '-n', '-w', '1000', '-r', '1', BR], 10_000);
    const t = within(15_000, () => defaultRouters().length === 2);
    expect(defaultRouters(), inNode(['ip', '-6', 'route']).stdout).toEqual([...ll].sort());
    expect(t).toBeDefined();
    expect(reachBeyond()).toBe(true);
    const m = headAgent(0, 'monitor');
    expect(m.code, m.stderr).toBe(0);
  }, 60_000);

  it('the head in use stopped (its radvd\'s last RA says lifetime 0): the node drops that route at once and goes through the other', () => {
    // a path beyond the link first: under load (CI, the lab running beside) one run found no route
    // to BEYOND at all right after the first test, the node's neighbour entries for both heads not
    // yet confirmed; an echo makes the kernel resolve one (test 3 waits the same way)
    expect(within(10_000, () => reachBeyond() && routerInUse() >= 0, 200),
      `no path beyond the link: ${inNode(['ip', '-6', 'route']).stdout}${inNode(['ip', '-6', 'neigh']).stdout}`).toBeDefined();
    const used = routerInUse();
    const s = headAgent(used, 'stop');
    expect(s.code, s.stderr).toBe(0);
    const t = within(5_000, () => defaultRouters().length === 1);
    expect(defaultRouters(), 'only the other head left').toEqual([ll[1 - used]]);
    expect(reachBeyond()).toBe(true);
    expect(routerInUse()).toBe(1 - used);
    console.log(`radvd router_lifetime>0: head ${used + 1} stopped -> its default route gone from the node after ${t} ms; beyond the link through head ${2 - used}`);
    // back: the node takes its RAs again
    const b = headAgent(used, 'start');
    expect(b.code, b.stderr).toBe(0);
    inNode(['rdisc6', '-n', '-w', '1000', '-r', '1', BR], 10_000);
    expect(within(15_000, () => defaultRouters().length === 2)).toBeDefined();
  }, 60_000);

  it('the head in use powered off (radvd killed, link down, no last RA): the route through it stays, but the node reaches beyond through the other head before that route expires', () => {
    // (the first echo after the head came back can be lost while the node resolves its address)
    expect(within(10_000, reachBeyond, 200), 'beyond the link with both heads back').toBeDefined();
    // both routes listed before the power-off (under load the restarted head's route can take a
    // moment to come back: one CI run saw a single route right after the kill)
    expect(within(15_000, () => defaultRouters().length === 2, 200), `both default routes before the power-off: ${inNode(['ip', '-6', 'route']).stdout}`).toBeDefined();
    const used = routerInUse();
    expect(used).toBeGreaterThanOrEqual(0);
    const pid = Number(readFileSync(params(used).pidfile, 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    sh('ip', ['-n', HEADS[used], 'link', 'set', HIF[used]!, 'down']);
    const t0 = Date.now();
    // the dead head's route is still there (no RA withdrew it) ...
    expect(defaultRouters(), `routes right after head ${used + 1} (${ll[used]}) went: ${inNode(['ip', '-6', 'route']).stdout}`).toEqual([...ll].sort());
    // ... yet the node's traffic goes through the survivor, well before the 30 s lifetime runs out
    // How soon depends on the state of N's neighbour entry for the dead head: REACHABLE (confirmed
    // within ReachableTime, 15-45 s on Linux) is trusted until it runs out, then DELAY 5 s and 3
    // probes 1 s apart; seen: 5.9-11.9 s. The bound is the route's remaining lifetime (>= 80 s).
    const t = within(75_000, () => reachBeyond() && routerInUse() === 1 - used, 200);
    const took = Date.now() - t0;
    const stillListed = defaultRouters().length === 2;
    console.log(`radvd router_lifetime>0: head ${used + 1} powered off -> beyond the link again through head ${2 - used} after ${took} ms (kernel neighbour unreachability detection; the dead head's route still listed: ${stillListed})`);
    expect(t, `no path beyond the link 75 s after the power-off: ${inNode(['ip', '-6', 'route']).stdout}${inNode(['ip', '-6', 'neigh']).stdout}`).toBeDefined();
    // not the route's expiry: the dead head's route is still there, the kernel just stopped using it
    expect(stillListed, inNode(['ip', '-6', 'route']).stdout).toBe(true);
    // the survivor's agent still passes its level-10 monitor (its RA unchanged)
    const m = runAgentIn(HEADS[1 - used], agent, 'monitor', params(1 - used), { OCF_RESOURCE_INSTANCE: `dv23-ra-r${2 - used}`, OCF_CHECK_LEVEL: '10', OCF_RESKEY_CRM_meta_interval: '30000' }, 40_000);
    expect(m.code, m.stderr).toBe(0);
    // tidy: the killed head's agent sees its radvd gone
    sh('ip', ['-n', HEADS[used], 'link', 'set', HIF[used]!, 'up']);
  }, 150_000);
});

// The demo (the README's main command, via scripts/demo): bring the lab up with every
// ha-oscar agent that is built, show it, fail over the active head, bring it back, tear down.
import { checkAbort, crmMon, down, exec, powerOn, runChecks, up, waitOnline, waitServices, whereIs, type Say } from './lab';
import { measureFailover, printTimeline } from './failover';
import { LAB_SERVICES } from './services';
import { HEADS, type LabSpec } from './spec';

async function showCluster(spec: LabSpec, say: Say): Promise<void> {
  const m = await crmMon(spec);
  const head = HEADS.find((h) => m.nodes.some((n) => n.name === h && n.online)) ?? 'head1';
  const r = await exec(spec, head, ['crm_mon', '-1', '-r'], { timeoutMs: 15_000 });
  say(r.stdout.trimEnd().split('\n').map((l) => `  | ${l}`).join('\n'));
}

async function showChecks(spec: LabSpec, say: Say): Promise<void> {
  say('from the client (compute node):');
  for (const c of await runChecks(spec)) say(`  ${c.ok ? 'answers  ' : 'NO ANSWER'}  ${c.name}`);
}

export async function demo(spec: LabSpec, say: Say): Promise<number> {
  const h = (t: string): void => say(`\n== ${t}`);
  try {
    h(`1. lab '${spec.name}': two heads + a compute node in namespaces${spec.token ? `, corosync token ${spec.token} ms` : ''}`);
    for (const s of LAB_SERVICES) {
      const why = s.missing(spec);
      say(`  service ${s.id}: ${why ? `left out (${why})` : 'included'}`);
    }
    await up(spec, { say });
    h('2. the cluster (crm_mon)');
    await showCluster(spec, say);
    await showChecks(spec, say);
    checkAbort();
    h('3. power-off of the active head');
    const t = await measureFailover(spec, { say });
    printTimeline(t, say);
    await showChecks(spec, say);
    checkAbort();
    h(`4. power-on of ${t.active}`);
    await powerOn(spec, t.active);
    await waitOnline(spec, HEADS);
    await waitServices(spec);
    const now = await whereIs(spec, 'vip4');
    say(`  ${t.active} rejoined; the services stay on ${now} (resource-stickiness)`);
    await showCluster(spec, say);
    return t.checks.every((c) => c.ms !== undefined) && t.newActive === t.survivor ? 0 : 1;
  } finally {
    h('5. tear down');
    await down(spec.name, { say });
  }
}

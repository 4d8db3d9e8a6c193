// The lab's network: one switch namespace with two bridges (net A, net B), and for each
// node a namespace whose eth0/eth1 are veths created straight into it (the root namespace
// has its own eth0). IPv6 duplicate-address detection is off inside the lab's namespaces,
// so an address (and a VIP moved by IPaddr2) is usable at once instead of ~2 s later.
import { run, runOk } from '../service/run';
import type { LabSpec, NetName, NodeName } from './spec';
import { NET, NETS, addr4, addr6, bridgeOf, ifOf, netnsOf, portOf } from './spec';
import type { LabState } from './state';
import { netnsIno, writeState } from './state';

const T = { timeoutMs: 10_000 };

async function ip(args: string[]): Promise<void> { await runOk('ip', args, T); }
async function inNs(ns: string, cmd: string, args: string[]): Promise<void> {
  await runOk('ip', ['netns', 'exec', ns, cmd, ...args], T);
}

async function noDad(ns: string): Promise<void> {
  for (const k of ['all', 'default']) {
    await inNs(ns, 'sysctl', ['-q', '-w', `net.ipv6.conf.${k}.accept_dad=0`, `net.ipv6.conf.${k}.dad_transmits=0`]);
  }
}

/** Create a named netns, recording it BEFORE creation so teardown finds a half-made one. */
export async function addNetns(spec: LabSpec, st: LabState, ns: string): Promise<void> {
  if (!st.netns.some((n) => n.name === ns)) { st.netns.push({ name: ns }); writeState(spec, st); }
  if (netnsIno(ns) !== undefined) throw new Error(`network namespace ${ns} already exists: is lab '${spec.name}' up? ('ha-oscar lab down --name ${spec.name}')`);
  await ip(['netns', 'add', ns]);
  const rec = st.netns.find((n) => n.name === ns);
  if (rec) rec.ino = netnsIno(ns);
  writeState(spec, st);
  await inNs(ns, 'ip', ['link', 'set', 'lo', 'up']);
}

export async function makeSwitch(spec: LabSpec, st: LabState): Promise<void> {
  const sw = netnsOf(spec.name, 'sw');
  await addNetns(spec, st, sw);
  await noDad(sw);
  for (const net of NETS) {
    const br = bridgeOf(spec.name, net);
    await ip(['-n', sw, 'link', 'add', br, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
    // No multicast snooping: IPv6 neighbour discovery must flood like on a dumb switch.
    await ip(['-n', sw, 'link', 'set', br, 'type', 'bridge', 'mcast_snooping', '0']);
    await ip(['-n', sw, 'link', 'set', br, 'up']);
  }
}

/** A node's namespace and its two cables plugged into the switch ("boot-time" network). */
export async function makeNodeNet(spec: LabSpec, st: LabState, node: NodeName): Promise<void> {
  const ns = netnsOf(spec.name, node);
  const sw = netnsOf(spec.name, 'sw');
  await addNetns(spec, st, ns);
  await noDad(ns);
  for (const net of NETS) {
    const port = portOf(spec.name, node, net);
    const dev = ifOf(net);
    await ip(['link', 'add', port, 'netns', sw, 'type', 'veth', 'peer', 'name', dev, 'netns', ns]);
    await ip(['-n', sw, 'link', 'set', port, 'master', bridgeOf(spec.name, net)]);
    await ip(['-n', sw, 'link', 'set', port, 'up']);
    await ip(['-n', ns, 'addr', 'add', `${addr4(node, net)}/${NET[net].v4len}`, 'dev', dev]);
    await ip(['-n', ns, 'addr', 'add', `${addr6(node, net)}/${NET[net].v6len}`, 'dev', dev, 'nodad']);
    await ip(['-n', ns, 'link', 'set', dev, 'up']);
  }
}

/** Pull a node's cable out of the switch (down) or plug it back in (up). */
export async function setPort(spec: LabSpec, node: NodeName, net: NetName, up: boolean): Promise<void> {
  await ip(['-n', netnsOf(spec.name, 'sw'), 'link', 'set', portOf(spec.name, node, net), up ? 'up' : 'down']);
}

/** Delete a recorded netns (its veths go with it). Missing is fine. */
export async function delNetns(name: string): Promise<string | undefined> {
  if (netnsIno(name) === undefined) return undefined;
  const r = await run('ip', ['netns', 'del', name], T);
  return r.code === 0 ? undefined : `ip netns del ${name}: ${(r.stderr || r.stdout).trim()}`;
}

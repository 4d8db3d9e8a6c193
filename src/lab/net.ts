// The lab's network: one switch namespace with three bridges (net A, net B, management net M),
// and for each node a namespace whose eth0/eth1 (heads also eth2 on M) are veths created
// straight into it (the root namespace has its own eth0). IPv6 duplicate-address detection is off inside the lab's namespaces,
// so an address (and a VIP moved by IPaddr2) is usable at once instead of ~2 s later.
import { run, runOk } from '../service/run';
import type { LabSpec, NetName, NodeName } from './spec';
import { NET, NETS, addr4, addr6, bridgeOf, ifOf, netnsOf, netsOf, portOf } from './spec';
import type { LabState } from './state';
import { netnsIno, writeState } from './state';

const T = { timeoutMs: 30_000 };

async function ip(args: string[]): Promise<void> { await runOk('ip', args, T); }
/** Several ip commands in ONE process (`ip -batch -`): bring-up cost is mostly process starts. */
async function ipBatch(ns: string | undefined, lines: string[][]): Promise<void> {
  await runOk('ip', [...(ns ? ['-n', ns] : []), '-batch', '-'], { ...T, input: lines.map((l) => l.join(' ')).join('\n') + '\n' });
}

async function noDad(ns: string): Promise<void> {
  const keys = ['all', 'default'].flatMap((k) => [`net.ipv6.conf.${k}.accept_dad=0`, `net.ipv6.conf.${k}.dad_transmits=0`]);
  await runOk('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w', ...keys], T);
}

/** Create a named netns, recording it BEFORE creation so teardown finds a half-made one. */
export async function addNetns(spec: LabSpec, st: LabState, ns: string): Promise<void> {
  if (!st.netns.some((n) => n.name === ns)) { st.netns.push({ name: ns }); writeState(spec, st); }
  if (netnsIno(ns) !== undefined) throw new Error(`network namespace ${ns} already exists: is lab '${spec.name}' up? ('ha-oscar lab down --name ${spec.name}')`);
  await ip(['netns', 'add', ns]);
  const rec = st.netns.find((n) => n.name === ns);
  if (rec) rec.ino = netnsIno(ns);
  writeState(spec, st);
}

export async function makeSwitch(spec: LabSpec, st: LabState): Promise<void> {
  const sw = netnsOf(spec.name, 'sw');
  await addNetns(spec, st, sw);
  await noDad(sw);
  const lines: string[][] = [['link', 'set', 'lo', 'up']];
  NETS.forEach((net, i) => {
    const br = bridgeOf(spec.name, net);
    // No STP, no forward delay, no multicast snooping: IPv6 ND floods like on a dumb switch.
    // A fixed MAC: a bridge without one takes the lowest MAC of its ports and changes it when
    // that port goes (a head powered off and on gets new veths), and the lab PDU's addresses
    // live on the bridge itself: the other head's neighbour entry for the PDU then pointed at
    // the old MAC and the PDU did not answer it until ARP re-resolved (seen: a fence device's
    // monitor failing and the cut head not reaching the PDU right after the peer's power-cycle).
    // Locally administered, one per bridge; each lab's switch is its own L2 domain.
    lines.push(['link', 'add', br, 'address', `02:68:61:00:00:${(i + 1).toString(16).padStart(2, '0')}`,
      'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0'], ['link', 'set', br, 'up']);
  });
  await ipBatch(sw, lines);
}

/** A node's namespace and its cables plugged into the switch ("boot-time" network). */
export async function makeNodeNet(spec: LabSpec, st: LabState, node: NodeName): Promise<void> {
  const ns = netnsOf(spec.name, node);
  const sw = netnsOf(spec.name, 'sw');
  await addNetns(spec, st, ns);
  await noDad(ns);
  const root: string[][] = [];
  const swl: string[][] = [];
  const nsl: string[][] = [['link', 'set', 'lo', 'up']];
  for (const net of netsOf(node)) {
    const port = portOf(spec.name, node, net);
    const dev = ifOf(net);
    root.push(['link', 'add', port, 'netns', sw, 'type', 'veth', 'peer', 'name', dev, 'netns', ns]);
    swl.push(['link', 'set', port, 'master', bridgeOf(spec.name, net)], ['link', 'set', port, 'up']);
    nsl.push(['addr', 'add', `${addr4(node, net)}/${NET[net].v4len}`, 'dev', dev],
      ['addr', 'add', `${addr6(node, net)}/${NET[net].v6len}`, 'dev', dev, 'nodad'],
      ['link', 'set', dev, 'up']);
  }
  await ipBatch(undefined, root);
  await ipBatch(sw, swl);
  await ipBatch(ns, nsl);
}

/** Pull a node's cable out of the switch (down) or plug it back in (up). */
export async function setPort(spec: LabSpec, node: NodeName, net: NetName, up: boolean): Promise<void> {
  if (!netsOf(node).includes(net)) throw new Error(`${node} has no cable on net ${net} (the management net M reaches the heads only)`);
  await ip(['-n', netnsOf(spec.name, 'sw'), 'link', 'set', portOf(spec.name, node, net), up ? 'up' : 'down']);
}

/** Delete a recorded netns (its veths go with it). Missing is fine. */
export async function delNetns(name: string): Promise<string | undefined> {
  if (netnsIno(name) === undefined) return undefined;
  const r = await run('ip', ['netns', 'del', name], T);
  return r.code === 0 ? undefined : `ip netns del ${name}: ${(r.stderr || r.stdout).trim()}`;
}

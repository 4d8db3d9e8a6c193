// ha-oscar lab: a real two-head Pacemaker/Corosync cluster and a client in namespaces.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../service/atomic';
import * as lab from '../lab/lab';
import { makeSpec, netsOf, parseNet, parseNode, NODES } from '../lab/spec';

const usage = `usage: ha-oscar lab <command> [--name LAB] [args]   (LAB defaults to 'hao'; needs root)
  up [--token MS] [--config FILE] [--quorum-device]
                                    bring up head1, head2, client; load the VIPs and ha-oscar services;
                                    --quorum-device: corosync-qnetd on net M as the third vote, no fence delay
  qnetd stop|start|status           lose / restore the quorum device's qnetd, or show its view (corosync-qnetd-tool -l)
  status                            crm_mon of the cluster, and which services answer from the client
  exec NODE -- CMD [ARG...]         run a command inside head1, head2 or client
  power-off NODE | power-on NODE    pull the plug (SIGKILL + switch ports down) / boot it again
  cable NODE A|B|M down|up          unplug / plug one of a node's cables (M: heads only)
  down                              tear everything down (only what the lab recorded)
  demo [--token MS]                 up, show, fail over the active head, bring it back, down
  peer [--print]                    switch the running lab to the bare resource-agents peer (src/lab/peer.ts:
                                    IPaddr2, ocf:heartbeat:dhcpd, ocf:heartbeat:anything; the fencing kept);
                                    --print: only print its crm configuration (no lab needed)
  bench [--token MS] [--runs N] [--peer] [--quorum-device]
                                    failover benchmark (npm run bench:failover runs it for 1000 ms and the default);
                                    --peer: the same power-offs against the peer too, side by side;
                                    --quorum-device: and on a lab with the quorum device (no fence delay)
  bench-snmp [--runs N]             ha-oscar's SNMP subagent and pcs-snmp side by side (npm run bench:snmp)
  bench-dhcp                        a PXE boot storm (perfdhcp) against ISC dhcpd and the Kea HA pair,
                                    and across a power-off (npm run bench:dhcp)
  faults [--quick] [--runs N] [--token MS] [--only REGEX]
                                    fault battery under client load; writes docs/faults.md (npm run faults);
                                    --only: just the faults whose name matches (out/faults-only.md)`;

interface Parsed {
  name: string; token?: number; config?: string; runs?: number; quick?: boolean; only?: RegExp; peer?: boolean; print?: boolean;
  quorumDevice?: boolean; rest: string[];
}

function parse(argv: string[]): Parsed {
  const p: Parsed = { name: process.env.HA_OSCAR_LAB ?? 'hao', rest: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') { p.rest.push(...argv.slice(i)); break; }
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--name') p.name = val();
    else if (a === '--token') {
      const v = val();
      if (!/^\d+$/.test(v)) throw new Error(`--token: '${v}' is not a number of milliseconds`);
      p.token = Number(v);
    } else if (a === '--runs') {
      const v = val();
      if (!/^\d+$/.test(v) || Number(v) < 1) throw new Error(`--runs: '${v}' is not a positive number`);
      p.runs = Number(v);
    } else if (a === '--only') {
      const v = val();
      try { p.only = new RegExp(v, 'i'); } catch { throw new Error(`--only: '${v}' is not a regular expression`); }
    } else if (a === '--config') p.config = val();
    else if (a === '--quick') p.quick = true;
    else if (a === '--peer') p.peer = true;
    else if (a === '--print') p.print = true;
    else if (a === '--quorum-device') p.quorumDevice = true;
    else if (a.startsWith('--') && a !== '--help') throw new Error(`unknown option ${a}`);
    else p.rest.push(a);
  }
  return p;
}

/**
 * Run fn; on SIGINT/SIGTERM stop it at its next checkpoint, tear the lab down (only what it
 * recorded), exit 130. A second signal tears down at once and exits.
 */
async function withTeardownOnSignal(name: string, fn: () => Promise<number>): Promise<number> {
  let got: NodeJS.Signals | undefined;
  const onSig = (sig: NodeJS.Signals): void => {
    if (got) {
      void lab.down(name, { say: (l) => console.error(l) }).finally(() => process.exit(130));
      return;
    }
    got = sig;
    console.error(`\n${sig}: tearing lab '${name}' down`);
    lab.abort(sig);
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  try {
    return await fn();
  } catch (e) {
    if (!got) throw e;
    return 130;
  } finally {
    if (got) await lab.down(name, { say: (l) => console.error(l) });
    process.off('SIGINT', onSig);
    process.off('SIGTERM', onSig);
  }
}

/**
 * A measurement on a lab (bench, bench-snmp, faults): run under withTeardownOnSignal, then
 * report (print; its exit code, 0 by default) and write the result as JSON to
 * $HA_OSCAR_BENCH_JSON when that is set.
 */
async function measured<R>(name: string, measure: () => Promise<R>, report: (r: R) => number | void): Promise<number> {
  return withTeardownOnSignal(name, async () => {
    const r = await measure();
    const code = report(r) ?? 0;
    if (process.env.HA_OSCAR_BENCH_JSON) writeFileAtomic(process.env.HA_OSCAR_BENCH_JSON, JSON.stringify(r, null, 2) + '\n', { mkdir: true });
    return code;
  });
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  if (cmd === '_init') {
    const { nodeInit } = await import('../lab/init');
    return nodeInit(args[0] ?? '', args[1] ?? '', args[2] === undefined ? 0 : Number(args[2]));
  }
  if (cmd === '_probe') {
    // Client-side checks done with our own protocol clients (src/probe), run inside the client:
    //   _probe ntp ADDR         one RFC 5905 exchange, sane answer
    //   _probe tftp ADDR FILE   the whole file transferred
    //   _probe dhcp4 VIP FILE   a broadcast DISCOVER on eth0 gets an OFFER from server-id VIP naming FILE
    //   _probe dhcp6 URL        a SOLICIT to ff02::1:2 gets an ADVERTISE carrying boot-file URL
    //   _probe lease4|lease6 [--wait MS] [--timeout MS] MAC[=ADDRESS]...
    //                           a full lease per MAC, in order (see leaseProbe)
    //   _probe ra [all]         a router solicitation on eth0 is answered by an RA with M=1 (all:
    //                           every RA within 1 s of it, e.g. one from each head); a JSON line
    //   _probe pxe6 [--wait MS] MAC
    //                           what PXE firmware does: a router solicitation, then DHCPv6 only once
    //                           an RA with M=1 came (see pxe6Probe)
    //   _probe --wait SECONDS ntp|tftp|dhcp4|dhcp6|ra ...
    //                           the same check, retried in this one process until it passes (the
    //                           failover timeline: a dozen checks each spawning Node every 50 ms
    //                           loaded the 2-core machine the agents were starting on)
    // Exit 0 when the service answered properly, 1 when not; one line either way.
    let waitS = 0;
    let pargs = args;
    if (pargs[0] === '--wait') {
      waitS = Number(pargs[1]);
      if (!Number.isFinite(waitS) || waitS <= 0 || waitS > 600) { console.error(`_probe --wait: want seconds between 0 and 600, got '${pargs[1] ?? ''}'`); return 2; }
      pargs = pargs.slice(2);
    }
    const [what, addr, file] = pargs;
    if (what === 'lease4' || what === 'lease6') return leaseProbe(what === 'lease4' ? 4 : 6, pargs.slice(1));
    if (what === 'pxe6') return pxe6Probe(pargs.slice(1));
    const once = await probeOnce(what, addr, file);
    if (!once) {
      console.error(`usage: ha-oscar lab _probe [--wait SECONDS] ntp ADDRESS | tftp ADDRESS FILE | dhcp4 SERVER-ID BOOTFILE | dhcp6 BOOTFILE-URL | ra [all]\n       ${LEASE_USAGE}\n       ${PXE6_USAGE}`);
      return 2;
    }
    const until = Date.now() + waitS * 1000;
    for (;;) {
      const r = await once();
      if (r.ok || Date.now() >= until) { console.log(r.line); return r.ok ? 0 : 1; }
      await new Promise((res) => setTimeout(res, 100));
    }
  }
  if (cmd === undefined || cmd === 'help' || cmd === '--help' || cmd === '-h') { console.log(usage); return cmd ? 0 : 2; }
  let p: Parsed;
  try { p = parse(args); } catch (e) { console.error(`ha-oscar lab: ${(e as Error).message}\n${usage}`); return 2; }
  const say = (l: string): void => console.log(l);
  switch (cmd) {
    case 'up': {
      if (p.config) readFileSync(p.config); // fail early, with the file's own error
      const spec = makeSpec(p.name, { token: p.token, extraConfig: p.config, quorumDevice: p.quorumDevice });
      say(`bringing up lab '${spec.name}'${spec.token ? ` (token ${spec.token} ms)` : ''}${spec.quorumDevice ? ' with a quorum device' : ''}`);
      return withTeardownOnSignal(spec.name, async () => { await lab.up(spec, { say }); return 0; });
    }
    case 'down': return (await lab.down(p.name, { say })).length ? 1 : 0;
    case 'qnetd': {
      const q = await import('../lab/qdevice');
      const spec = lab.loadSpec(p.name);
      if (!spec.quorumDevice) throw new Error(`lab '${spec.name}' runs without a quorum device (bring it up with --quorum-device)`);
      const what = p.rest[0];
      if (what === 'stop') { await q.stopQnetd(spec); say('corosync-qnetd stopped (the quorum device is lost)'); return 0; }
      if (what === 'start') { await q.startQnetd(spec); say(`corosync-qnetd started on ${q.QNETD_ADDR.v4}`); return 0; }
      if (what === 'status') {
        if (!q.qnetdRunning(spec)) { say('corosync-qnetd is not running'); return 3; }
        const r = await q.qnetdTool(spec, ['-l', '-v']);
        process.stdout.write(r.out);
        return r.code === 0 ? 0 : 1;
      }
      throw new Error(`qnetd: say stop, start or status, not '${what ?? ''}'`);
    }
    case 'status': return status(p.name);
    case 'exec': {
      const node = parseNode(p.rest[0]);
      const cmdv = p.rest[1] === '--' ? p.rest.slice(2) : p.rest.slice(1);
      if (!cmdv.length) throw new Error('exec: give a command after --');
      const r = await lab.exec(p.name, node, cmdv, { timeoutMs: 600_000 });
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      if (r.spawnError) console.error(r.spawnError);
      return r.code < 0 ? 1 : r.code;
    }
    case 'power-off': {
      const node = parseNode(p.rest[0]);
      await lab.powerOff(p.name, node);
      say(`${node} powered off`);
      return 0;
    }
    case 'power-on': {
      const node = parseNode(p.rest[0]);
      await lab.powerOn(p.name, node);
      say(`${node} powered on (booting)`);
      return 0;
    }
    case 'cable': {
      const node = parseNode(p.rest[0]);
      const net = parseNet(p.rest[1]);
      const st = p.rest[2];
      if (!netsOf(node).includes(net)) throw new Error(`${node} has no cable on net ${net} (the management net M reaches the heads only)`);
      if (st !== 'up' && st !== 'down') throw new Error(`cable: say 'up' or 'down', not '${st ?? ''}'`);
      await lab.cable(p.name, node, net, st === 'up');
      say(`${node} cable ${net} ${st}`);
      return 0;
    }
    case 'demo': {
      const { demo } = await import('../lab/demo');
      const spec = makeSpec(p.name, { token: p.token });
      return withTeardownOnSignal(spec.name, () => demo(spec, say));
    }
    case 'peer': {
      const { loadPeer, peerCrm } = await import('../lab/peer');
      if (p.print) { process.stdout.write(peerCrm()); return 0; }
      const spec = lab.loadSpec(p.name);
      say(`switching lab '${spec.name}' to the bare resource-agents peer`);
      await loadPeer(spec, say);
      return 0;
    }
    case 'bench': {
      // Used by scripts/bench-failover.mjs. --runs N (default 10); --peer; --quorum-device; HA_OSCAR_BENCH_JSON=FILE writes the figures.
      const { bench, printBench } = await import('../lab/bench');
      const spec = makeSpec(p.name, { token: p.token });
      return measured(spec.name, () => bench(spec, p.runs ?? 10, say, { peer: p.peer === true, qdevice: p.quorumDevice === true }), (r) => printBench(r, say));
    }
    case 'bench-snmp': {
      // Used by scripts/bench-snmp.mjs: ha-oscar's subagent and pcs-snmp under one snmpd (src/lab/bench-snmp.ts).
      const { benchSnmp, printSnmpBench } = await import('../lab/bench-snmp');
      const spec = makeSpec(p.name, { token: p.token });
      return measured(spec.name, () => benchSnmp(spec, p.runs ?? 9, say), (r) => printSnmpBench(r, say));
    }
    case 'bench-dhcp': {
      // Used by scripts/bench-dhcp.mjs: perfdhcp storms against ISC dhcpd and Kea HA (src/lab/bench-dhcp.ts).
      const { benchDhcp, printDhcpBench } = await import('../lab/bench-dhcp');
      const spec = makeSpec(p.name, { token: p.token });
      return measured(spec.name, () => benchDhcp(spec, say), (r) => printDhcpBench(r, say));
    }
    case 'faults': {
      // Used by scripts/faults.mjs (npm run faults): src/lab/faults.ts; --runs N: power-off rounds (default 20, --quick 1).
      const { faults, faultsMarkdown } = await import('../lab/faults');
      const spec = makeSpec(p.name, { token: p.token });
      return measured(spec.name, () => faults(spec, { quick: p.quick === true, rounds: p.runs, say, only: p.only }), (r) => {
        const md = faultsMarkdown(r);
        const to = p.only ? join('out', 'faults-only.md') : join('docs', 'faults.md'); // a subset never overwrites the table
        writeFileAtomic(join(spec.repo, to), md, { mkdir: true });
        say(`\n${md}\nwritten to ${to}; wall time ${r.wallS} s`);
        return r.rows.some((x) => x.failures.length) ? 1 : 0;
      });
    }
    default:
      console.error(`ha-oscar lab: unknown command '${cmd}'\n${usage}`);
      return 2;
  }
}

async function status(name: string): Promise<number> {
  const spec = lab.loadSpec(name);
  for (const n of NODES) console.log(`${n}: ${lab.isPoweredOn(spec, n) ? 'on' : 'OFF'}`);
  const head = (['head1', 'head2'] as const).find((h) => lab.isPoweredOn(spec, h));
  if (head) {
    const r = await lab.exec(spec, head, ['crm_mon', '-1', '-r'], { timeoutMs: 15_000 });
    console.log(r.stdout.trimEnd());
    if (spec.quorumDevice) {
      // the quorum device as this head's votequorum sees it (src/pacemaker/corosync.ts)
      const { parseQuorumtool } = await import('../pacemaker/corosync');
      const q = parseQuorumtool((await lab.exec(spec, head, ['corosync-quorumtool', '-s'], { timeoutMs: 10_000 })).stdout);
      console.log(`quorum device (seen from ${head}): ${q.device}; ${q.totalVotes} votes; ${q.quorate ? 'quorate' : 'NOT quorate'}`);
    }
  }
  if (lab.isPoweredOn(spec, 'client')) {
    console.log('from the client:');
    for (const c of await lab.runChecks(spec)) console.log(`  ${c.ok ? 'answers  ' : 'NO ANSWER'} ${c.name}`);
  }
  return 0;
}

/** One try of a `_probe` check (ntp, tftp, dhcp4, dhcp6), or undefined for a bad command line. */
async function probeOnce(what: string | undefined, addr: string | undefined, file: string | undefined): Promise<(() => Promise<{ ok: boolean; line: string }>) | undefined> {
  if (what === 'ntp' && addr) {
    const { ntpQuery } = await import('../probe/ntp');
    return async () => {
      const r = await ntpQuery(addr, 123, { timeoutMs: 1000 });
      return { ok: r.ok, line: r.ok ? `ntp ${addr}: stratum ${r.reply?.stratum} offset ${r.reply?.offset.toFixed(4)} s (${r.ms} ms)` : `ntp ${addr}: ${r.error ?? 'no answer'}` };
    };
  }
  if (what === 'tftp' && addr && file) {
    const { tftpGet } = await import('../probe/tftp');
    return async () => {
      const r = await tftpGet(addr, file, { timeoutMs: 1500 });
      const ok = r.ok && (r.data?.length ?? 0) > 0;
      return { ok, line: ok ? `tftp ${addr} ${file}: ${r.data!.length} bytes` : `tftp ${addr} ${file}: ${r.error ?? 'empty file'}` };
    };
  }
  if (what === 'dhcp4' && addr && file) {
    const { run } = await import('../service/run');
    const { dhcpDiscover, macFor } = await import('../probe/dhcp');
    return async () => {
      // Linux has no route for 255.255.255.255 on a node without a default route (ENETUNREACH).
      const rt = await run('ip', ['route', 'replace', '255.255.255.255/32', 'dev', 'eth0'], { timeoutMs: 5_000 });
      if (rt.code !== 0) return { ok: false, line: `dhcp4: ip route replace failed: ${rt.stderr.trim()}` };
      const r = await dhcpDiscover({ family: 4, iface: 'eth0', mac: macFor('lab-client-v4'), timeoutMs: 1500, retransmitMs: 300 });
      const ok = r.ok && r.serverId === addr && r.bootFile === file;
      return { ok, line: ok ? `dhcp4: ${r.answer} ${r.address} from ${r.serverId}, file ${r.bootFile} (${r.ms} ms)`
        : `dhcp4: ${r.ok ? `server ${r.serverId} file ${r.bootFile ?? '(none)'}, want ${addr} ${file}` : r.error ?? 'no answer'}` };
    };
  }
  if (what === 'dhcp6' && addr) {
    // addr is the boot-file URL the ADVERTISE must carry
    const { dhcpDiscover, macFor } = await import('../probe/dhcp');
    return async () => {
      const r = await dhcpDiscover({ family: 6, iface: 'eth0', mac: macFor('lab-client-v6'), timeoutMs: 1500, retransmitMs: 300 });
      const ok = r.ok && r.bootFile === addr;
      return { ok, line: ok ? `dhcp6: ${r.answer} ${r.address} from ${r.from}, boot file ${r.bootFile} (${r.ms} ms)`
        : `dhcp6: ${r.ok ? `boot file ${r.bootFile ?? '(none)'}, want ${addr}` : r.error ?? 'no answer'}` };
    };
  }
  if (what === 'ra' && (addr === undefined || addr === 'all')) {
    const { solicit } = await import('../probe/ra');
    return async () => {
      // all: every RA answering within 1 s of the solicitation; else the first (rdisc6 -1)
      const r = await solicit('eth0', { waitMs: 1000, all: addr === 'all' });
      const ok = r.adverts.length > 0 && r.adverts.every((a) => a.managed);
      return { ok, line: JSON.stringify({ ok, ms: r.ms, adverts: r.adverts, error: r.adverts.length ? (ok ? undefined : 'an RA with M=0') : r.error }) };
    };
  }
  return undefined;
}

const PXE6_USAGE = 'ha-oscar lab _probe pxe6 [--wait MS] MAC';

/**
 * `_probe pxe6 [--wait MS] MAC`, run inside the client: what PXE firmware does on eth0 (a router
 * solicitation, up to 3, 1 s each; DHCPv6 only once an RA with M=1 came), src/probe/pxe6.ts.
 * --wait: retry the DHCPv6 exchange until MS after the solicitation. One JSON line (Pxe6Result
 * and the mac); exit 0 when the client got its address, 1 when not, 2 on bad arguments.
 */
async function pxe6Probe(argv: string[]): Promise<number> {
  let waitMs = 0;
  let mac: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--wait') {
      const v = argv[++i];
      if (v === undefined || !/^\d{1,7}$/.test(v)) { console.error(`--wait needs a number of milliseconds\nusage: ${PXE6_USAGE}`); return 2; }
      waitMs = Number(v);
    } else if (mac === undefined && /^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(a)) mac = a.toLowerCase();
    else { console.error(`bad argument '${a}'\nusage: ${PXE6_USAGE}`); return 2; }
  }
  if (!mac) { console.error(`no MAC given\nusage: ${PXE6_USAGE}`); return 2; }
  const { pxe6 } = await import('../probe/pxe6');
  const r = await pxe6({ iface: 'eth0', mac, waitMs });
  console.log(JSON.stringify({ mac, ...r }));
  return r.ok ? 0 : 1;
}

const LEASE_USAGE = 'ha-oscar lab _probe lease4|lease6 [--wait MS] [--timeout MS] MAC[=ADDRESS] [MAC[=ADDRESS]...]';

/** One line of `_probe lease4|lease6`: the lease a MAC got, or why it got none. */
export interface LeaseLine {
  mac: string;
  family: 4 | 6;
  ok: boolean;
  /** The address asked for (option 50 / IAADDR hint), when the argument named one. */
  requested?: string;
  address?: string;
  /** v4: option 54 (an address); v6: the server's DUID in hex. */
  serverId?: string;
  /** Source address of the server's final answer (ACK / REPLY). */
  from?: string;
  leaseTime?: number;
  bootFile?: string;
  error?: string;
  /** Attempts made (more than 1 only with --wait). */
  attempts: number;
  /** Time of the successful exchange (ms), of the last attempt when none succeeded. */
  ms: number;
  /** When the lease was granted (or the last attempt failed): epoch ms, the host's clock (the lab shares it). */
  at: number;
}

/**
 * `_probe lease4|lease6 [--wait MS] [--timeout MS] MAC[=ADDRESS]...`, run inside the client:
 * a full lease (DISCOVER/OFFER/REQUEST/ACK, SOLICIT/ADVERTISE/REQUEST/REPLY on eth0) for
 * each MAC, one after the other in the order given; MAC=ADDRESS asks for that address
 * (option 50, IAADDR hint). One JSON line per MAC (LeaseLine). --timeout: the budget of one
 * exchange (default 4000 ms); --wait: retry each MAC until it gets a lease or MS have passed
 * since the probe started (default: one attempt), so that the time of the first lease after
 * a failover is known to the retry interval (`at`), not to a process start.
 * Exit 0 only when every MAC got a lease; 1 when one did not; 2 on bad arguments.
 */
async function leaseProbe(family: 4 | 6, argv: string[]): Promise<number> {
  const { isIP } = await import('node:net');
  const t0 = Date.now();
  let waitMs = 0;
  let timeoutMs = 4000;
  const wanted: { mac: string; requested?: string }[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--wait' || a === '--timeout') {
      const v = argv[++i];
      if (v === undefined || !/^\d{1,7}$/.test(v)) { console.error(`${a} needs a number of milliseconds\nusage: ${LEASE_USAGE}`); return 2; }
      if (a === '--wait') waitMs = Number(v); else timeoutMs = Math.max(100, Number(v));
      continue;
    }
    const [mac, requested, extra] = a.split('=');
    if (extra !== undefined || !mac || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac) || (requested !== undefined && isIP(requested) !== family)) {
      console.error(`bad argument '${a}': give MAC or MAC=IPv${family}-ADDRESS\nusage: ${LEASE_USAGE}`);
      return 2;
    }
    wanted.push({ mac: mac.toLowerCase(), requested });
  }
  if (wanted.length === 0) { console.error(`no MAC given\nusage: ${LEASE_USAGE}`); return 2; }
  if (family === 4) {
    // as in the dhcp4 probe: no route for 255.255.255.255 without a default route (ENETUNREACH)
    const { run } = await import('../service/run');
    const rt = await run('ip', ['route', 'replace', '255.255.255.255/32', 'dev', 'eth0'], { timeoutMs: 5_000 });
    if (rt.code !== 0) {
      for (const w of wanted) console.log(JSON.stringify({ mac: w.mac, family, ok: false, requested: w.requested, error: `ip route replace failed: ${rt.stderr.trim()}`, attempts: 0, ms: 0, at: Date.now() } satisfies LeaseLine));
      return 1;
    }
  }
  const { dhcpLease } = await import('../probe/dhcp');
  let allOk = true;
  for (const w of wanted) {
    let attempts = 0;
    let line: LeaseLine;
    for (;;) {
      attempts++;
      const r = await dhcpLease({ family, iface: 'eth0', mac: w.mac, requestAddress: w.requested, timeoutMs, retransmitMs: 500 });
      const at = Date.now();
      if (r.ok && r.address !== undefined) {
        line = { mac: w.mac, family, ok: true, requested: w.requested, address: r.address, serverId: r.serverId, from: r.from, leaseTime: r.leaseTime, bootFile: r.bootFile, attempts, ms: r.ms, at };
        break;
      }
      line = { mac: w.mac, family, ok: false, requested: w.requested, error: r.error ?? 'no address in the answer', attempts, ms: r.ms, at };
      if (Date.now() - t0 >= waitMs) break;
      await new Promise((res) => setTimeout(res, 200));
    }
    console.log(JSON.stringify(line));
    if (!line.ok) allOk = false;
  }
  return allOk ? 0 : 1;
}

// Runnable lab PDU: `node pdu.cjs <config.yaml|json>`.
//
// The config holds the secrets (communities, v3 keys), so it is a file (keep it 0600),
// never argv. Example:
//   port: 16161
//   addresses: ["127.0.0.1", "::1"]
//   communities: ["private"]
//   users: [{ name: fencer, authProtocol: sha, authKey: "...", privProtocol: aes, privKey: "..." }]
//   outlets: [head1, head2]
//   stateDir: /run/ha-oscar-lab/pdu      # optional: one file per outlet, "on" or "off"
//   hook: /usr/lib/ha-oscar/lab-power    # optional: run as `hook off|on <outlet> <name>`
//   hookTimeoutMs: 30000
//   lab: hao        # optional, instead of hook: outlets named head1/head2 are that lab's
//                   # heads, switched with the lab's powerOff/powerOn (src/lab/lab.ts) in
//                   # this process, their state read from the lab's records
//   bootDelayMs: 10000  # with lab: a head switched on waits this long before starting its
//                   # cluster stack, as a real server's firmware and boot do
//
// It prints one JSON line per event on stdout (the PDU's log), starting with
// {"event":"listening",...}, and exits cleanly on SIGTERM/SIGINT.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { run, describeFailure } from '../../service/run.js';
import { writeFileAtomic } from '../../service/atomic.js';
import { startPdu, type PduOutlet, type PduV3User } from './pdu.js';
import { isPoweredOn, powerOff, powerOn } from '../lab';
import { parseNode } from '../spec';

interface PduConfig {
  port: number;
  addresses?: string[];
  communities?: string[];
  users?: PduV3User[];
  outlets: string[];
  initiallyOff?: string[];
  stateDir?: string;
  hook?: string;
  hookTimeoutMs?: number;
  rebootDelayMs?: number;
  lab?: string;
  bootDelayMs?: number;
}

export function loadConfig(path: string): PduConfig {
  let raw: unknown;
  try { raw = parse(readFileSync(path, 'utf8')); } catch (e) {
    throw new Error(`cannot read PDU config ${path}: ${(e as Error).message.split('\n')[0]}`);
  }
  const c = raw as PduConfig;
  if (!c || typeof c !== 'object') throw new Error(`PDU config ${path}: not a mapping`);
  if (!Number.isInteger(c.port) || c.port < 1 || c.port > 65535) throw new Error(`PDU config ${path}: port must be 1..65535`);
  if (!Array.isArray(c.outlets) || c.outlets.length === 0 || !c.outlets.every((x) => typeof x === 'string' && x)) {
    throw new Error(`PDU config ${path}: outlets must be a non-empty list of names`);
  }
  return c;
}

async function main(): Promise<void> {
  const path = process.argv[2];
  if (!path) throw new Error('usage: lab-pdu <config.yaml>');
  const c = loadConfig(path);
  const say = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);
  const writeState = (x: PduOutlet, on: boolean) => {
    if (c.stateDir) writeFileAtomic(join(c.stateDir, x.name), on ? 'on\n' : 'off\n', { mkdir: true });
  };
  const lab = c.lab;
  const hook = async (what: 'on' | 'off', x: PduOutlet) => {
    if (lab) {
      const node = parseNode(x.name);
      if (what === 'off') await powerOff(lab, node);
      else if (!isPoweredOn(lab, node)) await powerOn(lab, node, { bootDelayMs: c.bootDelayMs });
    } else if (c.hook) {
      const r = await run(c.hook, [what, String(x.index), x.name], { timeoutMs: c.hookTimeoutMs ?? 30_000 });
      if (r.code !== 0) throw new Error(describeFailure(c.hook, r));
    }
    writeState(x, what === 'on');
  };
  const pdu = await startPdu({
    port: c.port,
    addresses: c.addresses ?? ['127.0.0.1'],
    communities: c.communities,
    users: c.users,
    outlets: c.outlets,
    initiallyOff: c.initiallyOff,
    rebootDelayMs: c.rebootDelayMs,
    actual: lab ? (x) => isPoweredOn(lab, parseNode(x.name)) : undefined,
    hooks: { powerOff: (x) => hook('off', x), powerOn: (x) => hook('on', x) },
    onEvent: (e) => say(e),
  });
  for (const x of pdu.outlets()) writeState(x, x.on);
  say({ event: 'listening', port: c.port, addresses: c.addresses ?? ['127.0.0.1'], outlets: c.outlets, pid: process.pid });
  const stop = () => { pdu.close().finally(() => { say({ event: 'stopped' }); process.exit(0); }); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  process.stderr.write(`lab-pdu: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});

// fence_haoscar, SNMP backend, for real: the bundled agent (a child process, as
// Pacemaker runs it) drives the lab PDU (net-snmp agent, APC rPDU MIB) on 127.0.0.1
// and ::1, SNMP v2c and v3; and the stock fence_apc_snmp drives the same lab PDU,
// which proves the PDU speaks the MIB real APC units speak.
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { createSocket } from 'node:dgram';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { run } from '../../src/service/run.js';
import { writeFileAtomic } from '../../src/service/atomic.js';
import { startPdu, type Pdu, type PduOutlet } from '../../src/lab/pdu/pdu.js';
import { describeWith } from '../helpers/prereq.js';

const root = resolve(__dirname, '../..');

/** A UDP port free on both 127.0.0.1 and ::1. */
async function freeUdpPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const ok = await Promise.all(['udp4', 'udp6'].map((t) => new Promise<boolean>((res) => {
      const s = createSocket(t as 'udp4' | 'udp6');
      s.once('error', () => { s.close(); res(false); });
      s.bind(port, t === 'udp4' ? '127.0.0.1' : '::1', () => { s.close(() => res(true)); });
    })));
    if (ok.every(Boolean)) return port;
  }
  throw new Error('no free UDP port');
}

let dir: string;
let agentBin: string;
let port: number;
let pdu: Pdu;
const calls: string[] = [];
const failOff = new Set<string>();

const COMM = 'lab-rw-Comm7';
const V3 = { name: 'fencer', authKey: 'auth-Key-8841', privKey: 'priv-Key-2290' };

async function fence(stdin: string, argv: string[] = []) {
  const t0 = Date.now();
  const r = await run(agentBin, argv, { input: argv.length ? undefined : stdin, timeoutMs: 60_000 });
  return { ...r, ms: Date.now() - t0 };
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'dv8-snmp-'));
  agentBin = join(dir, 'fence_haoscar');
  const build = await import(join(root, 'scripts/build.mjs'));
  await build.bundle(join(root, 'agents/fence_haoscar.ts'), agentBin);
  port = await freeUdpPort();
  pdu = await startPdu({
    port,
    addresses: ['127.0.0.1', '::1'],
    communities: [COMM],
    users: [
      { name: V3.name, authProtocol: 'sha', authKey: V3.authKey, privProtocol: 'aes', privKey: V3.privKey },
      { name: 'md5user', level: 'authNoPriv', authProtocol: 'md5', authKey: 'md5-Auth-7781' },
    ],
    outlets: ['head1', 'head2', 'spare'],
    rebootDelayMs: 200,
    hooks: {
      async powerOff(x: PduOutlet) {
        calls.push(`off:${x.name}`);
        if (failOff.has(x.name)) throw new Error(`cannot cut ${x.name}`);
        await new Promise((r) => setTimeout(r, 150)); // a real relay is not instantaneous
      },
      powerOn(x: PduOutlet) { calls.push(`on:${x.name}`); },
    },
  });
});

afterAll(async () => {
  await pdu?.close();
  if (dir) rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
});

beforeEach(() => { calls.length = 0; failOff.clear(); });

const state = (name: string) => pdu.outlets().find((o) => o.name === name)?.on;
const v2 = () => `ip=127.0.0.1\nipport=${port}\ncommunity=${COMM}\n`;
const v2six = () => `ip=::1\nipport=${port}\ncommunity=${COMM}\n`;
const v3 = () => `ip=::1\nipport=${port}\nsnmp_version=3\nusername=${V3.name}\npassword=${V3.authKey}\nsnmp_priv_passwd=${V3.privKey}\nsnmp_auth_prot=SHA\nsnmp_priv_prot=AES\n`;

describe('fence_haoscar SNMP v2c against the lab PDU (127.0.0.1)', () => {
  it('status, off (verified), status, on, by outlet number', async () => {
    let r = await fence(`${v2()}action=status\nplug=2\n`);
    expect(r.stdout).toBe('Status: ON\n');
    expect(r.code).toBe(0);

    r = await fence(`${v2()}action=off\nplug=2\n`);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('Success: Powered OFF\n');
    expect(r.code).toBe(0);
    expect(state('head2')).toBe(false);
    expect(calls).toEqual(['off:head2']);

    r = await fence(`${v2()}action=status\nplug=2\n`);
    expect(r.stdout).toBe('Status: OFF\n');
    expect(r.code).toBe(2);

    r = await fence(`${v2()}action=on\nplug=2\n`);
    expect(r.code).toBe(0);
    expect(state('head2')).toBe(true);
    expect(calls).toEqual(['off:head2', 'on:head2']);
  });

  it('reboot by outlet name via pcmk_host_map and nodename (as Pacemaker passes it)', async () => {
    const r = await fence(`${v2()}action=reboot\nnodename=node-b\npcmk_host_map=node-a:head1;node-b:head2\n`);
    expect(r.stdout).toBe('Success: Rebooted\n');
    expect(r.code).toBe(0);
    expect(calls).toEqual(['off:head2', 'on:head2']);
    const ev = pdu.events().filter((e) => e.name === 'head2').map((e) => e.event);
    expect(ev.slice(-4)).toEqual(['off', 'now-off', 'on', 'now-on']);
  });

  it('list and list-status walk the outlet names', async () => {
    let r = await fence(`${v2()}action=list\n`);
    expect(r.stdout).toBe('1,head1\n2,head2\n3,spare\n');
    r = await fence(`${v2()}action=list-status\n`);
    expect(r.stdout).toBe('1,head1,ON\n2,head2,ON\n3,spare,ON\n');
    r = await fence(`${v2()}action=monitor\n`);
    expect(r.code).toBe(0);
  });

  it('getopt mode works the same', async () => {
    const r = await fence('', ['-a', '127.0.0.1', '-u', String(port), '-c', COMM, '-n', 'spare', '-o', 'status']);
    expect(r.stdout).toBe('Status: ON\n');
    expect(r.code).toBe(0);
  });

  it('two fencers at once: the same outlet is cut once (hook called once); different outlets both go off', async () => {
    const [a, b] = await Promise.all([fence(`${v2()}action=off\nplug=head2\n`), fence(`${v2six()}action=off\nplug=2\n`)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(calls).toEqual(['off:head2']);
    expect(state('head2')).toBe(false);
    calls.length = 0;
    const [c, d] = await Promise.all([fence(`${v2()}action=off\nplug=head1\n`), fence(`${v3()}action=on\nplug=head2\n`)]);
    expect([c.code, d.code]).toEqual([0, 0]);
    expect(calls.sort()).toEqual(['off:head1', 'on:head2']);
    expect([state('head1'), state('head2')]).toEqual([false, true]);
    await pdu.switchOutlet('head1', 'on');
  });

  it('an outlet number the PDU does not have: exit 1, "plug is not available"', async () => {
    const r = await fence(`${v2()}action=off\nplug=9\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Unable to obtain correct plug status or plug is not available: NoSuchInstance');
    expect(calls).toEqual([]);
  });

  it('several plugs at once (plug_separator): all switched and verified', async () => {
    let r = await fence(`${v2()}action=off\nplug=head1,spare\n`);
    expect(r.code).toBe(0);
    expect([state('head1'), state('spare'), state('head2')]).toEqual([false, false, true]);
    r = await fence(`${v2()}action=status\nplug=1,3\n`);
    expect(r.stdout).toBe('Status: OFF\n');
    r = await fence(`${v2()}action=on\nplug=1:3\nplug_separator=:\n`);
    expect(r.code).toBe(0);
    expect([state('head1'), state('spare')]).toEqual([true, true]);
    expect(calls.sort()).toEqual(['off:head1', 'off:spare', 'on:head1', 'on:spare']);
  });

  it('an unknown outlet name is a clear failure', async () => {
    const r = await fence(`${v2()}action=off\nplug=nosuch\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("no outlet named 'nosuch'");
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it('an outlet that does not go off (hook fails): failure after power_timeout, never a false success', async () => {
    failOff.add('spare');
    const r = await fence(`${v2()}action=off\nplug=3\npower_timeout=2\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Failed: Timed out waiting to power OFF');
    expect(state('spare')).toBe(true);
    expect(r.ms).toBeGreaterThanOrEqual(1900);
    expect(r.ms).toBeLessThan(9000); // 2 s power_timeout + process start-up on a loaded machine
    expect(pdu.events().some((e) => e.name === 'spare' && e.event === 'failed')).toBe(true);
  });

  it('generic outlet table mode (OIDs given as parameters)', async () => {
    const g = 'snmp_mib=generic\nsnmp_status_oid=.1.3.6.1.4.1.318.1.1.12.3.5.1.1.4\nsnmp_control_oid=.1.3.6.1.4.1.318.1.1.12.3.3.1.1.4\nsnmp_name_oid=.1.3.6.1.4.1.318.1.1.12.3.5.1.1.2\nsnmp_state_on=1\nsnmp_state_off=2\nsnmp_cmd_on=1\nsnmp_cmd_off=2\n';
    let r = await fence(`${v2()}${g}action=off\nplug=head1\n`);
    expect(r.code).toBe(0);
    expect(state('head1')).toBe(false);
    r = await fence(`${v2()}${g}action=on\nplug=1\n`);
    expect(r.code).toBe(0);
    expect(state('head1')).toBe(true);
    // Wrong values for "on": the agent must not believe a state it cannot read.
    r = await fence(`${v2()}${g.replace('snmp_state_on=1', 'snmp_state_on=7')}action=status\nplug=1\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('reports state 1');
  });
});

describe('fence_haoscar SNMP over IPv6 (::1), v2c and v3', () => {
  it('v2c over ::1', async () => {
    const r = await fence(`${v2six()}action=off\nplug=head1\n`);
    expect(r.code).toBe(0);
    expect(state('head1')).toBe(false);
    const s = await fence(`${v2six()}action=on\nplug=head1\n`);
    expect(s.code).toBe(0);
  });

  it('v3 authPriv (SHA/AES) reboot', async () => {
    const r = await fence(`${v3()}action=reboot\nplug=head2\n`);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(calls).toEqual(['off:head2', 'on:head2']);
  });

  it('v3 authNoPriv (MD5) and SNMP v1 work too', async () => {
    const a = await fence(`ip=::1\nipport=${port}\nsnmp_version=3\nusername=md5user\npassword=md5-Auth-7781\nsnmp_auth_prot=MD5\naction=status\nplug=head1\n`);
    expect(a.stderr).toBe('');
    expect(a.stdout).toBe('Status: ON\n');
    const b = await fence(`ip=127.0.0.1\nipport=${port}\ncommunity=${COMM}\nsnmp_version=1\naction=list\n`);
    expect(b.stdout).toBe('1,head1\n2,head2\n3,spare\n');
  });

  it('v3 with a wrong privacy key fails (no answer), within the timeout', async () => {
    const r = await fence(`${v3().replace(V3.privKey, 'wrong-priv-key')}action=status\nplug=head2\nlogin_timeout=1\n`);
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(7000); // 1 s login_timeout (+1 retry) + start-up under load
  });

  it('v3 without password: exit 1, "You have to set login password", no traffic', async () => {
    const before = pdu.events().length;
    const r = await fence(`ip=::1\nipport=${port}\nsnmp_version=3\nusername=${V3.name}\nsnmp_sec_level=authNoPriv\naction=off\nplug=1\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Failed: You have to set login password');
    expect(pdu.events().length).toBe(before);
  });
});

describe('bad input and unreachable devices: exit code and no hang', () => {
  it('unreachable PDU (loopback port with nothing listening): exit 1, "Connection timed out", bounded by login_timeout', async () => {
    const dead = await freeUdpPort();
    const r = await fence(`ip=127.0.0.1\nipport=${dead}\ncommunity=x\naction=off\nplug=1\nlogin_timeout=1\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Connection timed out');
    expect(r.ms).toBeLessThan(7000); // 1 s login_timeout (+1 retry) + start-up under load
  });

  it('wrong community: the PDU drops it; exit 1 within the timeout', async () => {
    const r = await fence(`ip=127.0.0.1\nipport=${port}\ncommunity=not-it\naction=status\nplug=1\nlogin_timeout=1\n`);
    expect(r.code).toBe(1);
    expect(r.ms).toBeLessThan(7000); // 1 s login_timeout (+1 retry) + start-up under load
  });

  it('unknown action: exit 1, no device contacted', async () => {
    const before = pdu.events().length;
    const r = await fence(`${v2()}action=fry\nplug=1\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("Unrecognised action 'fry'");
    expect(pdu.events().length).toBe(before);
  });

  it('secrets (community, v3 keys) never appear in output or debug file at verbose level', async () => {
    const dbg = join(dir, 'debug-snmp.log');
    const a = await fence(`${v2()}action=reboot\nplug=spare\nverbose=1\ndebug_file=${dbg}\n`);
    const b = await fence(`${v3()}action=status\nplug=spare\nverbose=1\ndebug_file=${dbg}2\n`);
    expect(a.code).toBe(0);
    expect(b.code).toBe(0);
    const all = a.stdout + a.stderr + b.stdout + b.stderr + readFileSync(dbg, 'utf8') + readFileSync(`${dbg}2`, 'utf8');
    expect(all).toContain('DEBUG:');
    for (const s of [COMM, V3.authKey, V3.privKey]) expect(all).not.toContain(s);
  });
});

describeWith({ bins: ['fence_apc_snmp', 'snmpget'], packages: ['fence-agents', 'snmp'] }, 'the stock fence_apc_snmp drives the lab PDU', () => {
  it('status/off/on through the APC rPDU OIDs', async () => {
    const args = ['-a', '127.0.0.1', '-u', String(port), '-c', COMM, '-d', '2c', '-n', '3'];
    let r = await run('fence_apc_snmp', [...args, '-o', 'status'], { timeoutMs: 60_000 });
    expect(r.stdout).toContain('Status: ON');
    r = await run('fence_apc_snmp', [...args, '-o', 'off'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(state('spare')).toBe(false);
    r = await run('fence_apc_snmp', [...args, '-o', 'on'], { timeoutMs: 60_000 });
    expect(r.code).toBe(0);
    expect(state('spare')).toBe(true);
  }, 120_000);
});

describe('lab PDU as its own process (runnable entry)', () => {
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child?.pid && child.exitCode === null) {
      process.kill(child.pid, 'SIGTERM');
      await new Promise((r) => { const t = setTimeout(r, 3000); child?.once('exit', () => { clearTimeout(t); r(null); }); });
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    }
  });

  it('starts from a config file, switches outlets, writes state files, logs JSON events, stops on SIGTERM', async () => {
    const build = await import(join(root, 'scripts/build.mjs'));
    const bin = join(dir, 'lab-pdu.cjs');
    await build.bundle(join(root, 'src/lab/pdu/main.ts'), bin);
    const p2 = await freeUdpPort();
    const cfg = join(dir, 'pdu.yaml');
    const states = join(dir, 'states');
    writeFileAtomic(cfg, `port: ${p2}\naddresses: ["127.0.0.1"]\ncommunities: ["${COMM}"]\noutlets: [alpha, beta]\nstateDir: ${states}\n`, { mode: 0o600 });
    child = spawn(process.execPath, [bin, cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d) => { out += d; });
    const t0 = Date.now();
    while (!out.includes('"listening"') && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain('"listening"');
    expect(readFileSync(join(states, 'beta'), 'utf8')).toBe('on\n');

    const r = await fence(`ip=127.0.0.1\nipport=${p2}\ncommunity=${COMM}\naction=off\nplug=beta\n`);
    expect(r.code).toBe(0);
    expect(readFileSync(join(states, 'beta'), 'utf8')).toBe('off\n');
    expect(out).toMatch(/"outlet":2,"name":"beta","event":"now-off"/);

    process.kill(child.pid as number, 'SIGTERM');
    await new Promise((res) => child?.once('exit', res));
    expect(child.exitCode).toBe(0);
    expect(existsSync(cfg)).toBe(true);
  });

  it('a bad config is a one-line error, exit 1', async () => {
    const bin = join(dir, 'lab-pdu.cjs');
    const cfg = join(dir, 'bad.yaml');
    writeFileAtomic(cfg, 'port: 99999\noutlets: []\n');
    const r = await run(process.execPath, [bin, cfg], { timeoutMs: 10_000 });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('port must be 1..65535');
  });
});

describeWith({ bins: ['snmpget', 'snmpset', 'snmpwalk'], packages: ['snmp'] }, 'the lab PDU seen with the net-snmp CLI tools', () => {
  const cli = (tool: string, args: string[]) => run(tool, ['-v2c', '-c', COMM, '-On', '-t', '2', '-r', '0', `127.0.0.1:${port}`, ...args], { timeoutMs: 15_000 });

  it('answers sysObjectID as an APC rPDU and walks both outlet tables', async () => {
    const r = await cli('snmpget', ['.1.3.6.1.2.1.1.2.0', '.1.3.6.1.4.1.318.1.1.12.3.1.4.0']);
    expect(r.stdout).toContain('.1.3.6.1.2.1.1.2.0 = OID: .1.3.6.1.4.1.318.1.3.4.5');
    expect(r.stdout).toContain('.1.3.6.1.4.1.318.1.1.12.3.1.4.0 = INTEGER: 3');
    const w = await cli('snmpwalk', ['.1.3.6.1.4.1.318.1.1.12.3.5.1.1.2']);
    expect(w.stdout).toContain('.1.3.6.1.4.1.318.1.1.12.3.5.1.1.2.2 = STRING: "head2"');
  });

  it('immediateOff over snmpset switches the outlet once (one hook call), status follows', async () => {
    const r = await cli('snmpset', ['.1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.3', 'i', '2']);
    expect(r.code).toBe(0);
    const t0 = Date.now();
    while (state('spare') !== false && Date.now() - t0 < 3000) await new Promise((res) => setTimeout(res, 50));
    expect(state('spare')).toBe(false);
    expect(calls).toEqual(['off:spare']);
    const g = await cli('snmpget', ['.1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.3']);
    expect(g.stdout).toContain('= INTEGER: 2');
    await pdu.switchOutlet('spare', 'on');
    expect(state('spare')).toBe(true);
  });

  it('refuses a command value outside the MIB and a read-only column', async () => {
    const bad = await cli('snmpset', ['.1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.1', 'i', '9']);
    expect(bad.code).not.toBe(0);
    const ro = await cli('snmpset', ['.1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.1', 'i', '2']);
    expect(ro.code).not.toBe(0);
    expect(state('head1')).toBe(true);
    expect(calls).toEqual([]);
  });
});

// ocf:ha-oscar:snmpd for real: Net-SNMP snmpd on 127.0.0.1 and ::1, driven through dist/ocf/snmpd.
import { it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync } from '../helpers/sync';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { distOcf, runAgent, tempDir } from '../helpers/agents';
import { describeWith } from '../helpers/prereq';

const agent = join(distOcf, 'snmpd');
let dir: string;
let port = 0;
const base = () => ({ listen: '127.0.0.1 ::1', port: String(port), state_dir: join(dir, 'state'), pidfile: join(dir, 'snmpd.pid') });
const monitor10 = { OCF_CHECK_LEVEL: '10', OCF_RESKEY_CRM_meta_interval: '30000' };

function pidOf(): number { return Number(readFileSync(join(dir, 'snmpd.pid'), 'utf8').trim()); }

beforeAll(() => {
  dir = tempDir('snmpd');
  port = 20000 + Math.floor(Math.random() * 20000);
});
afterAll(() => {
  runAgent(agent, 'stop', base());
  rmSync(dir, { recursive: true, force: true });
});

describeWith({ bins: ['snmpd', 'snmpget', 'ocf-tester', 'xmllint'], root: true, packages: ['snmpd', 'snmp', 'resource-agents', 'libxml2-utils'] }, 'ocf:ha-oscar:snmpd', () => {
  it('passes ocf-tester with snmpd on 127.0.0.1 and ::1', () => {
    const args = ['-n', 'snmpd-test'];
    for (const [k, v] of Object.entries(base())) args.push('-o', `${k}=${v}`);
    const r = spawnSync('ocf-tester', [...args, agent], { encoding: 'utf8', timeout: 180_000 });
    expect(r.stdout + r.stderr).toContain('passed all tests');
    expect(r.status).toBe(0);
  }, 200_000); // ocf-tester runs ~20 actions: 20-80 s on a loaded box (the spawnSync allows 180 s)

  it('start answers SNMP on both families; the level-10 monitor GETs sysUpTime.0 from each address', () => {
    expect(runAgent(agent, 'start', base()).code).toBe(0);
    for (const host of ['udp:127.0.0.1', 'udp6:[::1]']) {
      const r = spawnSync('snmpget', ['-v2c', '-c', 'public', '-On', '-t', '2', '-r', '1', `${host}:${port}`, '1.3.6.1.2.1.1.3.0'], { encoding: 'utf8' });
      expect(r.stdout).toMatch(/^\.1\.3\.6\.1\.2\.1\.1\.3\.0 = Timeticks:/);
    }
    expect(runAgent(agent, 'monitor', base(), monitor10).code).toBe(0);
    const conf = join(dir, 'state', 'snmpd.conf');
    expect(statSync(conf).mode & 0o777).toBe(0o600); // holds the community
  });

  it('a hung snmpd (SIGSTOP) passes level 0 but fails level 10 with a reason naming the address', () => {
    const pid = pidOf();
    process.kill(pid, 'SIGSTOP');
    try {
      expect(runAgent(agent, 'monitor', base(), { OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(0);
      const r = runAgent(agent, 'monitor', base(), monitor10);
      expect(r.code).toBe(1);
      expect(r.reasons[0]).toMatch(/^no SNMP answer from (127\.0\.0\.1|\[::1\]):\d+/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    expect(runAgent(agent, 'monitor', base(), monitor10).code).toBe(0);
  });

  it('a crashed snmpd is "not running" (7), its stale pidfile is ignored, and start recovers', () => {
    const pid = pidOf();
    process.kill(pid, 'SIGKILL');
    spawnSync('sleep', ['0.3']);
    expect(runAgent(agent, 'monitor', base(), { OCF_RESKEY_CRM_meta_interval: '10000' }).code).toBe(7);
    expect(runAgent(agent, 'stop', base()).code).toBe(0);
    expect(existsSync(join(dir, 'snmpd.pid'))).toBe(false);
    expect(runAgent(agent, 'start', base()).code).toBe(0);
    expect(pidOf()).not.toBe(pid);
  });

  it('a pidfile naming a reused PID (another program) does not count as running, and stop leaves that process alone', () => {
    expect(runAgent(agent, 'stop', base()).code).toBe(0);
    const other = spawnSync('sh', ['-c', 'sleep 30 >/dev/null 2>&1 & echo $!'], { encoding: 'utf8' });
    const otherPid = Number(other.stdout.trim());
    try {
      writeFileSync(join(dir, 'snmpd.pid'), `${otherPid}\n`);
      expect(runAgent(agent, 'monitor', base(), { OCF_RESKEY_CRM_meta_interval: '0' }).code).toBe(7);
      expect(runAgent(agent, 'stop', base()).code).toBe(0);
      expect(() => process.kill(otherPid, 0)).not.toThrow();
    } finally {
      try { process.kill(otherPid, 'SIGKILL'); } catch { /* gone */ }
    }
  });

  it('serves an SNMPv3 user (authPriv) whose passphrases come from files, never argv', () => {
    const auth = join(dir, 'auth.key');
    const priv = join(dir, 'priv.key');
    writeFileSync(auth, 'auth-Passphrase-1\n', { mode: 0o600 });
    writeFileSync(priv, 'priv-Passphrase-2\n', { mode: 0o600 });
    const v3 = { ...base(), state_dir: join(dir, 'state-v3'), v3_user: 'haoscar', v3_auth_file: auth, v3_priv_file: priv };
    expect(runAgent(agent, 'start', v3).code).toBe(0);
    try {
      const cmd = readFileSync(`/proc/${pidOf()}/cmdline`, 'utf8');
      expect(cmd).not.toContain('Passphrase');
      expect(runAgent(agent, 'monitor', v3, monitor10).code).toBe(0);
      const r = spawnSync('snmpget', ['-v3', '-l', 'authPriv', '-u', 'haoscar', '-a', 'SHA', '-A', 'auth-Passphrase-1', '-x', 'AES', '-X', 'priv-Passphrase-2', '-On', `udp6:[::1]:${port}`, '1.3.6.1.2.1.1.3.0'], { encoding: 'utf8' });
      expect(r.stdout).toContain('Timeticks');
      // v2c is off when only a v3 user is configured
      const v2 = spawnSync('snmpget', ['-v2c', '-c', 'public', '-t', '1', '-r', '0', `udp:127.0.0.1:${port}`, '1.3.6.1.2.1.1.3.0'], { encoding: 'utf8' });
      expect(v2.stdout + v2.stderr).toMatch(/Timeout/);
    } finally {
      expect(runAgent(agent, 'stop', v3).code).toBe(0);
    }
  });

  // Issue 7, finding 3: the subagent is not root; it is in group haclient.
  it('as AgentX master: agentXPerms 0660 0770 root haclient, a haclient member connects, others do not; trap2sink per trap_sink', () => {
    const gid = (name: string): number | undefined => readFileSync('/etc/group', 'utf8').split('\n').map((l) => l.split(':')).find((f) => f[0] === name)?.[2] as unknown as number;
    const haclient = Number(gid('haclient'));
    if (!Number.isInteger(haclient)) return; // no pacemaker here: nothing to check against
    const top = mkdtempSync(join(tmpdir(), 'dv7-agentx-'));
    chmodSync(top, 0o755);
    const sock = join(top, 'ax', 'master'); // snmpd makes ax/ (agentXPerms' directory mode)
    const ax = { ...base(), state_dir: join(dir, 'state-ax'), agentx_socket: sock, trap_sink: 'udp:127.0.0.1:1162, udp6:[::1] 192.0.2.9' };
    expect(runAgent(agent, 'stop', base()).code).toBe(0);
    const r = runAgent(agent, 'start', ax);
    expect(r.code, r.stderr).toBe(0);
    try {
      const conf = readFileSync(join(dir, 'state-ax', 'snmpd.conf'), 'utf8');
      expect(conf).toContain('\nmaster agentx\n');
      expect(conf).toContain('\nagentXPerms 0660 0770 root haclient\n');
      expect(conf).toContain('\ntrap2sink udp:127.0.0.1:1162 public\ntrap2sink udp6:[::1]:162 public\ntrap2sink udp:192.0.2.9:162 public\n');
      const s = statSync(sock);
      expect([s.mode & 0o777, s.gid]).toEqual([0o660, haclient]);
      const d = statSync(join(top, 'ax'));
      expect([d.mode & 0o777, d.gid]).toEqual([0o770, haclient]);
      // connect as nobody: in group haclient it may, in nogroup it may not
      const connect = (g: number) => spawnSync(process.execPath, ['-e', `require('net').connect(${JSON.stringify(sock)}).on('connect', () => process.exit(0)).on('error', (e) => { console.log(e.code); process.exit(1); })`], { uid: 65534, gid: g, encoding: 'utf8', timeout: 20_000 });
      const member = connect(haclient);
      expect(member.status, member.stdout + member.stderr).toBe(0);
      const outsider = connect(65534);
      expect(outsider.status).toBe(1);
      expect(outsider.stdout.trim()).toBe('EACCES');
    } finally {
      expect(runAgent(agent, 'stop', ax).code).toBe(0);
      rmSync(top, { recursive: true, force: true });
    }
    // an unknown group and a bad trap receiver are refused before snmpd starts
    const g = runAgent(agent, 'validate-all', { ...ax, agentx_group: 'no-such-group-dv7' });
    expect([g.code, g.reasons]).toEqual([5, ['agentx_group no-such-group-dv7 does not exist on this node (is pacemaker installed?)']]);
    const t = runAgent(agent, 'validate-all', { ...ax, trap_sink: 'tcp:192.0.2.5:162' });
    expect(t.code).toBe(6);
    expect(t.reasons[0]).toMatch(/trap_sink.*"tcp:192\.0\.2\.5:162" is not one/);
  });

  it('refuses a broken setup with a clear reason: missing config file, v3 without key files', () => {
    const r1 = runAgent(agent, 'validate-all', { ...base(), config: '/nonexistent/snmpd.conf' });
    expect(r1.code).toBe(6);
    expect(r1.reasons).toEqual(['config file /nonexistent/snmpd.conf does not exist or is not readable']);
    const r2 = runAgent(agent, 'start', { ...base(), v3_user: 'x1' });
    expect(r2.code).toBe(6);
    expect(r2.reasons).toEqual(['v3_user needs v3_auth_file and v3_priv_file']);
  });

  it('start fails with snmpd\'s own words when the port is taken, and leaves nothing running', () => {
    const a = { ...base(), listen: '127.0.0.1', state_dir: join(dir, 'a'), pidfile: join(dir, 'a.pid') };
    const b = { ...a, state_dir: join(dir, 'b'), pidfile: join(dir, 'b.pid') };
    expect(runAgent(agent, 'start', a).code).toBe(0);
    try {
      const r = runAgent(agent, 'start', b, { OCF_RESKEY_CRM_meta_timeout: '8000' });
      expect(r.code).toBe(1);
      expect(r.reasons[0]).toMatch(/start failed: snmpd exit code \d+ during start.*(Address already in use|Error opening specified endpoint)/);
      expect(existsSync(join(dir, 'b.pid'))).toBe(false);
    } finally {
      runAgent(agent, 'stop', a);
    }
  });
});

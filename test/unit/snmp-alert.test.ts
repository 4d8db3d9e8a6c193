// alert_haoscar: Pacemaker alert environment -> HA-OSCAR-MIB notifications, sent with snmptrap
// to a real snmptrapd on loopback (IPv4 and IPv6), or queued for the subagent (AgentX).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, symlinkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notificationsFor, MOVE_WINDOW_S, TRAPS, VARS, type RecordedService } from '../../agents/alert_haoscar';
import { TRAP, NOTIFY } from '../../src/snmp/mib-def';
import { HaOscarAgent } from '../../src/snmp/subagent';
import { FAILOVER_RECORD_MODE } from '../../src/snmp/paths';
import { run } from '../../src/service/run';
import { describeWith, which } from '../helpers/prereq';
import { SnmpLab, waitFor, MIB_DIRS, COMMUNITY, repo } from '../fixtures/snmp/harness';

const fresh = () => ({ services: {}, links: {}, raid: {} }) as any;
const startEnv = (rsc: string, node: string) => ({ CRM_alert_kind: 'resource', CRM_alert_node: node, CRM_alert_rsc: rsc, CRM_alert_task: 'start', CRM_alert_rc: '0', CRM_alert_target_rc: '0', CRM_alert_status: '0' });

describe('alert -> notification mapping', () => {
  it('uses the MIB\'s OIDs', () => {
    // every notification of the MIB, except the quorum device's: the subagent raises those (--notify)
    expect(TRAPS).toEqual(Object.fromEntries(Object.entries(TRAP).filter(([k]) => !k.startsWith('quorumDevice'))));
    expect(VARS).toEqual(NOTIFY);
  });

  it('node lost and joined', () => {
    const st = fresh();
    expect(notificationsFor({ CRM_alert_kind: 'node', CRM_alert_node: 'head1', CRM_alert_nodeid: '1', CRM_alert_desc: 'lost' }, st, () => undefined))
      .toEqual([{ trap: 'nodeLost', varbinds: [{ oid: VARS.node, type: 's', value: 'head1' }, { oid: VARS.detail, type: 's', value: 'node head1 (id 1) lost' }] }]);
    expect(notificationsFor({ CRM_alert_kind: 'node', CRM_alert_node: 'head1', CRM_alert_desc: 'member' }, st, () => undefined)[0].trap).toBe('nodeJoined');
    expect(notificationsFor({ CRM_alert_kind: 'fencing', CRM_alert_node: 'head1', CRM_alert_desc: 'Operation reboot' }, st, () => undefined)).toEqual([]);
  });

  it('a failed operation, and a failover reported once per service', () => {
    const st = fresh();
    const failed = notificationsFor({ CRM_alert_kind: 'resource', CRM_alert_node: 'head1', CRM_alert_rsc: 'dhcpd', CRM_alert_task: 'monitor', CRM_alert_rc: '7', CRM_alert_target_rc: '0', CRM_alert_status: '0', CRM_alert_desc: 'not running' }, st, () => undefined);
    expect(failed).toEqual([{ trap: 'resourceFailed', varbinds: [{ oid: VARS.resource, type: 's', value: 'dhcpd' }, { oid: VARS.node, type: 's', value: 'head1' }, { oid: VARS.detail, type: 's', value: 'monitor failed: not running' }] }]);
    // no record (failover_record=/dev/null): the state's own memory, as on a shared state_dir
    const start = (rsc: string, node: string) => notificationsFor(startEnv(rsc, node), st, () => undefined);
    expect(start('dhcpd', 'head1')).toEqual([]); // first time seen: nothing to compare with
    const f = start('vip-dhcp', 'head2');
    expect(f.map((n) => n.trap)).toEqual(['failover']);
    expect(f[0].varbinds.map((v) => v.value)).toEqual(['dhcp', 'vip-dhcp', 'head1', 'head2']);
    expect(start('dhcpd', 'head2')).toEqual([]); // same service, same node: already reported
    expect(start('tftpd', 'head2')).toEqual([]); // first time seen: nothing to compare with
    expect(start('fence-head1', 'head1')).toEqual([]); // not a service
    expect(start('tftpd', 'head1').map((n) => n.trap)).toEqual(['failover']);
  });

  // Issue 7, finding 1: the survivor's alert state is per node and has never seen the service
  // on the dead head; its subagent's record has, and may or may not have seen the new start yet.
  describe('failover from the subagent\'s record, per-node state', () => {
    const NOW = 1_000_000;
    const before: RecordedService = { node: 'head1', failovers: 2, last: NOW - 5000 }; // the subagent has not seen the start yet
    const after: RecordedService = { node: 'head2', failovers: 3, last: NOW - 1, from: 'head1' }; // it has
    const start = (st: any, rsc: string, node: string, rec: RecordedService | undefined, now = NOW) =>
      notificationsFor(startEnv(rsc, node), st, (svc) => (svc === 'dhcp' ? rec : undefined), now).map((n) => n.varbinds.map((v) => v.value).join(' '));

    it('the alert before the subagent saw the start: once, from the record\'s node', () => {
      const st = fresh();
      expect(start(st, 'dhcpd4', 'head2', before)).toEqual(['dhcp dhcpd4 head1 head2']);
      expect(start(st, 'dhcpd6', 'head2', before)).toEqual([]); // the service's second resource
      expect(start(st, 'dhcpd6', 'head2', after)).toEqual([]); // the subagent caught up meanwhile
    });

    it('the alert after the subagent saw the start (the race the old code lost): once, from the record\'s previous node', () => {
      const st = fresh();
      expect(start(st, 'dhcpd4', 'head2', after)).toEqual(['dhcp dhcpd4 head1 head2']);
      expect(start(st, 'dhcpd6', 'head2', after)).toEqual([]);
    });

    it('a stale state of this node (the service was here before it moved away and back) does not hide the move', () => {
      const st = fresh();
      st.services.dhcp = { node: 'head2', moves: 1 };
      expect(start(st, 'dhcpd4', 'head2', after)).toEqual(['dhcp dhcpd4 head1 head2']);
      const st2 = fresh();
      st2.services.dhcp = 'head2'; // the single-sink format: the node only
      expect(start(st2, 'dhcpd4', 'head2', before)).toEqual(['dhcp dhcpd4 head1 head2']);
    });

    it('a first start and a restart in place are not failovers', () => {
      const st = fresh();
      expect(start(st, 'dhcpd4', 'head2', undefined)).toEqual([]); // the subagent never saw the service
      expect(start(st, 'dhcpd4', 'head2', { node: 'head2', failovers: 0, last: 0 })).toEqual([]); // it saw this start, no move
      // a failover, then restarts in place: once
      const st2 = fresh();
      expect(start(st2, 'dhcpd4', 'head2', after)).toHaveLength(1);
      expect(start(st2, 'dhcpd4', 'head2', after, NOW + 86_400)).toEqual([]);
      // a restart long after a move this node's state never heard of (fresh state_dir): the
      // event's own time (Pacemaker's CRM_alert_timestamp_epoch) against the move's
      expect(start(fresh(), 'dhcpd4', 'head2', after, NOW + 4 * MOVE_WINDOW_S + 10)).toEqual([]);
      const restart = { ...startEnv('dhcpd4', 'head2'), CRM_alert_timestamp_epoch: String(NOW + MOVE_WINDOW_S + 10) };
      expect(notificationsFor(restart, fresh(), () => after, NOW + 5)).toEqual([]);
      const moved = { ...startEnv('dhcpd4', 'head2'), CRM_alert_timestamp_epoch: String(NOW - 2) }; // run late, under load
      expect(notificationsFor(moved, fresh(), () => after, NOW + 3600)).toHaveLength(1);
    });

    it('moved away and back: each move once', () => {
      const st = fresh();
      expect(start(st, 'dhcpd4', 'head2', after)).toHaveLength(1);
      const away: RecordedService = { node: 'head1', failovers: 4, last: NOW + 10, from: 'head2' };
      expect(start(st, 'dhcpd4', 'head2', away, NOW + 20)).toEqual(['dhcp dhcpd4 head1 head2']);
      expect(start(st, 'dhcpd4', 'head2', { node: 'head2', failovers: 5, last: NOW + 21, from: 'head1' }, NOW + 30)).toEqual([]);
    });
  });
  it('link down/up from linkmon\'s value and per-link items; RAID going bad once', () => {
    const st = fresh();
    const link = (v: string) => notificationsFor({ CRM_alert_kind: 'attribute', CRM_alert_node: 'head2', CRM_alert_attribute_name: 'ha-oscar-link', CRM_alert_attribute_value: v }, st, () => undefined);
    expect(link('2')).toEqual([]);
    expect(link('0')).toEqual([{ trap: 'linkDown', varbinds: [{ oid: VARS.node, type: 's', value: 'head2' }, { oid: VARS.link, type: 'u', value: '99' }] }]);
    expect(link('0')).toEqual([]);
    expect(link('1').map((n) => n.trap)).toEqual(['linkUp']);
    expect(link('0:up,1:down').map((n) => n.trap + n.varbinds[1].value)).toEqual(['linkDown1']);
    const raid = (name: string, v: string) => notificationsFor({ CRM_alert_kind: 'attribute', CRM_alert_node: 'head1', CRM_alert_attribute_name: name, CRM_alert_attribute_value: v }, st, () => undefined);
    expect(raid('ha-oscar-raid-md0', 'active raid1 [2/2] [UU]')).toEqual([]);
    const d = raid('ha-oscar-raid-md0', 'active raid1 [2/1] [U_]');
    expect(d.map((n) => n.trap)).toEqual(['raidDegraded']);
    expect(d[0].varbinds[1]).toEqual({ oid: VARS.raidArray, type: 's', value: 'md0' });
    expect(raid('ha-oscar-raid-md0', 'active raid1 [2/1] [U_] recovery')).toEqual([]);
    expect(raid('#health-ha-oscar-raid', 'yellow').map((n) => n.trap)).toEqual(['raidDegraded']);
  });
});

describeWith({ bins: ['snmptrap', 'snmptrapd', 'snmpd', 'snmptranslate'], packages: ['snmp', 'snmptrapd', 'snmpd'] }, 'alert_haoscar bundle against snmptrapd', () => {
  const lab = new SnmpLab();
  const dir = mkdtempSync(join(tmpdir(), 'dv7-alert-'));
  let bin = '';
  const conf = join(dir, 'conf');
  const spool = join(dir, 'spool');
  let agent: HaOscarAgent;

  beforeAll(async () => {
    await lab.start({ traps: true });
    const { bundle } = await import(join(repo, 'scripts', 'build.mjs'));
    bin = await bundle(join(repo, 'agents', 'alert_haoscar.ts'), join(dir, 'alert_haoscar'));
    mkdirSync(conf);
    writeFileSync(join(conf, 'snmp.conf'), `defVersion 2c\ndefCommunity ${COMMUNITY}\n`);
    mkdirSync(spool);
    mkdirSync(join(dir, 'run'));
  });
  afterAll(async () => {
    await agent?.stop();
    await lab.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const base = () => ({ state_dir: join(dir, 'state'), failover_record: join(dir, 'none.json'), snmp_conf_dir: conf, refresh_file: join(dir, 'run', 'refresh'), PATH: process.env.PATH ?? '' });

  it('the OIDs it sends are HA-OSCAR-MIB\'s notifications', async () => {
    for (const [name, oid] of Object.entries({ haOscarNodeLost: TRAPS.nodeLost, haOscarFailover: TRAPS.failover, haOscarRaidDegradedEvent: TRAPS.raidDegraded, haOscarNotifyLink: VARS.link.replace(/\.0$/, '') })) {
      const r = await run('snmptranslate', ['-M', MIB_DIRS, '-m', 'HA-OSCAR-MIB', '-On', `HA-OSCAR-MIB::${name}`], { env: { SNMPCONFPATH: '/nonexistent-dv7' } });
      expect(r.stdout.trim()).toBe(`.${oid}`);
    }
  });

  for (const [label, host] of [['IPv4', '127.0.0.1'], ['IPv6', 'udp6:[::1]']]) {
    it(`sends node lost with snmptrap over ${label} and pokes the subagent's refresh file`, async () => {
      const r = await run(bin, [], { cleanEnv: true, env: { ...base(), CRM_alert_kind: 'node', CRM_alert_node: `head-${label}`, CRM_alert_nodeid: '1', CRM_alert_desc: 'lost', CRM_alert_recipient: `${host}:${lab.trapPort}` } });
      expect(r.code, r.stderr).toBe(0);
      const trap = await waitFor('trap', async () => lab.traps().find((t) => t.includes(`head-${label}`)), 10_000);
      expect(trap).toContain(`.1.3.6.1.6.3.1.1.4.1.0 = OID: .${TRAPS.nodeLost}`);
      expect(trap).toContain(`.${VARS.detail} = STRING: "node head-${label} (id 1) lost"`);
      // The alert touched the refresh file the subagent watches.
      expect(readFileSync(join(dir, 'run', 'refresh'), 'utf8')).toMatch(/^\d+\n$/);
    });
  }

  it('passes the community in a config file, never argv', async () => {
    const spy = join(dir, 'spy-snmptrap');
    writeFileSync(spy, `#!${process.execPath}\nrequire('fs').writeFileSync(${JSON.stringify(join(dir, 'spy.json'))}, JSON.stringify({ argv: process.argv.slice(2), conf: require('fs').readFileSync(process.env.SNMPCONFPATH + '/snmp.conf', 'utf8') }));\n`);
    chmodSync(spy, 0o755);
    const r = await run(bin, [], { cleanEnv: true, env: { ...base(), snmptrap_bin: spy, CRM_alert_kind: 'node', CRM_alert_node: 'h', CRM_alert_desc: 'member', CRM_alert_recipient: '127.0.0.1:9' } });
    expect(r.code, r.stderr).toBe(0);
    const got = JSON.parse(readFileSync(join(dir, 'spy.json'), 'utf8'));
    expect(got.argv.join(' ')).not.toContain(COMMUNITY);
    expect(got.argv).toContain(`${TRAPS.nodeJoined}`);
    expect(got.conf).toContain(`defCommunity ${COMMUNITY}`);
  });

  it('bad input: a clear one-line reason, exit 1', async () => {
    const noRecipient = await run(bin, [], { cleanEnv: true, env: { ...base(), CRM_alert_kind: 'node', CRM_alert_node: 'h', CRM_alert_desc: 'lost' } });
    expect(noRecipient.code).toBe(1);
    expect(noRecipient.stderr).toMatch(/^alert_haoscar: no recipient: [^\n]+\n$/);
    const notPcmk = await run(bin, [], { cleanEnv: true, env: { ...base() } });
    expect(notPcmk.code).toBe(1);
    expect(notPcmk.stderr).toBe('alert_haoscar: CRM_alert_kind is not set: this is a Pacemaker alert agent\n');
    const badTransport = await run(bin, [], { cleanEnv: true, env: { ...base(), transport: 'carrier-pigeon', CRM_alert_kind: 'node' } });
    expect(badTransport.stderr).toBe('alert_haoscar: transport must be snmptrap, subagent or refresh, not "carrier-pigeon"\n');
  });

  it('transport=refresh is done by the file\'s sh prologue, without node; anything it cannot do safely goes to node', async () => {
    // a PATH with mv and rm only: had the prologue run `exec node`, the alert would fail (127)
    const noNode = join(dir, 'bin-no-node');
    mkdirSync(noNode, { recursive: true });
    for (const b of ['mv', 'rm']) if (!existsSync(join(noNode, b))) symlinkSync(which(b)!, join(noNode, b));
    const refresh = join(dir, 'run', 'refresh-sh');
    const env = { refresh_file: refresh, transport: 'refresh', CRM_alert_kind: 'resource', CRM_alert_node: 'head1', PATH: noNode };
    const r = await run(bin, [], { cleanEnv: true, env });
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(refresh).mode & 0o777).toBe(0o664);
    expect(readFileSync(refresh, 'utf8')).toMatch(/^\d{1,7}\n$/); // sh writes its PID (node: a 13-digit ms time)
    expect(readdirSync(join(dir, 'run')).filter((f) => f.includes('.tmp-'))).toEqual([]);
    // the trigger's directory missing: nothing written, still 0 (as the Node path)
    const gone = await run(bin, [], { cleanEnv: true, env: { ...env, refresh_file: join(dir, 'no-such-dir', 'refresh') } });
    expect(gone.code, gone.stderr).toBe(0);
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false);
    // not for sh: a path with a space, or no CRM_alert_kind -> node (missing here: 127)
    expect((await run(bin, [], { cleanEnv: true, env: { ...env, refresh_file: join(dir, 'run', 'a b') } })).code).toBe(127);
    expect((await run(bin, [], { cleanEnv: true, env: { ...env, CRM_alert_kind: '' } })).code).toBe(127);
    // ... and node, when there, does the same job
    const viaNode = await run(bin, [], { cleanEnv: true, env: { ...env, refresh_file: join(dir, 'run', 'a b'), PATH: process.env.PATH ?? '' } });
    expect(viaNode.code, viaNode.stderr).toBe(0);
    expect(readFileSync(join(dir, 'run', 'a b'), 'utf8')).toMatch(/^\d{13}\n$/);
  });

  it('transport=refresh: no recipient needed, nothing sent or spooled, no state; only the refresh file is touched', async () => {
    const refresh = join(dir, 'run', 'refresh');
    rmSync(refresh, { force: true });
    const before = lab.traps().length;
    const spooled = readdirSync(spool).length;
    const r = await run(bin, [], { cleanEnv: true, env: { ...base(), state_dir: join(dir, 'state-refresh'), transport: 'refresh', CRM_alert_kind: 'node', CRM_alert_node: 'head-r', CRM_alert_nodeid: '1', CRM_alert_desc: 'lost' } });
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(refresh, 'utf8')).toMatch(/^\d+\n$/);
    expect(existsSync(join(dir, 'state-refresh'))).toBe(false);
    expect(readdirSync(spool).length).toBe(spooled);
    await new Promise((res) => setTimeout(res, 500));
    expect(lab.traps().length).toBe(before);
  });

  it('per-node state_dir, two recipients: the record the real subagent writes gives each recipient each failover once, whichever comes first', async () => {
    const fx = (p: string) => readFileSync(join(repo, 'test', 'fixtures', p), 'utf8');
    let mon = 'crm_mon/two-heads.xml';
    const ok = (stdout: string) => ({ code: 0, stdout, stderr: '', timedOut: false });
    let epoch = 1;
    const rec = join(dir, 'rec', 'failovers.json');
    const sub = new HaOscarAgent({
      master: join(dir, 'no-master'), stateFile: rec, localNode: 'head2', log: () => {},
      runner: async (cmd, args) => cmd === 'crm_mon' ? ok(fx(mon)) : cmd === 'cibadmin' ? ok(args.includes('--no-children') ? `<cib epoch="${epoch}"/>` : fx('crm_mon/cib-config.xml')) : { code: 1, stdout: '', stderr: 'no', timedOut: false },
    });
    await sub.refresh(true); // both heads, the services on head1
    expect(JSON.parse(readFileSync(rec, 'utf8')).services.dhcp).toMatchObject({ node: 'head1' });
    expect(statSync(rec).mode & 0o777).toBe(FAILOVER_RECORD_MODE);
    const spy = join(dir, 'spy-log-snmptrap');
    const log = join(dir, 'spy-log.jsonl');
    writeFileSync(spy, `#!${process.execPath}\nrequire('fs').appendFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(2)) + '\\n');\n`);
    chmodSync(spy, 0o755);
    const state = join(dir, 'head2-state'); // this node's own: it never saw a start on head1
    const startOn2 = async (rsc: string) => {
      for (const to of ['127.0.0.1:9', 'udp6:[::1]:9']) {
        const r = await run(bin, [], { cleanEnv: true, env: { ...base(), state_dir: state, failover_record: rec, snmptrap_bin: spy, CRM_alert_recipient: to, ...startEnv(rsc, 'head2') } });
        expect(r.code, r.stderr).toBe(0);
      }
    };
    mon = 'crm_mon/head1-lost.xml'; epoch = 2;
    await startOn2('dhcpd'); // before the subagent saw it: the record still says head1
    await sub.refresh(true); // now it has: dhcp, tftp, ntp, nfs on head2, from head1
    expect(JSON.parse(readFileSync(rec, 'utf8')).services.tftp).toMatchObject({ node: 'head2', from: 'head1', failovers: 1 });
    await startOn2('vip-dhcp'); // the same move: nothing
    await startOn2('tftpd'); // after the subagent saw it
    await startOn2('tftpd'); // restarted in place
    await startOn2('chrony'); // ntp
    const sent = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as string[]);
    const fo = sent.filter((a) => a.includes(TRAPS.failover)).map((a) => `${a[a.indexOf(TRAPS.failover) - 2]} ${a.filter((_, i) => i > a.indexOf(TRAPS.failover) && (i - a.indexOf(TRAPS.failover)) % 3 === 0).join(' ')}`);
    expect(fo.sort()).toEqual([
      '127.0.0.1:9 dhcp dhcpd head1 head2', '127.0.0.1:9 ntp chrony head1 head2', '127.0.0.1:9 tftp tftpd head1 head2',
      'udp6:[::1]:9 dhcp dhcpd head1 head2', 'udp6:[::1]:9 ntp chrony head1 head2', 'udp6:[::1]:9 tftp tftpd head1 head2',
    ]);
  });

  it('snmptrap failed or killed after the state was saved: the notification waits in the outbox and the sink\'s next alert sends it first, once', async () => {
    const state = join(dir, 'outbox-state');
    const log = join(dir, 'outbox-log.jsonl');
    const spy = join(dir, 'flaky-snmptrap');
    // fails while the file "down" exists (snmptrap killed on Pacemaker's alert timeout, or an error)
    writeFileSync(spy, `#!${process.execPath}\nconst fs = require('fs');\nif (fs.existsSync(${JSON.stringify(join(dir, 'down'))})) { console.error('Timeout'); process.exit(1); }\nfs.appendFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(2)) + '\\n');\n`);
    chmodSync(spy, 0o755);
    const env = (extra: Record<string, string>) => ({ ...base(), state_dir: state, snmptrap_bin: spy, CRM_alert_recipient: '127.0.0.1:9', ...extra });
    writeFileSync(join(dir, 'down'), '');
    const lost = await run(bin, [], { cleanEnv: true, env: env({ CRM_alert_kind: 'node', CRM_alert_node: 'head1', CRM_alert_nodeid: '1', CRM_alert_desc: 'lost' }) });
    expect(lost.code).toBe(1);
    expect(lost.stderr).toMatch(/^alert_haoscar: snmptrap[^\n]*\n$/);
    rmSync(join(dir, 'down'));
    // another recipient's outbox is its own: nothing of head1 there
    const other = await run(bin, [], { cleanEnv: true, env: env({ CRM_alert_recipient: '127.0.0.1:10', CRM_alert_kind: 'node', CRM_alert_node: 'x', CRM_alert_desc: 'nothing' }) });
    expect(other.code, other.stderr).toBe(0);
    expect(existsSync(log)).toBe(false);
    const joined = await run(bin, [], { cleanEnv: true, env: env({ CRM_alert_kind: 'node', CRM_alert_node: 'head1', CRM_alert_nodeid: '1', CRM_alert_desc: 'member' }) });
    expect(joined.code, joined.stderr).toBe(0);
    const sent = readFileSync(log, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as string[]).find((a) => a.startsWith(`${TRAPS.nodeLost.slice(0, -1)}`)));
    expect(sent).toEqual([TRAPS.nodeLost, TRAPS.nodeJoined]); // the left-over first, each once
    const again = await run(bin, [], { cleanEnv: true, env: env({ CRM_alert_kind: 'node', CRM_alert_node: 'h', CRM_alert_desc: 'other' }) });
    expect(again.code).toBe(0);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('transport=subagent: queued, then sent by the subagent through snmpd\'s AgentX master', async () => {
    const ok = (stdout: string) => ({ code: 0, stdout, stderr: '', timedOut: false });
    const fx = (p: string) => readFileSync(join(repo, 'test', 'fixtures', p), 'utf8');
    agent = new HaOscarAgent({
      master: lab.agentx, spoolDir: spool, pollMs: 200, localNode: 'head2', log: () => {},
      runner: async (cmd, args) => cmd === 'crm_mon' ? ok(fx('crm_mon/two-heads.xml')) : cmd === 'cibadmin' ? ok(args.includes('--no-children') ? '<cib epoch="1"/>' : fx('crm_mon/cib-config.xml')) : { code: 1, stdout: '', stderr: 'no', timedOut: false },
    });
    await agent.start();
    await waitFor('registration', async () => agent.subagent.connected, 10_000);
    const r = await run(bin, [], { cleanEnv: true, env: { ...base(), transport: 'subagent', spool_dir: spool, CRM_alert_kind: 'attribute', CRM_alert_node: 'head2', CRM_alert_attribute_name: 'ha-oscar-raid-md3', CRM_alert_attribute_value: 'active raid1 [2/1] [_U]' } });
    expect(r.code, r.stderr).toBe(0);
    const trap = await waitFor('RAID trap via AgentX', async () => lab.traps().find((t) => t.includes('"md3"')), 10_000);
    expect(trap).toContain(`OID: .${TRAPS.raidDegraded}`);
    expect(trap).toContain(`.${VARS.node} = STRING: "head2"`);
    await waitFor('spool drained', async () => readdirSync(spool).length === 0, 5_000);
  });
});

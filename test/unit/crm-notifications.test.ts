// notifications.snmp: the description section, the Pacemaker alert for alert_haoscar it
// becomes (crm text and CIB XML), and crmsh's reading of it.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { describeWith } from '../helpers/prereq';
import { run, runOk } from '../../src/service/run';
import { writeFileAtomic } from '../../src/service/atomic';
import { parseDescription, DescriptionError, parseRecipient, type Description } from '../../src/crm/describe';
import { buildConfig, renderConfiguration, renderCrm, renderFullCib, compare } from '../../src/crm/index';

const root = join(__dirname, '..', '..');
const labText = readFileSync(join(root, 'examples', 'active-standby-pdu.yaml'), 'utf8');

function edited(edit: (d: any) => void): Description {
  const d = parse(labText);
  edit(d);
  return parseDescription(stringify(d));
}

/** The active-standby-pdu example, changed by `edit`, then validated: the list of problems (empty when valid). */
function problems(edit: (d: any) => void): string[] {
  try {
    edited(edit);
    return [];
  } catch (e) {
    if (!(e instanceof DescriptionError)) throw e;
    return e.problems;
  }
}

const snmp = (o: Record<string, unknown>) => (d: any) => { d.notifications = { snmp: o }; };

describe('notifications.snmp: accepted', () => {
  it('the examples: active-standby-pdu and active-standby, recipients in canonical form', () => {
    const lab = parseDescription(labText);
    expect(lab.notifications.snmp).toEqual({ transport: 'snmptrap', recipients: ['udp:192.0.2.5:162'], snmpConfDir: undefined, spoolDir: undefined });
    const as = parseDescription(readFileSync(join(root, 'examples', 'active-standby.yaml'), 'utf8'));
    expect(as.notifications.snmp).toMatchObject({ transport: 'snmptrap', recipients: ['udp:203.0.113.5:162', 'udp6:[2001:db8:100::6]:162'], snmpConfDir: '/etc/ha-oscar/snmp-alert', inform: true });
  });
  it('no section: the SNMP service served, so one alert that only refreshes the subagent (transport=refresh, no recipient)', () => {
    const d = edited((x) => { delete x.notifications; });
    expect(d.notifications).toEqual({});
    expect(buildConfig(d).alerts).toEqual([{
      id: 'ha-oscar-snmp', path: '/usr/share/pacemaker/alerts/alert_haoscar', attributes: [['transport', 'refresh']],
      select: { nodes: true, resources: true, fencing: false, attributes: ['ha-oscar-link', '#health-ha-oscar-raid'] }, recipients: [],
    }]);
    expect(renderCrm(buildConfig(d))).not.toMatch(/alert [^]*\bto /);
  });
  it('no section and no SNMP service: no alert', () => {
    const d = edited((x) => { delete x.notifications; for (const set of x.sets) set.services = set.services.filter((s: string) => s !== 'snmp'); delete x.services.snmp; });
    expect(buildConfig(d).alerts).toEqual([]);
    expect(renderCrm(buildConfig(d))).not.toContain('alert ');
    expect(renderConfiguration(buildConfig(d))).not.toContain('<alerts>');
  });
  it('transport defaults to snmptrap; one recipient may be a plain string', () => {
    expect(edited(snmp({ recipients: '192.0.2.5' })).notifications.snmp).toMatchObject({ transport: 'snmptrap', recipients: ['udp:192.0.2.5:162'] });
  });
  it('recipient forms', () => {
    const ok: [string, string][] = [
      ['192.0.2.5', 'udp:192.0.2.5:162'], ['192.0.2.5:1162', 'udp:192.0.2.5:1162'], ['udp:192.0.2.5', 'udp:192.0.2.5:162'],
      ['udp:192.0.2.5:162', 'udp:192.0.2.5:162'], ['2001:DB8:a:0::5', 'udp6:[2001:db8:a::5]:162'], ['[2001:db8:a::5]:1162', 'udp6:[2001:db8:a::5]:1162'],
      ['udp6:[2001:db8:a::5]', 'udp6:[2001:db8:a::5]:162'], ['udp6:2001:db8:a::5', 'udp6:[2001:db8:a::5]:162'], ['udp6:[2001:db8:a::5]:162', 'udp6:[2001:db8:a::5]:162'],
    ];
    for (const [given, canon] of ok) expect(parseRecipient(given), given).toBe(canon);
    const bad: [string, RegExp][] = [
      ['nms.example.org', /host names are not accepted/], ['udp:nms:162', /host names/], ['tcp:192.0.2.5:162', /not a trap receiver/],
      ['udp:2001:db8::5', /udp6:\[ADDRESS\]:PORT/], ['udp6:192.0.2.5', /udp6: needs an IPv6 address/], ['[192.0.2.5]:162', /brackets are for IPv6/],
      ['192.0.2.5:0', /port 0 is not between/], ['192.0.2.5:70000', /port 70000/], ['192.0.2.5:', /not an IP address/],
      ['127.0.0.1', /loopback/], ['::1', /loopback/], ['0.0.0.0', /unspecified/], ['239.1.2.3', /multicast/], ['ff02::1', /multicast/],
      ['255.255.255.255', /broadcast/], ['-c public', /not an IP address|not a trap receiver/], ['192.0.2.5 public', /not/],
    ];
    for (const [given, why] of bad) {
      const r = parseRecipient(given);
      expect(typeof r, given).toBe('object');
      expect((r as { error: string }).error, given).toMatch(why);
    }
  });
  it('transport subagent: no recipients, the spool directory', () => {
    expect(edited(snmp({ transport: 'subagent', spool_dir: '/run/ha-oscar/snmp-events' })).notifications.snmp)
      .toEqual({ transport: 'subagent', recipients: [], snmpConfDir: undefined, spoolDir: '/run/ha-oscar/snmp-events' });
  });
});

describe('notifications.snmp: precise errors', () => {
  it('unknown keys', () => {
    expect(problems(snmp({ recipients: ['192.0.2.5'], port: 162 })))
      .toEqual(['notifications.snmp.port: unknown key (allowed: transport, recipients, snmp_conf_dir, inform, spool_dir)']);
    expect(problems((d) => { d.notifications = { email: { to: 'root' } }; }))
      .toEqual(['notifications.email: unknown key (allowed: snmp)']);
    expect(problems((d) => { d.notification = { snmp: {} }; })[0]).toMatch(/^notification: unknown key \(allowed: .*notifications/);
  });
  it('a literal community or passphrase is refused, and not repeated', () => {
    const p = problems(snmp({ recipients: ['192.0.2.5'], community: 'n0tpublic', auth_passphrase: 's3cret' }));
    expect(p).toEqual([
      'notifications.snmp.community: a literal community is not accepted (it would sit in the CIB): put it in snmp.conf (defCommunity, or SNMPv3 defSecurityName/defAuthPassphrase) in snmp_conf_dir, mode 0640, group haclient',
      'notifications.snmp.auth_passphrase: a literal secret is not accepted (it would sit in the CIB): put it in snmp.conf (defCommunity, or SNMPv3 defSecurityName/defAuthPassphrase) in snmp_conf_dir, mode 0640, group haclient',
    ]);
    expect(p.join('\n')).not.toMatch(/n0tpublic|s3cret/);
  });
  it('bad recipients, each with its index', () => {
    expect(problems(snmp({ recipients: ['192.0.2.5', 'nms.example.org', 'udp:192.0.2.6:99999'] }))).toEqual([
      "notifications.snmp.recipients[1]: not an IP address (host names are not accepted: the alert must not depend on DNS): 'nms.example.org'",
      "notifications.snmp.recipients[2]: port 99999 is not between 1 and 65535: 'udp:192.0.2.6:99999'",
    ]);
    expect(problems(snmp({ recipients: ['127.0.0.1'] })))
      .toEqual(["notifications.snmp.recipients[0]: a loopback address, not an SNMP manager's: '127.0.0.1'"]);
  });
  it('a recipient on a head or a VIP (the manager must survive the heads), or twice', () => {
    expect(problems(snmp({ recipients: ['udp:192.0.2.12:162'] })))
      .toEqual(['notifications.snmp.recipients[0]: 192.0.2.12 is heads[1].addresses.a.ipv4: the SNMP manager must be outside the head pair (its traps report the heads failing)']);
    expect(problems(snmp({ recipients: ['2001:DB8:A::100'] })))
      .toEqual(['notifications.snmp.recipients[0]: 2001:db8:a::100 is sets[0].vips[1]: the SNMP manager must be outside the head pair (its traps report the heads failing)']);
    expect(problems(snmp({ recipients: ['192.0.2.5', 'udp:192.0.2.5:162'] })))
      .toEqual(['notifications.snmp.recipients[1]: udp:192.0.2.5:162 listed twice']);
  });
  it('recipients: required for snmptrap, refused for subagent', () => {
    expect(problems(snmp({})))
      .toEqual(['notifications.snmp.recipients: missing (transport snmptrap: the SNMP managers that receive the traps, e.g. udp:192.0.2.5:162)']);
    expect(problems((d) => { d.notifications = { snmp: null }; }))
      .toEqual(['notifications.snmp.recipients: missing (transport snmptrap: the SNMP managers that receive the traps, e.g. udp:192.0.2.5:162)']);
    expect(problems(snmp({ recipients: [] }))).toEqual(['notifications.snmp.recipients: must list at least one SNMP manager']);
    expect(problems(snmp({ transport: 'subagent', recipients: ['192.0.2.5'] })))
      .toEqual(["notifications.snmp.recipients: only with transport snmptrap (transport subagent sends to snmpd's trap sinks: trap2sink in snmpd.conf)"]);
  });
  it('keys of the other transport, bad values', () => {
    expect(problems(snmp({ recipients: ['192.0.2.5'], spool_dir: '/run/x' })))
      .toEqual(['notifications.snmp.spool_dir: only with transport subagent (the queue ha-oscar-snmp-agent --spool reads)']);
    expect(problems(snmp({ transport: 'subagent', inform: true }))[0]).toMatch(/^notifications\.snmp\.inform: only with transport snmptrap/);
    expect(problems(snmp({ transport: 'email' }))).toEqual(["notifications.snmp.transport: must be snmptrap or subagent: 'email'"]);
    expect(problems(snmp({ recipients: ['192.0.2.5'], snmp_conf_dir: 'etc/snmp' })))
      .toEqual(["notifications.snmp.snmp_conf_dir: not a valid absolute path (a directory holding snmp.conf): 'etc/snmp'"]);
    expect(problems(snmp({ recipients: ['192.0.2.5'], inform: 'yes' }))).toEqual(['notifications.snmp.inform: must be true or false']);
    expect(problems((d) => { d.notifications = { snmp: ['192.0.2.5'] }; })).toEqual(['notifications.snmp: must be a mapping']);
  });
});

describe('the alert in the model and both renderings', () => {
  it('active-standby-pdu: node, resource and the two health attributes, one recipient', () => {
    const cfg = buildConfig(parseDescription(labText));
    expect(cfg.alerts).toEqual([{
      id: 'ha-oscar-snmp', path: '/usr/share/pacemaker/alerts/alert_haoscar', attributes: [['transport', 'snmptrap']],
      select: { nodes: true, resources: true, fencing: false, attributes: ['ha-oscar-link', '#health-ha-oscar-raid'] },
      recipients: ['udp:192.0.2.5:162'],
    }]);
  });
  it('only the attributes of the health monitors described; none: no attribute alerts at all', () => {
    const noRaid = buildConfig(edited((d) => { delete d.health.raid; }));
    expect(noRaid.alerts[0].select.attributes).toEqual(['ha-oscar-link']);
    const none = buildConfig(edited((d) => { delete d.health; }));
    expect(none.alerts[0].select).toEqual({ nodes: true, resources: true, fencing: false, attributes: [] });
    expect(renderCrm(none)).toContain('\tselect nodes resources \\\n');
    // an empty <select_attributes/> would select every attribute change
    expect(renderConfiguration(none)).not.toContain('select_attributes');
  });
  it('subagent: the spool directory, no recipient', () => {
    const cfg = buildConfig(edited(snmp({ transport: 'subagent', spool_dir: '/run/ha-oscar/snmp-events' })));
    expect(cfg.alerts[0].attributes).toEqual([['transport', 'subagent'], ['spool_dir', '/run/ha-oscar/snmp-events']]);
    expect(renderCrm(cfg)).not.toMatch(/\bto /);
    expect(renderConfiguration(cfg)).not.toContain('<recipient');
  });
  it('the attribute names are those alert_haoscar reads, the path the one the packages install', () => {
    const agent = readFileSync(join(root, 'agents', 'alert_haoscar.ts'), 'utf8');
    const shapes = [
      parseDescription(readFileSync(join(root, 'examples', 'active-standby.yaml'), 'utf8')),
      edited(snmp({ transport: 'subagent', spool_dir: '/run/x' })),
    ].map((d) => buildConfig(d).alerts[0]);
    const names = new Set(shapes.flatMap((a) => a.attributes.map(([k]) => k)));
    expect([...names].sort()).toEqual(['inform', 'snmp_conf_dir', 'spool_dir', 'transport']);
    for (const n of names) expect(agent, n).toMatch(new RegExp(`\\benv\\.${n}\\b`));
    // and the attributes it selects are the ones it turns into notifications
    expect(agent).toMatch(/name === 'ha-oscar-link'/);
    expect(readFileSync(join(root, 'src', 'pacemaker', 'mdstat.ts'), 'utf8')).toContain("RAID_HEALTH_ATTR = '#health-ha-oscar-raid'");
    expect(readFileSync(join(root, 'scripts', 'package.mjs'), 'utf8')).toContain(`'${shapes[0].path.slice(1)}'`);
  });
  it('apply sees a missing or changed alert', async () => {
    const want = buildConfig(parseDescription(labText));
    const without = { ...want, alerts: [] };
    expect(await compare(renderConfiguration(want), renderFullCib(without))).toEqual([{ what: 'alert ha-oscar-snmp', why: 'missing' }]);
    const other = buildConfig(edited(snmp({ recipients: ['192.0.2.6'] })));
    expect(await compare(renderConfiguration(want), renderFullCib(other))).toEqual([{ what: 'alert ha-oscar-snmp', why: 'different' }]);
    expect(await compare(renderConfiguration(want), renderFullCib(want))).toEqual([]);
  });
});

const norm = (xml: string) => xml.replace(/<!--[\s\S]*?-->/g, '').replace(/>\s+</g, '><').trim();
const configurationOf = (cib: string) => /<configuration>[\s\S]*<\/configuration>/.exec(cib)?.[0] ?? '';

describeWith({ bins: ['crm', 'cibadmin', 'crm_verify'], packages: ['crmsh', 'pacemaker-cli-utils'] }, 'crmsh reads the other alert shapes as rendered', () => {
  let tmp = '';
  beforeAll(() => { tmp = mkdtempSync(join(tmpdir(), 'dv4-alert-')); });
  afterAll(() => { if (tmp) rmSync(tmp, { recursive: true, force: true }); });

  it('subagent transport (no recipient), no health monitors (no attribute selection), IPv6 and IPv4 recipients', async () => {
    const shapes = [
      buildConfig(edited((d) => { delete d.health; d.notifications = { snmp: { transport: 'subagent', spool_dir: '/run/ha-oscar/snmp-events' } }; })),
      buildConfig(edited(snmp({ recipients: ['2001:db8:a::5', '192.0.2.6:1162'], inform: false, snmp_conf_dir: '/etc/ha-oscar/snmp-alert' }))),
    ];
    for (const [i, cfg] of shapes.entries()) {
      const file = join(tmp, `shape${i}.xml`);
      writeFileAtomic(file, (await runOk('cibadmin', ['--empty'])).stdout);
      const r = await run('crm', ['-F', 'configure', 'load', 'update', '-'], { input: renderCrm(cfg), env: { CIB_file: file }, timeoutMs: 120_000 });
      const errors = r.stderr.replace(/\x1b\[[0-9;]*m/g, '').split('\n').filter((l) => /ERROR:/.test(l));
      expect(errors.filter((l) => !/got no meta-data|no such resource agent|lack of quorum/.test(l))).toEqual([]);
      expect(r.code).toBe(0);
      const loaded = configurationOf(readFileSync(file, 'utf8'));
      expect(loaded).toContain('<alerts>');
      expect(norm(loaded)).toBe(norm(renderConfiguration(cfg)));
      const v = await run('crm_verify', ['--xml-pipe'], { input: renderFullCib(cfg) });
      expect(v.stderr).toBe('');
      expect(v.code).toBe(0);
    }
  }, 300_000);
});

// Issue 7, finding 2: one failover-record path (src/snmp/paths.ts) for the subagent's default,
// alert_haoscar's default, the packaged unit, the maintainer scripts and the docs; the unit
// gives the record to group haclient (hacluster runs alert agents) and passes systemd-analyze.
import { describe, expect, it } from 'vitest';
import { spawnSync } from '../helpers/sync';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from '../../src/snmp/subagent-main';
import { ALERT_STATE_DIR, CLUSTER_GROUP, FAILOVER_RECORD, SPOOL_DIR, SUBAGENT_STATE_DIR, SUBAGENT_USER, TRIGGER_FILE } from '../../src/snmp/paths';
import { parseUnit } from '../../src/lab/package';
import { describeWith } from '../helpers/prereq';
import { root } from '../helpers/agents';

const read = (p: string): string => readFileSync(join(root, p), 'utf8');
const unitText = read('packaging/systemd/ha-oscar-snmp-agent.service');

describe('one failover record path', () => {
  it('the subagent defaults to it', () => {
    expect(parseArgs([])).toMatchObject({ stateFile: FAILOVER_RECORD, triggerFile: TRIGGER_FILE });
  });

  it('alert_haoscar defaults to the same constants (no literal paths of its own)', () => {
    const src = read('agents/alert_haoscar.ts');
    expect(src).toMatch(/env\.failover_record \|\| FAILOVER_RECORD/);
    expect(src).toMatch(/env\.state_dir \|\| ALERT_STATE_DIR/);
    expect(src).not.toMatch(/'\/(var|run)\//);
  });

  it('the unit runs it with that record, as a static user in group haclient, the state directory 2750', () => {
    const u = parseUnit(unitText);
    const arg = (f: string): string | undefined => u.argv[u.argv.indexOf(f) + 1];
    expect(arg('--state')).toBe(FAILOVER_RECORD);
    expect(arg('--trigger')).toBe(TRIGGER_FILE);
    expect(arg('--spool')).toBe(SPOOL_DIR);
    expect(u.stateDirs).toEqual([SUBAGENT_STATE_DIR]);
    expect(FAILOVER_RECORD.startsWith(`${SUBAGENT_STATE_DIR}/`)).toBe(true);
    expect(u.stateMode).toBe(0o2750); // group haclient reads, others nothing
    expect(u).toMatchObject({ user: SUBAGENT_USER, group: CLUSTER_GROUP });
    // 1 MiB semi-spaces: ~9 MiB less RSS (bench:snmp); the lab's node init passes it on too
    expect(u.env).toEqual({ NODE_OPTIONS: '--max-semi-space-size=1' });
    // DynamicUser puts the StateDirectory under /var/lib/private (0700): hacluster could not read it
    expect(unitText).not.toMatch(/^DynamicUser=yes/m);
  });

  it('the maintainer scripts make that user and the alert state directory; the docs name the same paths', () => {
    for (const f of ['packaging/debian/postinst', 'packaging/rpm/ha-oscar.spec']) {
      const t = read(f);
      expect(t, f).toContain(SUBAGENT_USER);
      expect(t, f).toContain(ALERT_STATE_DIR);
    }
    expect(read('packaging/debian/postrm')).toContain(SUBAGENT_STATE_DIR);
    const docs = read('docs/snmp.md');
    for (const p of [FAILOVER_RECORD, ALERT_STATE_DIR, SPOOL_DIR, TRIGGER_FILE]) expect(docs, p).toContain(p);
    expect(docs).not.toContain('/var/lib/ha-oscar/snmp-failovers.json');
    expect(read('packaging/man/ha-oscar-snmp-agent.8')).not.toContain('/var/lib/ha-oscar/snmp-failovers.json');
  });
});

describeWith({ bins: ['systemd-analyze'], packages: ['systemd'] }, 'the unit file', () => {
  it('passes systemd-analyze verify (the executable and man page stand in)', () => {
    const d = mkdtempSync(join(tmpdir(), 'dv7-unit-'));
    try {
      const unit = join(d, basename('ha-oscar-snmp-agent.service'));
      // not installed on this machine: an executable that exists, no man page to look up
      writeFileSync(unit, unitText.replace(/^ExecStart=\S+/m, 'ExecStart=/bin/true').replace(/^Documentation=.*\n/m, ''));
      const r = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', timeout: 60_000 });
      expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
      expect(r.status).toBe(0);
    } finally { rmSync(d, { recursive: true, force: true }); }
  }, 90_000);
});

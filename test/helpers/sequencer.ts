// The order the unit files start in: the slowest first, so that the last minutes of the run are
// not one long file on one worker while the others idle (CI has no vitest cache, and without one
// vitest keeps the files in discovery order). Measured on the 2-core CI machine, seconds; a file
// not listed starts after these, in vitest's own order. Keep roughly up to date; a wrong entry
// costs only time.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const SLOW_FIRST: Record<string, number> = {
  'test/unit/statesync.test.ts': 135,
  'test/unit/agents-bad-input.test.ts': 114,
  'test/unit/crm-pcs.test.ts': 89,
  'test/unit/nfs-failover.test.ts': 82,
  'test/unit/nfs-ganesha.test.ts': 77,
  'test/unit/packaging.test.ts': 76,
  'test/unit/radvd-agent.test.ts': 66,
  'test/unit/dhcpd-agent.test.ts': 54,
  'test/unit/dhcpd-kea-ha.test.ts': 52,
  'test/unit/crm-apply-cibadmin.test.ts': 41,
  'test/unit/nfs-kernel.test.ts': 38,
  'test/unit/crm-tools.test.ts': 36,
  'test/unit/linkmon.test.ts': 35,
  'test/unit/ntpd-ntpsec.test.ts': 33,
  'test/unit/tftp.test.ts': 27,
  'test/unit/raidmon.test.ts': 27,
  'test/unit/ntpd-agent.test.ts': 26,
  'test/unit/fence-snmp.test.ts': 26,
  'test/unit/ocf-runtime.test.ts': 23,
};

export default class SlowFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const root = `${this.ctx.config.root}/`;
    const weight = (f: TestSpecification): number => SLOW_FIRST[f.moduleId.startsWith(root) ? f.moduleId.slice(root.length) : f.moduleId] ?? 0;
    // Array.prototype.sort is stable: unlisted files keep vitest's order
    return sorted.sort((a, b) => weight(b) - weight(a));
  }
}

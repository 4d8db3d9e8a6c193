// The fault battery's names and table (src/lab/faults.ts; the battery itself runs on a lab:
// `npm run faults`, not part of npm test): the peer's daemon faults aim at the peer's real
// resources and processes, --only can pick them, and the side-by-side table pairs each peer row
// with ha-oscar's row for the same daemon and signal.
import { describe, expect, it } from 'vitest';
import { DAEMONS, FAULT_NAMES, PEER_DAEMONS, PEER_PREFIX, faultsMarkdown, type FaultsResult } from '../../src/lab/faults';
import { PEER_CHECK_NAMES, peerConfig } from '../../src/lab/peer';

describe('fault battery: the peer side by side', () => {
  it('each peer daemon fault names a resource of the peer configuration that runs that process, and a client check the peer has', () => {
    const prims = peerConfig().primitives;
    for (const d of PEER_DAEMONS) {
      const p = prims.find((x) => x.id === d.rscs[0]);
      expect(p, d.rscs[0]).toBeDefined();
      // ocf:heartbeat:anything runs binfile; ocf:heartbeat:dhcpd runs dhcpd
      const bin = p!.params.find(([k]) => k === 'binfile')?.[1] ?? (p!.agent === 'ocf:heartbeat:dhcpd' ? '/usr/sbin/dhcpd' : '');
      expect(bin.split('/').pop(), d.rscs[0]).toBe(d.proc);
      expect(PEER_CHECK_NAMES.some((c) => c.startsWith(d.checks)), d.checks).toBe(true);
      // the same daemon is in ha-oscar's list, so the two rows pair up
      expect(DAEMONS.some((x) => x.proc === d.proc && x.checks === d.checks)).toBe(true);
    }
  });

  it('--only can pick the peer faults and the snmpd restart alone', () => {
    const only = /^peer: dhcpd/;
    expect(FAULT_NAMES.filter((n) => only.test(n))).toEqual([`${PEER_PREFIX}dhcpd SIGKILL`, `${PEER_PREFIX}dhcpd SIGSTOP`]);
    expect(FAULT_NAMES.filter((n) => /snmpd restart/.test(n))).toEqual(['snmpd restart during failover']);
    expect(new Set(FAULT_NAMES).size).toBe(FAULT_NAMES.length);
  });

  const result = (rows: FaultsResult['rows']): FaultsResult => ({
    date: '2026-12-07T00:00:00.000Z', load: '1.0..2.0', token: '1000 ms', commit: 'abc', quick: true, wallS: 1, rows, perService: [],
  });

  it('the side-by-side table pairs each peer row with ha-oscar\'s row of the same daemon and signal', () => {
    const md = faultsMarkdown(result([
      { fault: 'dhcpd SIGSTOP on the active head (head1)', detected: '8.1 s (dhcpd4: error)', answers: '12.0 s', lost: '', outcome: 'repaired in place on head1', failures: [] },
      { fault: 'dhcpd SIGKILL on the active head (head1)', detected: '0.8 s', answers: '5.0 s', lost: '', outcome: 'repaired in place on head1', failures: [] },
      { fault: `${PEER_PREFIX}dhcpd SIGSTOP on the active head (head2)`, detected: 'not detected', answers: 'not within 120 s', lost: '', outcome: 'NOT detected within 90 s (service down)', failures: [] },
    ]));
    expect(md).toContain('| dhcpd SIGSTOP | 8.1 s (dhcpd4: error) | 12.0 s | repaired in place on head1 | not detected | not within 120 s | NOT detected within 90 s (service down) |');
    // no peer row for SIGKILL: no side-by-side line for it
    expect(md).not.toMatch(/^\| dhcpd SIGKILL \|/m);
    // the peer's rows stay in the main table
    expect(md).toContain(`| ${PEER_PREFIX}dhcpd SIGSTOP on the active head (head2) |`);
  });

  it('no side-by-side table when the peer\'s faults did not run', () => {
    const md = faultsMarkdown(result([{ fault: 'dhcpd SIGKILL on the active head (head1)', detected: '0.8 s', answers: '5.0 s', lost: '', outcome: 'ok', failures: [] }]));
    expect(md).not.toContain('Side by side');
  });
});

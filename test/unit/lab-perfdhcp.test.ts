// parsePerfdhcp and gaps (src/lab/bench-dhcp.ts): what the DHCP boot-storm bench reads from
// perfdhcp (kea-admin 2.2). The fixture is perfdhcp's real output against the lab's ISC dhcpd
// (-4 -r 1000 -R 50 -p 3 -t 1).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { gaps, parsePerfdhcp, takeovers } from '../../src/lab/bench-dhcp';

const v4 = readFileSync(join(__dirname, '..', 'fixtures', 'perfdhcp', 'v4.txt'), 'utf8');

describe('parsePerfdhcp', () => {
  it('the final report: the second exchange\'s (REQUEST-ACK) counts, not the first\'s, and the rate', () => {
    const p = parsePerfdhcp(v4);
    expect(p.rate).toBeCloseTo(734.876, 3);
    expect(p).toMatchObject({ sent: 2940, received: 2940, drops: 0 });
  });

  it('the -t reports: cumulative answers of the second exchange, one per second', () => {
    expect(parsePerfdhcp(v4).periodic).toEqual([980, 1960, 2940]);
  });

  it('DHCPv6: REQUEST-REPLY', () => {
    const out = ['sent: 10/8; received: 8/7; drops: 2/1; rejected: 0/0', '***Statistics for: SOLICIT-ADVERTISE***', 'sent packets: 10', 'received packets: 8', 'drops: 2',
      '***Statistics for: REQUEST-REPLY***', 'sent packets: 8', 'received packets: 7', 'drops: 1', ''].join('\n');
    expect(parsePerfdhcp(out)).toEqual({ rate: undefined, sent: 8, received: 7, drops: 1, periodic: [7] });
  });
});

describe('gaps', () => {
  it('answers per second from the cumulative counts, and the longest run of silent seconds', () => {
    expect(gaps([100, 200, 200, 200, 200, 250, 350])).toEqual({ perInterval: [100, 100, 0, 0, 0, 50, 100], longestGap: 3, gapEnd: 5 });
  });
  it('no gap', () => {
    expect(gaps([5, 10])).toEqual({ perInterval: [5, 5], longestGap: 0, gapEnd: undefined });
  });
});

describe('takeovers', () => {
  it("the agent's takeover lines in a pacemaker log, per family: when Kea served every scope, and the notification's time", () => {
    const log = [
      "Dec 08 00:09:41.100 head1 pacemaker-controld  [52] (te_rsc_command) info: Initiating notify operation dhcpd4_post_notify_stop_0",
      "dhcpd(dhcpd4)[812]:\t2026-12-08T00:09:41.343Z INFO: Pacemaker stopped the partner's instance on head2: Kea serves every scope (head1, head2), state partner-down after 424 ms (ha-maintenance-start: Server is now in the partner-down state as its partner appears to be offline for maintenance.)",
      "dhcpd(dhcpd6)[818]:\t2026-12-08T00:09:41.471Z INFO: Pacemaker stopped the partner's instance on head2: Kea serves every scope (head1, head2), state partner-down after 318 ms (ha-maintenance-start: ...)",
      "dhcpd(dhcpd6)[818]:\t2026-12-08T00:09:42.000Z WARN: Pacemaker stopped the partner's instance on head2, but Kea could not be made to serve its scope now: x",
    ].join('\n');
    expect(takeovers(log)).toEqual(new Map([[4, { at: Date.parse('2026-12-08T00:09:41.343Z'), ms: 424 }], [6, { at: Date.parse('2026-12-08T00:09:41.471Z'), ms: 318 }]]));
  });
});

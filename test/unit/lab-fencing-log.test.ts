// The failover timeline reads the survivor's pacemaker log (src/lab/failover.ts pacemakerFencing):
// when fencing was requested, when it was confirmed, and fence_haoscar_delay's reason. Lines as
// Pacemaker 2.1 (Debian 12) writes them in the lab.
import { describe, it, expect } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { corosyncTime, pacemakerFencing } from '../../src/lab/failover';

const LOG = `Nov 26 03:51:05.100 head2 pacemaker-controld  [51] (controld_execute_fence_action) 	notice: Requesting fencing (off) of node head1 | action=1 timeout=90000
Nov 26 03:51:05.700 head2 pacemaker-fenced    [47] (log_async_result) 	notice: Operation 'off' [312] targeting head1 using fence-heuristic returned 0 | call 3 from pacemaker-controld.51
Nov 26 03:51:08.163 head2 pacemaker-fenced    [47] (log_action) 	warning: fence_haoscar_delay[322] stderr: [ WARNING: head1 answers on none of its addresses: it is down or cut off from every network; no delay (checked in 0.31 s) ]
Nov 26 03:51:09.187 head2 pacemaker-fenced    [47] (log_async_result) 	notice: Operation 'off' [345] targeting head1 using fence-head1 returned 0 | call 3 from pacemaker-controld.51
Nov 26 03:51:09.191 head2 pacemaker-fenced    [47] (finalize_op) 	notice: Operation 'off' targeting head1 by head2 for pacemaker-controld.51@head2: OK (complete) | id=34067bd1
Nov 26 03:51:09.199 head2 pacemaker-controld  [51] (execute_rsc_action) 	notice: Initiating start operation vip4_start_0 locally on head2 | action 4
Nov 26 03:51:09.271 head2 pacemaker-controld  [51] (handle_fence_notification) 	notice: Peer head1 was terminated (off) by head2 on behalf of pacemaker-controld.51@head2: OK | event=34067bd1
`;

describe('lab failover timeline: fencing from the survivor\'s pacemaker log', () => {
  it('requested, confirmed at the fencer\'s own result (the controller may start resources before it logs the notification), and the delay device\'s reason', () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'hod-flog-'));
    try {
      const dir = join(stateDir, 'nodes', 'head2', 'var-log', 'pacemaker');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'pacemaker.log'), 'Nov 26 03:40:00.000 head2 older line: Requesting fencing (off) of node head1\n' + LOG);
      const spec = { name: 'x', repo: '/nonexistent', stateDir };
      const f = pacemakerFencing(spec, 'head2', 'head1', 'Nov 26 03:40:00.000 head2 older line: Requesting fencing (off) of node head1\n'.length);
      expect(f.requested).toBe(corosyncTime(LOG.split('\n')[0]!));
      expect(f.confirmed).toBe(corosyncTime(LOG.split('\n')[4]!));
      expect(f.confirmed!).toBeLessThan(corosyncTime(LOG.split('\n')[5]!)!); // before the first start
      expect(f.delay).toBe('head1 answers on none of its addresses: it is down or cut off from every network; no delay (checked in 0.31 s)');
      // another target: nothing
      expect(pacemakerFencing(spec, 'head2', 'head2' as never, 0)).toEqual({});
    } finally { rmSync(stateDir, { recursive: true, force: true }); }
  });
});

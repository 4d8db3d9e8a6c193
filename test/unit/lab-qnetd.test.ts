// qnetdVotes (src/lab/qdevice.ts): the device's votes as qnetd logged them, which the quorum
// device lab test reads instead of the cut head's own log. The fixture is a real excerpt of
// corosync-qnetd -d from a split of the active head (cluster renamed lab1).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { qnetdVotes } from '../../src/lab/qdevice';

const log = readFileSync(join(__dirname, '..', 'fixtures', 'qnetd', 'split-active.log'), 'utf8');

describe('qnetdVotes', () => {
  it('reads the NACK to the cut head, its answer, then the ACK to the survivor, in order', () => {
    expect(qnetdVotes(log, 'lab1')).toEqual([
      { nodeId: 2, event: 'sent', vote: 'NACK' },
      { nodeId: 2, event: 'replied' },
      { nodeId: 1, event: 'sent', vote: 'ACK' },
      { nodeId: 1, event: 'replied' },
    ]);
  });

  it("keeps to its own cluster: another lab's votes on a shared qnetd are not counted", () => {
    expect(qnetdVotes(log, 'lab2')).toEqual([]);
    expect(qnetdVotes(log, 'lab')).toEqual([]);
  });
});

// The lab's record of what it created. Written before/after every creation step so that
// teardown, which works ONLY from this record, finds everything even after a failed step.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../service/atomic';
import type { ProcRecord } from './procs';
import type { LabSpec, NodeName } from './spec';

export interface NodeRecord { launcher?: ProcRecord; init?: ProcRecord }
export interface LabState {
  name: string;
  /** Named network namespaces, with the inode of their nsfs file once created. */
  netns: { name: string; ino?: number }[];
  nodes: Partial<Record<NodeName, NodeRecord>>;
  token?: number;
  created: string;
  /** The process that brought the lab up (a test run cleans up labs whose owner is gone). */
  owner?: ProcRecord;
  /** The lab PDU process (src/lab/fence.ts), when fencing is on. */
  pdu?: ProcRecord;
  /** corosync-qnetd (src/lab/qdevice.ts), when the lab runs with a quorum device. */
  qnetd?: ProcRecord;
}

export const statePath = (spec: LabSpec): string => join(spec.stateDir, 'state.json');

export function readState(stateDir: string): LabState | undefined {
  try { return JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as LabState; } catch { return undefined; }
}

export function writeState(spec: LabSpec, st: LabState): void {
  writeFileAtomic(statePath(spec), JSON.stringify(st, null, 2) + '\n', { mkdir: true });
}

export function netnsIno(name: string): number | undefined {
  try { return statSync(`/run/netns/${name}`).ino; } catch { return undefined; }
}

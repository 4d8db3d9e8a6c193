// Who is in this node's cluster partition, as Pacemaker sees it: `crm_node -p` (one line, the
// node names). A fenced or powered-off head is not.
import { run } from '../service/run';

/** The names in this partition; undefined when crm_node failed (no cluster, timeout). */
export async function partitionMembers(timeoutMs = 3000): Promise<string[] | undefined> {
  const r = await run('crm_node', ['-p'], { timeoutMs });
  if (r.code !== 0) return undefined;
  return r.stdout.split(/\s+/).filter(Boolean);
}

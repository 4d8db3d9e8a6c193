// alert_haoscar: Pacemaker alert agent that turns cluster events into HA-OSCAR-MIB notifications.
//
// Pacemaker runs it with CRM_alert_* variables; the alert's instance attributes arrive as
// environment variables of the same name:
//   transport        snmptrap (default): send to CRM_alert_recipient with snmptrap;
//                    subagent: queue the notification for ha-oscar-snmp-agent, which sends it
//                    through snmpd's AgentX master (so snmpd's trap sinks and their secrets apply);
//                    refresh: send nothing, only touch refresh_file (what `ha-oscar config` emits
//                    when the description has the SNMP service but no notifications: the MIB
//                    stays fresh without the subagent polling fast).
//   snmp_conf_dir    directory holding the snmp.conf snmptrap reads (defVersion/defCommunity or
//                    SNMPv3 settings). Secrets stay in that file, never in argv.
//                    Default /etc/ha-oscar/snmp-alert; when missing, v2c with community "public".
//   inform           true: send an INFORM (acknowledged) instead of a trap.
//   state_dir        where the agent remembers link/RAID states and which service moves it has
//                    reported, per transport and recipient (default ALERT_STATE_DIR,
//                    /var/lib/ha-oscar/alert: per node; the package makes it for hacluster).
//   failover_record  the subagent's failover record (default FAILOVER_RECORD,
//                    /var/lib/ha-oscar-snmp/failovers.json): where each service runs and, after a
//                    move, where it ran before. The subagent runs on both heads and reads the
//                    whole cluster, so the survivor's record knows where a service ran before a
//                    power-off, which this node's own alerts never saw (Pacemaker runs a
//                    resource alert only on the node that ran the operation).
//   spool_dir        subagent transport queue (default /run/ha-oscar/snmp-events).
//   refresh_file     touched after each alert so the subagent re-reads the cluster at once
//                    (default /run/ha-oscar/snmp-refresh; skipped when its directory is missing).
//
// Events: node lost/member -> haOscarNodeLost/Joined; a failed resource operation ->
// haOscarResourceFailedEvent; a successful start of a service's resource on another node than
// the service ran on -> haOscarFailover; ha-oscar-link attribute -> haOscarLinkDown/Up;
// ha-oscar-raid-<array> or #health-ha-oscar-raid going bad -> haOscarRaidDegradedEvent.
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { run, describeFailure } from '../src/service/run';
import { writeFileAtomic } from '../src/service/atomic';
import { serviceFor } from '../src/pacemaker/oscar-services';
import { parseLinkAttribute, type LinkStatus } from '../src/pacemaker/corosync';
import { RAID_ATTR_PREFIX, RAID_HEALTH_ATTR } from '../src/pacemaker/mdstat';
import { ALERT_STATE_DIR, FAILOVER_RECORD, SPOOL_DIR, TRIGGER_FILE } from '../src/snmp/paths';
import { DESCRIBE_ENV, refreshPrologue, withPrologue } from '../src/ocf/fastpath';

// HA-OSCAR-MIB OIDs (mib/HA-OSCAR-MIB.txt; test/unit/snmp-alert.test.ts checks them against it).
const ROOT = '1.3.6.1.3.7460';
export const TRAPS = {
  failover: `${ROOT}.0.1`, nodeLost: `${ROOT}.0.2`, nodeJoined: `${ROOT}.0.3`, resourceFailed: `${ROOT}.0.4`,
  linkDown: `${ROOT}.0.5`, linkUp: `${ROOT}.0.6`, raidDegraded: `${ROOT}.0.7`,
} as const;
export const VARS = {
  node: `${ROOT}.1.8.1.0`, resource: `${ROOT}.1.8.2.0`, service: `${ROOT}.1.8.3.0`, fromNode: `${ROOT}.1.8.4.0`,
  toNode: `${ROOT}.1.8.5.0`, link: `${ROOT}.1.8.6.0`, raidArray: `${ROOT}.1.8.7.0`, detail: `${ROOT}.1.8.8.0`,
} as const;

export type TrapName = keyof typeof TRAPS;
export interface Varbind { oid: string; type: 's' | 'u'; value: string }
export interface Notification { trap: TrapName; varbinds: Varbind[] }

/**
 * What one sink (transport + recipient: Pacemaker runs the agent once per recipient) has been
 * told. services[svc]: the node this sink last saw the service start on, and `moves`, the
 * record's failover count that start accounts for (the count once the subagent has seen it).
 */
export interface AlertState {
  services: Record<string, { node: string; moves?: number }>;
  links: Record<string, Record<string, LinkStatus>>;
  raid: Record<string, boolean>;
}

/** A service as the subagent's record has it (src/snmp/model.ts, ServiceRecord). */
export interface RecordedService { node: string; failovers: number; last: number; from?: string }

/**
 * With nothing in this sink's state about the service (a fresh state_dir), a move the subagent
 * recorded more than this before the start's event time (CRM_alert_timestamp_epoch) is not this
 * start's: a restart in place after an older move. The subagent records a move after the start
 * it sees has completed, so this start's move is never older than the event by more than the
 * clocks' rounding. Without the event time the alert's own clock counts, with 4 times this.
 */
export const MOVE_WINDOW_S = 30;

/**
 * The node a service ran on before this start on `node`, when the start is a failover, else
 * undefined; updates `state`. With the record: if the subagent has not yet seen the start, the
 * record's node is the previous one; if it has, the record keeps the previous node in `from`.
 * Once per move: the state remembers the record's failover count the move brings. Without a
 * record (no subagent, failover_record=/dev/null): the state's own last node, which knows the
 * other head's starts only on a state_dir both heads share.
 */
export function failoverFrom(svc: string, node: string, state: AlertState, rec: RecordedService | undefined, nowS: number): string | undefined {
  const mine = state.services[svc];
  if (!rec?.node) {
    state.services[svc] = { node };
    return mine?.node && mine.node !== node ? mine.node : undefined;
  }
  const moves = rec.node === node ? rec.failovers : rec.failovers + 1;
  state.services[svc] = { node, moves };
  if (mine?.node === node && mine.moves === moves) return undefined; // this move, or this run, is told
  if (rec.node !== node) return rec.node; // the subagent has not seen this start yet
  if (!rec.from || rec.from === node) return undefined; // first start, or restarted in place
  // The subagent has seen a move here. Told already by an earlier state of ours (a count we
  // accounted for), or too old to be this start's when this state knows nothing of it.
  if (mine?.moves === undefined && rec.last < nowS - MOVE_WINDOW_S) return undefined;
  return rec.from;
}

const s = (oid: string, value: string): Varbind => ({ oid, type: 's', value: value.slice(0, 255) });

class AlertError extends Error {}

function loadJson<T>(path: string, fallback: T): T {
  try { return JSON.parse(readFileSync(path, 'utf8')) as T; } catch { return fallback; }
}

/** Serialise the read-modify-write of the state file between alerts running in parallel. */
async function withLock<T>(dir: string, fn: () => T | Promise<T>): Promise<T> {
  const lock = join(dir, 'state.lock');
  const end = Date.now() + 5000;
  for (;;) {
    try { closeSync(openSync(lock, 'wx', 0o600)); break; } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      try { if (Date.now() - statSync(lock).mtimeMs > 15_000) unlinkSync(lock); } catch { /* raced */ }
      if (Date.now() > end) break; // give up waiting: better a duplicate than no notification
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  try { return await fn(); } finally { try { unlinkSync(lock); } catch { /* gone */ } }
}

const isBadRaid = (v: string) => /degraded|fail|inactive|red|yellow|\[U*_[U_]*\]/i.test(v);

/** Map one alert (its environment) to notifications, updating the remembered state. */
export function notificationsFor(env: NodeJS.ProcessEnv, state: AlertState, recorded: (svc: string) => RecordedService | undefined, nowS = Math.floor(Date.now() / 1000)): Notification[] {
  const kind = env.CRM_alert_kind ?? '';
  const node = env.CRM_alert_node ?? '';
  const desc = env.CRM_alert_desc ?? '';
  switch (kind) {
    case 'node': {
      if (desc === 'lost') return [{ trap: 'nodeLost', varbinds: [s(VARS.node, node), s(VARS.detail, `node ${node} (id ${env.CRM_alert_nodeid ?? '?'}) lost`)] }];
      if (desc === 'member') return [{ trap: 'nodeJoined', varbinds: [s(VARS.node, node), s(VARS.detail, `node ${node} (id ${env.CRM_alert_nodeid ?? '?'}) joined`)] }];
      return [];
    }
    case 'resource': {
      const rsc = env.CRM_alert_rsc ?? '';
      const task = env.CRM_alert_task ?? '';
      const rc = env.CRM_alert_rc ?? '';
      const target = env.CRM_alert_target_rc ?? '0';
      const status = env.CRM_alert_status ?? '0';
      if (!rsc) return [];
      if (status !== '0' || rc !== target) {
        return [{ trap: 'resourceFailed', varbinds: [s(VARS.resource, rsc), s(VARS.node, node), s(VARS.detail, `${task} failed: ${desc || `rc=${rc}`}`)] }];
      }
      if (task !== 'start' && task !== 'promote' && task !== 'migrate_from') return [];
      const svc = serviceFor(rsc);
      if (!svc) return [];
      const ev = Number(env.CRM_alert_timestamp_epoch);
      const prev = failoverFrom(svc, node, state, recorded(svc), Number.isInteger(ev) && ev > 0 ? ev : nowS - 3 * MOVE_WINDOW_S);
      if (prev) {
        return [{ trap: 'failover', varbinds: [s(VARS.service, svc), s(VARS.resource, rsc), s(VARS.fromNode, prev), s(VARS.toNode, node)] }];
      }
      return [];
    }
    case 'attribute': {
      const name = env.CRM_alert_attribute_name ?? '';
      const value = env.CRM_alert_attribute_value ?? '';
      if (name === 'ha-oscar-link') {
        const out: Notification[] = [];
        const before = state.links[node] ?? {};
        const now: Record<string, LinkStatus> = {};
        for (const l of parseLinkAttribute(node, value)) {
          now[l.link] = l.status;
          const was = before[l.link];
          const lv = { oid: VARS.link, type: 'u' as const, value: String(l.link) };
          if (l.status === 'down' && was !== 'down') out.push({ trap: 'linkDown', varbinds: [s(VARS.node, node), lv] });
          if (l.status !== 'down' && l.status !== 'unknown' && was === 'down') out.push({ trap: 'linkUp', varbinds: [s(VARS.node, node), lv] });
        }
        state.links[node] = now;
        return out;
      }
      const isArray = name.startsWith(RAID_ATTR_PREFIX);
      if (isArray || name === RAID_HEALTH_ATTR) {
        const key = `${node}/${name}`;
        const bad = value !== '' && isBadRaid(value);
        const was = state.raid[key] ?? false;
        state.raid[key] = bad;
        if (bad && !was) {
          return [{ trap: 'raidDegraded', varbinds: [s(VARS.node, node), s(VARS.raidArray, isArray ? name.slice(RAID_ATTR_PREFIX.length) : ''), s(VARS.detail, `${name}=${value}`)] }];
        }
      }
      return [];
    }
    default:
      return []; // fencing and anything newer: nothing to say
  }
}

function argvFor(n: Notification): string[] {
  return [TRAPS[n.trap], ...n.varbinds.flatMap((v) => [v.oid, v.type, v.value])];
}

async function sendSnmptrap(env: NodeJS.ProcessEnv, notes: Notification[], stateDir: string, sent: (i: number) => void = () => {}): Promise<void> {
  const recipient = (env.CRM_alert_recipient ?? '').trim();
  if (!recipient) throw new AlertError('no recipient: set the alert recipient to the trap receiver (e.g. udp:192.0.2.5:162)');
  if (recipient.startsWith('-')) throw new AlertError(`recipient "${recipient}" is not an address`);
  let confDir = env.snmp_conf_dir || '/etc/ha-oscar/snmp-alert';
  let tmp: string | undefined;
  if (!existsSync(join(confDir, 'snmp.conf'))) {
    tmp = mkdtempSync(join(tmpdir(), 'alert_haoscar-'));
    writeFileAtomic(join(tmp, 'snmp.conf'), 'defVersion 2c\ndefCommunity public\n', { mode: 0o600 });
    confDir = tmp;
  }
  try {
    for (const [i, n] of notes.entries()) {
      const args = ['-t', '5', '-r', '1', ...(env.inform === 'true' ? ['-Ci'] : []), recipient, '', ...argvFor(n)];
      const r = await run(env.snmptrap_bin || 'snmptrap', args, {
        timeoutMs: 15_000,
        env: { SNMPCONFPATH: confDir, MIBS: '', SNMP_PERSISTENT_DIR: join(stateDir, 'snmp') },
      });
      if (r.code !== 0) throw new AlertError(describeFailure('snmptrap', r));
      sent(i);
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The snmptrap transport's outbox: a notification is written here (with the state that says it
 * is told) under the lock, and removed once snmptrap sent it. An alert killed on its timeout
 * before that (Pacemaker's 30 s, reached on a starved machine) leaves it for the sink's next
 * alert, which sends it first: once, rather than never. One directory per sink; a sender claims
 * a file by renaming it, so two alerts never send the same one; a claim older than
 * OUTBOX_CLAIM_MS is a killed sender's and goes back; entries older than OUTBOX_MAX_AGE_MS go.
 */
const OUTBOX_CLAIM_MS = 120_000;
const OUTBOX_MAX_AGE_MS = 3_600_000;
const outboxOf = (stateDir: string, sink: string): string => join(stateDir, 'outbox', createHash('sha256').update(sink).digest('hex').slice(0, 16));

function toOutbox(dir: string, notes: Notification[]): void {
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  notes.forEach((n, i) => writeFileAtomic(join(dir, `${Date.now()}-${process.pid}-${i}.json`), JSON.stringify(n) + '\n', { mode: 0o640 }));
}

async function drainOutbox(env: NodeJS.ProcessEnv, dir: string, stateDir: string): Promise<void> {
  let names: string[];
  try { names = readdirSync(dir); } catch { return; }
  const now = Date.now();
  for (const n of names.filter((x) => x.startsWith('.claimed.'))) {
    try { if (now - statSync(join(dir, n)).mtimeMs > OUTBOX_CLAIM_MS) renameSync(join(dir, n), join(dir, n.replace(/^\.claimed\.\d+\./, ''))); } catch { /* raced */ }
  }
  try { names = readdirSync(dir).filter((x) => /^\d+-\d+-\d+\.json$/.test(x)).sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]) || a.localeCompare(b)); } catch { return; }
  const claimed: { path: string; name: string; note: Notification }[] = [];
  for (const name of names) {
    const path = join(dir, `.claimed.${process.pid}.${name}`);
    try { renameSync(join(dir, name), path); } catch { continue; } // another alert has it
    const note = loadJson<Notification | null>(path, null);
    if (!note || !(note.trap in TRAPS) || now - Number(name.split('-')[0]) > OUTBOX_MAX_AGE_MS) { try { unlinkSync(path); } catch { /* gone */ } continue; }
    try { utimesSync(path, new Date(), new Date()); } catch { /* the claim's age from the rename */ }
    claimed.push({ path, name, note });
  }
  if (!claimed.length) return;
  try {
    await sendSnmptrap(env, claimed.map((c) => c.note), stateDir, (i) => { try { unlinkSync(claimed[i]!.path); } catch { /* gone */ } });
  } finally {
    for (const c of claimed) if (existsSync(c.path)) { try { renameSync(c.path, join(dir, c.name)); } catch { /* gone */ } }
  }
}

function queueForSubagent(env: NodeJS.ProcessEnv, notes: Notification[]): void {
  const dir = env.spool_dir || SPOOL_DIR;
  if (!existsSync(dir)) throw new AlertError(`spool directory ${dir} does not exist (is ha-oscar-snmp-agent set up with --spool?)`);
  notes.forEach((n, i) => {
    writeFileAtomic(join(dir, `${Date.now()}-${process.pid}-${i}.json`), JSON.stringify({ trap: TRAPS[n.trap], varbinds: n.varbinds }) + '\n', { mode: 0o660 });
  });
}

/** The record's entry for a service, when it has the shape the subagent writes. */
function recordedIn(record: unknown, svc: string): RecordedService | undefined {
  const r = (record as { services?: Record<string, unknown> } | null)?.services?.[svc] as Partial<RecordedService> | undefined;
  if (!r || typeof r.node !== 'string' || !r.node || !Number.isInteger(r.failovers)) return undefined;
  return { node: r.node, failovers: r.failovers!, last: Number(r.last) || 0, ...(typeof r.from === 'string' && r.from ? { from: r.from } : {}) };
}

const emptyState = (): AlertState => ({ services: {}, links: {}, raid: {} });

/** state.json: one AlertState per sink. A state of the single-sink format before is the sink's. */
function stateOf(file: unknown, sink: string): AlertState {
  const f = file as { sinks?: Record<string, AlertState> } & Partial<AlertState> | null;
  let st: Partial<AlertState> | undefined = f?.sinks?.[sink];
  if (!st && f && !f.sinks && (f.services || f.links || f.raid)) st = f;
  const out = { ...emptyState(), ...(st ?? {}) };
  // the single-sink format kept the node only: no move count
  for (const [k, v] of Object.entries(out.services)) if (typeof v === 'string') out.services[k] = { node: v };
  return out;
}

/** Touch the subagent's trigger: it re-reads the cluster at once (skipped when its directory is missing). */
function pokeSubagent(env: NodeJS.ProcessEnv): void {
  const refresh = env.refresh_file || TRIGGER_FILE;
  if (existsSync(dirname(refresh))) {
    try { writeFileAtomic(refresh, `${Date.now()}\n`, { mode: 0o664 }); } catch { /* the subagent still polls */ }
  }
}

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const stateDir = env.state_dir || ALERT_STATE_DIR;
  const transport = env.transport || 'snmptrap';
  if (transport !== 'snmptrap' && transport !== 'subagent' && transport !== 'refresh') throw new AlertError(`transport must be snmptrap, subagent or refresh, not "${transport}"`);
  if (!env.CRM_alert_kind) throw new AlertError('CRM_alert_kind is not set: this is a Pacemaker alert agent');
  if (transport === 'refresh') { pokeSubagent(env); return 0; }
  try { mkdirSync(stateDir, { recursive: true, mode: 0o750 }); } catch (e) {
    throw new AlertError(`cannot make state_dir ${stateDir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const stateFile = join(stateDir, 'state.json');
  const sink = transport === 'subagent' ? 'subagent' : `snmptrap ${(env.CRM_alert_recipient ?? '').trim()}`;
  const outbox = outboxOf(stateDir, sink);
  if (transport === 'snmptrap') {
    const recipient = (env.CRM_alert_recipient ?? '').trim();
    if (!recipient) throw new AlertError('no recipient: set the alert recipient to the trap receiver (e.g. udp:192.0.2.5:162)');
  }
  const notes = await withLock(stateDir, () => {
    // read inside the lock: the alerts for a service's resources run in parallel
    const record = loadJson<unknown>(env.failover_record || FAILOVER_RECORD, {});
    const file = loadJson<{ sinks?: Record<string, AlertState> } | null>(stateFile, null);
    const st = stateOf(file, sink);
    const before = JSON.stringify(st);
    const out = notificationsFor(env, st, (svc) => recordedIn(record, svc));
    // queued before the state says they are told: a kill from here on loses nothing
    if (out.length) {
      if (transport === 'subagent') queueForSubagent(env, out);
      else toOutbox(outbox, out);
    }
    if (JSON.stringify(st) !== before) {
      const sinks = { ...(file?.sinks ?? {}), [sink]: st };
      writeFileAtomic(stateFile, JSON.stringify({ sinks }) + '\n', { mode: 0o640 });
    }
    return out;
  });
  pokeSubagent(env);
  // snmptrap: this alert's notifications, and any a killed alert of this sink left behind
  if (transport === 'snmptrap' && (notes.length || existsSync(outbox))) await drainOutbox(env, outbox, stateDir);
  return 0;
}

if (process.env[DESCRIBE_ENV] === '1') {
  // scripts/build.mjs asks for the file with its sh prologue (transport=refresh in sh)
  process.stdout.write(withPrologue(refreshPrologue(TRIGGER_FILE), readFileSync(process.argv[1]!, 'utf8')));
} else if (process.env.HA_OSCAR_BUNDLED === '1' || (typeof require !== 'undefined' && typeof module !== 'undefined' && require.main === module)) {
  main().then((code) => process.exit(code), (e) => {
    process.stderr.write(`alert_haoscar: ${(e as Error).message.split('\n')[0]}\n`);
    process.exit(1);
  });
}

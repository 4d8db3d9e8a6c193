// The HA-OSCAR AgentX subagent: reads cluster state on change (CIB epoch poll, a trigger file
// the alert agent touches, SIGHUP), publishes it as a fresh Mib snapshot, and answers snmpd
// from memory. No SNMP request ever waits for crm_mon.
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, unlinkSync, watch, watchFile, unwatchFile, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { hostname } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readCibEpoch, readCrmMon, readCibConfig, type Runner, type CibConfig } from '../pacemaker/crm-mon';
import { readCfgtool, readQuorumtool, type CfgtoolStatus, type QuorumtoolStatus } from '../pacemaker/corosync';
import { readMdstat, type RaidArray } from '../pacemaker/mdstat';
import { run as realRun } from '../service/run';
import { writeFileAtomic } from '../service/atomic';
import { FAILOVER_RECORD_MODE, SPOOL_MODE, SUBAGENT_STATE_DIR } from './paths';
import { buildSnapshot, emptyRecord, type FailoverRecord, type Move, type Snapshot } from './model';
import { buildMib, OBJECTS, OBJECT_TYPES, TRAP, NOTIFY, NOTIFICATIONS, NOTIFY_OBJECTS } from './mib-def';
import { ResilientSubagent, SessionLostError, ObjectType } from './netsnmp-fixes';

/**
 * The CIB epoch poll, adaptive. While the cluster is quiet: every DEFAULT_POLL_MS (idle cost).
 * For FAST_WINDOW_MS after a change (a trigger from the alert agent, or a new epoch seen by a
 * poll): every FAST_POLL_MS, so the later steps of a transition (the start on the other head
 * after a stop here, whose alerts run there) show within that. The alert agent's trigger (each
 * node, resource and health event on this node) makes a change visible at once.
 */
export const DEFAULT_POLL_MS = 10_000;
export const FAST_POLL_MS = 500;
export const FAST_WINDOW_MS = 15_000;

export interface AgentOptions {
  /** AgentX master socket: path, unix:path or host:port. */
  master: string;
  runner?: Runner;
  /** Failover record (JSON), written atomically. */
  stateFile?: string;
  /** File whose change triggers a refresh (the alert agent writes it). */
  triggerFile?: string;
  /** CIB epoch poll interval while the cluster is quiet (default DEFAULT_POLL_MS). */
  pollMs?: number;
  /** How long to poll every FAST_POLL_MS after a change (default FAST_WINDOW_MS). */
  fastWindowMs?: number;
  /** corosync-cfgtool and /proc/mdstat poll interval. */
  slowPollMs?: number;
  mdstatPath?: string;
  /** This node's name (default: crm_node -n, then the host name). */
  localNode?: string;
  /**
   * Send haOscarFailover through the AgentX master when this node takes a service over. Each one
   * is written to notifySpoolDir first (atomically, before the failover record that says the
   * move was seen), then sent like the spool's: oldest first, removed once snmpd accepted it.
   * So one raised while the session is down (snmpd not up yet, or restarting) or while the
   * subagent itself is down goes out with the next session.
   */
  notify?: boolean;
  /** Where --notify queues (default: notify/ under the state file's directory, else /var/lib/ha-oscar-snmp/notify). */
  notifySpoolDir?: string;
  /** At most this many waiting --notify notifications (default 100); beyond, the oldest is dropped (one log line each). */
  notifyQueueMax?: number;
  /** Directory where alert_haoscar (transport=subagent) queues notifications to send. */
  spoolDir?: string;
  log?: (msg: string) => void;
  retryMs?: number;
  pingMs?: number;
}

export function emptySnapshot(): Snapshot {
  return {
    cluster: { name: '', quorum: 3, dc: '', nodesConfigured: 0, nodesOnline: 0, resourcesConfigured: 0, resourcesFailed: 0, lastChange: 0, lastFailover: 0, failovers: 0n, quorumDevice: 4, quorumVotes: 0 },
    nodes: [], resources: [], services: [], links: [], raid: [], readAt: 0,
  };
}

export function loadRecord(path: string | undefined): FailoverRecord {
  if (!path) return emptyRecord();
  try {
    const r = JSON.parse(readFileSync(path, 'utf8'));
    if (r && typeof r.total === 'string' && /^\d+$/.test(r.total) && typeof r.services === 'object') return { total: r.total, last: Number(r.last) || 0, services: r.services };
  } catch { /* missing or unreadable: start over */ }
  return emptyRecord();
}

/** A queued notification, as alert_haoscar writes it (transport=subagent) and --notify too. */
interface SpooledNote { trap: string; varbinds: { oid: string; type: 's' | 'u'; value: string }[] }

/** The queued notifications of a spool directory, oldest first (none when it does not exist). */
function spooled(dir: string): string[] {
  try { return readdirSync(dir).filter((n) => n.endsWith('.json') && !n.startsWith('.')).sort(); } catch { return []; }
}

export class HaOscarAgent {
  mib: any = buildMib(emptySnapshot(), 0);
  private draining: Promise<number> | null = null;
  private drainAgain = false;
  snapshot: Snapshot = emptySnapshot();
  record: FailoverRecord;
  refreshes = 0;
  lastError = '';
  readonly subagent: ResilientSubagent;
  private epoch = '';
  private slowKey = '';
  private config: CibConfig | undefined;
  private cfgtool: CfgtoolStatus | undefined;
  private quorumtool: QuorumtoolStatus | undefined;
  private raid: RaidArray[] | undefined;
  private lastSlow = 0;
  private timer: NodeJS.Timeout | null = null;
  private triggerWatch: FSWatcher | null = null;
  /** Poll fast until then (a change was seen or signalled). */
  private fastUntil = 0;
  private busy: Promise<void> | null = null;
  private again = false;
  private readonly run: Runner;
  private readonly log: (m: string) => void;
  private localNode: string | undefined;

  constructor(private readonly opts: AgentOptions) {
    this.run = opts.runner ?? realRun;
    this.log = opts.log ?? ((m) => process.stderr.write(`ha-oscar-snmp-agent: ${m}\n`));
    this.record = loadRecord(opts.stateFile);
    this.localNode = opts.localNode;
    this.subagent = new ResilientSubagent({
      master: opts.master,
      description: 'ha-oscar-snmp-agent: HA-OSCAR-MIB',
      subtrees: [OBJECTS],
      objects: () => OBJECT_TYPES,
      mib: () => this.mib,
      retryMs: opts.retryMs,
      pingMs: opts.pingMs ?? 15_000,
    });
    this.subagent.on('registered', (n: number) => {
      this.log(n === 1 ? `registered ${OBJECTS} with ${opts.master}` : `re-registered with ${opts.master} (session ${n})`);
      void this.drainSpool();
    });
    this.subagent.on('down', (why: string) => this.log(`AgentX master lost (${why}); reconnecting`));
    this.subagent.on('error', (e: Error) => this.log(e.message));
  }

  /** Read the cluster when something changed (or when forced) and publish a new snapshot. */
  refresh(force = false): Promise<void> {
    if (this.busy) { this.again = this.again || force; return this.busy; }
    this.busy = this.doRefresh(force).finally(() => {
      this.busy = null;
      if (this.again) { this.again = false; void this.refresh(true); }
    });
    return this.busy;
  }

  private async doRefresh(force: boolean): Promise<void> {
    try {
      if (!this.localNode) {
        const r = await this.run('crm_node', ['-n'], { timeoutMs: 5_000 });
        this.localNode = r.code === 0 && r.stdout.trim() ? r.stdout.trim() : hostname();
      }
      const now = Date.now();
      let slowChanged = false;
      // corosync's links and the RAID arrays are read alongside the CIB epoch, not before it: on
      // a triggered refresh they are not on the path from the alert to the MIB. (The epoch is
      // still read before crm_mon, never with it: an epoch newer than the status it is stored
      // with would hide the change in between until the next one.)
      const slow = force || now - this.lastSlow >= (this.opts.slowPollMs ?? 10_000)
        ? Promise.all([readCfgtool(this.run).catch(() => undefined), readMdstat(this.opts.mdstatPath).catch(() => undefined),
          readQuorumtool(this.run).catch(() => undefined)])
        : undefined;
      const epoch = await readCibEpoch(this.run); // (slow never rejects: each read has its catch)
      if (slow) {
        this.lastSlow = now;
        const before = this.quorumtool;
        [this.cfgtool, this.raid, this.quorumtool] = await slow;
        this.onQuorumDevice(before, this.quorumtool);
        const key = JSON.stringify([this.cfgtool, this.raid, this.quorumtool]);
        slowChanged = key !== this.slowKey;
        this.slowKey = key;
      }
      if (epoch !== this.epoch) this.fastUntil = Date.now() + (this.opts.fastWindowMs ?? FAST_WINDOW_MS);
      if (!force && !slowChanged && epoch === this.epoch) {
        this.mib.setScalarValue('haOscarClusterDataAge', Math.floor((Date.now() - this.snapshot.readAt) / 1000));
        return;
      }
      const configChanged = epoch.split(':').slice(0, 2).join(':') !== this.epoch.split(':').slice(0, 2).join(':');
      const status = await readCrmMon(this.run);
      if (configChanged || !this.config) this.config = await readCibConfig(this.run);
      const { snapshot, record, moves } = buildSnapshot({
        status, config: this.config, cfgtool: this.cfgtool, quorumtool: this.quorumtool, localNode: this.localNode, localRaid: this.raid, record: this.record,
      });
      this.epoch = epoch;
      this.snapshot = snapshot;
      this.mib = buildMib(snapshot);
      this.refreshes++;
      // The moves' notifications are on disk before the record that says they were seen: a
      // subagent killed in between finds the moves again at its next start, and writes the
      // same files again (named by the record's failover count), so nothing is lost or doubled.
      for (const m of moves) this.onMove(m);
      if (JSON.stringify(record) !== JSON.stringify(this.record)) {
        this.record = record;
        if (this.opts.stateFile) {
          try { writeFileAtomic(this.opts.stateFile, JSON.stringify(record) + '\n', { mkdir: true, mode: FAILOVER_RECORD_MODE }); } catch (e) { this.log(`cannot save ${this.opts.stateFile}: ${(e as Error).message}`); }
        }
      }
      if (moves.length && this.opts.notify) void this.drainSpool();
      if (this.lastError) { this.log('cluster state readable again'); this.lastError = ''; }
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.lastError) this.log(`cannot read cluster state: ${msg}`);
      this.lastError = msg;
      this.mib.setScalarValue('haOscarClusterDataAge', this.snapshot.readAt ? Math.floor((Date.now() - this.snapshot.readAt) / 1000) : 0);
    }
  }

  /** Where --notify queues its notifications. */
  get notifySpool(): string {
    return this.opts.notifySpoolDir ?? join(this.opts.stateFile ? dirname(this.opts.stateFile) : SUBAGENT_STATE_DIR, 'notify');
  }

  /**
   * The quorum device's vote lost or regained on this node (between two reads of
   * corosync-quorumtool; an unreadable read or the first one changes nothing): one log line, and
   * with --notify haOscarQuorumDeviceLost / Regained queued in the spool like a failover.
   */
  private onQuorumDevice(before: QuorumtoolStatus | undefined, now: QuorumtoolStatus | undefined): void {
    if (!before || !now || before.device === now.device || now.device === 'none' || before.device === 'none') return;
    const lost = now.device === 'notVoting';
    const detail = `quorum device ${lost ? 'vote lost' : 'votes again'} on ${this.localNode}: ${now.totalVotes} votes, ${now.quorate ? 'quorate' : 'NOT quorate'}`;
    this.log(detail);
    if (!this.opts.notify) return;
    const note: SpooledNote = { trap: lost ? TRAP.quorumDeviceLost : TRAP.quorumDeviceRegained, varbinds: [
      { oid: NOTIFY.node, type: 's', value: this.localNode ?? '' },
      { oid: NOTIFY.detail, type: 's', value: detail },
    ] };
    this.spool(`${String(Date.now()).padStart(20, '0')}-qdevice.json`, note, lost ? 'haOscarQuorumDeviceLost' : 'haOscarQuorumDeviceRegained');
    void this.drainSpool();
  }

  /** Queue one --notify notification (atomically); beyond notifyQueueMax the oldest goes, one log line each. */
  private spool(name: string, note: SpooledNote, what: string): void {
    const dir = this.notifySpool;
    try {
      writeFileAtomic(join(dir, name), JSON.stringify(note) + '\n', { mkdir: true, mode: 0o640 });
    } catch (e) {
      this.log(`${what} not queued: cannot write ${dir}: ${(e as Error).message}`);
      return;
    }
    const max = Math.max(1, this.opts.notifyQueueMax ?? 100);
    const waiting = spooled(dir);
    for (const old of waiting.slice(0, Math.max(0, waiting.length - max))) {
      this.log(`notification queue full (${max} waiting in ${dir}): dropped the oldest, ${old}`);
      try { unlinkSync(join(dir, old)); } catch { /* sent meanwhile */ }
    }
  }

  private onMove(m: Move): void {
    this.log(`service ${m.service} moved from ${m.from} to ${m.to}`);
    if (!this.opts.notify || m.to !== this.localNode) return;
    const note: SpooledNote = { trap: TRAP.failover, varbinds: [
      { oid: NOTIFY.service, type: 's', value: m.service },
      { oid: NOTIFY.resource, type: 's', value: m.resource },
      { oid: NOTIFY.fromNode, type: 's', value: m.from },
      { oid: NOTIFY.toNode, type: 's', value: m.to },
    ] };
    // named by the record's failover count: oldest first, and the same name when seen again
    this.spool(`${m.seq.padStart(20, '0')}-${m.service}.json`, note, `haOscarFailover ${m.service} ${m.from} -> ${m.to}`);
  }

  /**
   * Send the notifications alert_haoscar queued (oldest first); keep them while AgentX is down.
   * One drain at a time: the poll timer, the trigger file and each new session ask for one, and
   * two at once would each send the file the other has not removed yet. A call during a drain joins it, and
   * the drain lists the spool again when it ends (a file may have come after its listing).
   * Resolves to the number sent.
   */
  drainSpool(): Promise<number> {
    if (this.draining) { this.drainAgain = true; return this.draining; }
    this.draining = (async () => {
      let sent = 0;
      do {
        this.drainAgain = false;
        sent += await this.drainSpoolOnce();
      } while (this.drainAgain && this.subagent.connected);
      return sent;
    })().finally(() => { this.draining = null; });
    return this.draining;
  }

  private async drainSpoolOnce(): Promise<number> {
    let sent = 0;
    for (const dir of [this.opts.spoolDir, this.opts.notify ? this.notifySpool : undefined]) {
      if (!dir || !this.subagent.connected) continue;
      const n = await this.drainDir(dir);
      sent += n.sent;
      if (n.lost) break;
    }
    return sent;
  }

  /** Send one spool directory's notifications, oldest first; stop when the session is lost. */
  private async drainDir(dir: string): Promise<{ sent: number; lost: boolean }> {
    let sent = 0;
    for (const n of spooled(dir)) {
      const path = join(dir, n);
      let note: SpooledNote | undefined;
      try { note = JSON.parse(readFileSync(path, 'utf8')); } catch { /* half-written cannot happen (atomic); unreadable: drop */ }
      const ok = note && typeof note.trap === 'string' && note.trap.startsWith(`${NOTIFICATIONS}.`) && Array.isArray(note.varbinds)
        && note.varbinds.every((v) => typeof v.oid === 'string' && v.oid.startsWith(`${NOTIFY_OBJECTS}.`) && (v.type === 's' || v.type === 'u') && typeof v.value === 'string');
      if (!ok) { this.log(`dropping malformed notification ${n}`); try { unlinkSync(path); } catch { /* gone */ } continue; }
      try {
        await this.subagent.notify(note!.trap, note!.varbinds.map((v) => ({ oid: v.oid, type: v.type === 'u' ? ObjectType.Gauge : ObjectType.OctetString, value: v.type === 'u' ? Number(v.value) >>> 0 : v.value })));
      } catch (e) {
        // the session went before snmpd answered: keep it for the next one (twice rather than never)
        if (e instanceof SessionLostError) { this.log(`notification ${n} not sent yet: ${(e as Error).message}`); return { sent, lost: true }; }
        // snmpd refused it: sending it again would be refused again
        this.log(`dropping notification ${n}: ${(e as Error).message}`);
        try { unlinkSync(path); } catch { /* gone */ }
        continue;
      }
      try { unlinkSync(path); } catch { /* gone */ }
      sent++;
    }
    return { sent, lost: false };
  }

  /**
   * The alert agent writes the trigger (a rename into its directory) after each cluster event:
   * refresh at once. inotify on the directory (fs.watch), so the event is seen in microseconds;
   * where that is not possible (no directory yet, no inotify) a stat poll every 500 ms.
   */
  private watchTrigger(file: string): void {
    const onEvent = (): void => { this.fastUntil = Date.now() + (this.opts.fastWindowMs ?? FAST_WINDOW_MS); void this.refresh(true); void this.drainSpool(); };
    try {
      const w = watch(dirname(file), { persistent: false }, (_ev, name) => { if (name === basename(file)) onEvent(); });
      w.on('error', (e) => {
        this.log(`watching ${dirname(file)}: ${e.message}; polling ${file} instead`);
        w.close();
        this.triggerWatch = null;
        watchFile(file, { interval: 500, persistent: false }, onEvent);
      });
      this.triggerWatch = w;
    } catch {
      watchFile(file, { interval: 500, persistent: false }, onEvent);
    }
  }

  async start(): Promise<void> {
    // The spool alert_haoscar (user hacluster, group haclient) writes into: made here, in the
    // unit's RuntimeDirectory, group-writable and setgid like it.
    const spool = this.opts.spoolDir;
    if (spool && !existsSync(spool)) {
      try { mkdirSync(spool, { recursive: true }); chmodSync(spool, SPOOL_MODE); } catch (e) { this.log(`cannot make the spool ${spool}: ${(e as Error).message}`); }
    }
    await this.refresh(true);
    this.subagent.start();
    const slow = this.opts.pollMs ?? DEFAULT_POLL_MS;
    const fast = Math.min(FAST_POLL_MS, slow);
    let last = Date.now();
    let compacted = false;
    this.timer = setInterval(() => {
      const now = Date.now();
      if (now < this.fastUntil) compacted = false;
      else if (!compacted && !this.busy) { compacted = true; this.compact(); }
      if (now - last < (now < this.fastUntil ? fast : slow)) return;
      last = now;
      void this.refresh(false);
      void this.drainSpool();
    }, fast);
    if (this.opts.triggerFile) this.watchTrigger(this.opts.triggerFile);
  }

  /**
   * One full garbage collection, once the cluster has gone quiet again (at start, and when a
   * fast-poll window ends). Each refresh of 200 resources leaves ~1 MiB of parsed crm_mon
   * output behind, promoted to the old space by the small young generation; V8 would only
   * collect it when the old space reaches its next limit, so the RSS of a quiet subagent stayed
   * ~12 MiB above its live heap. Costs a few ms per window; nothing when the cluster is quiet.
   */
  compact(): void {
    fullGc()?.();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.triggerWatch?.close();
    this.triggerWatch = null;
    if (this.opts.triggerFile) unwatchFile(this.opts.triggerFile);
    await this.subagent.stop();
    await this.busy;
  }
}

let gcFn: (() => void) | null | undefined;
/** V8's full GC: the one `--expose-gc` gives, asked for here so that no command line has to carry the flag. */
export function fullGc(): (() => void) | undefined {
  if (gcFn === undefined) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (typeof g === 'function') gcFn = g;
    else {
      try { setFlagsFromString('--expose-gc'); gcFn = runInNewContext('gc') as () => void; } catch { gcFn = null; }
      if (typeof gcFn !== 'function') gcFn = null;
    }
  }
  return gcFn ?? undefined;
}

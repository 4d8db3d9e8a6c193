// The lab's switched PDU: an SNMP agent (net-snmp's npm Agent API) that speaks the
// APC PowerNet-MIB rPDU outlet tables, like a real APC rack PDU, so fence_haoscar
// (or fence_apc_snmp) drives it exactly as it would drive real hardware.
//
//   sysObjectID                   .1.3.6.1.4.1.318.1.3.4.5   (APC rPDU)
//   rPDUOutletControlTable entry  .1.3.6.1.4.1.318.1.1.12.3.3.1.1
//     .2 OutletName  .4 OutletCommand (set: immediateOn 1, immediateOff 2, immediateReboot 3)
//   rPDUOutletStatusTable entry   .1.3.6.1.4.1.318.1.1.12.3.5.1.1
//     .2 OutletName  .4 OutletState (outletStatusOn 1, outletStatusOff 2)  .5 CommandPending (yes 1, no 2)
//   rPDUOutletDevNumCntrlOutlets  .1.3.6.1.4.1.318.1.1.12.3.1.4.0
//
// Each outlet calls injected callbacks: powerOff(outlet) before its state reads off,
// powerOn(outlet) before it reads on. The state only changes when the callback
// succeeds, so a fencer that verifies the state sees the truth. Every command is
// recorded in the PDU's event log (the lab's evidence of who fenced whom).

export interface PduOutletHooks {
  powerOff(outlet: PduOutlet): Promise<void> | void;
  powerOn(outlet: PduOutlet): Promise<void> | void;
}

export interface PduOutlet { index: number; name: string; on: boolean }

export interface PduV3User {
  name: string;
  level?: 'noAuthNoPriv' | 'authNoPriv' | 'authPriv';
  authProtocol?: 'md5' | 'sha' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
  authKey?: string;
  privProtocol?: 'des' | 'aes' | 'aes256b' | 'aes256r';
  privKey?: string;
}

export interface PduEvent {
  time: string;
  outlet: number;
  name: string;
  /** what was asked (on/off/reboot) or what happened (done/failed). */
  event: 'on' | 'off' | 'reboot' | 'now-on' | 'now-off' | 'failed';
  detail?: string;
  from?: string;
}

export interface PduOptions {
  /** UDP port (use a free high port in tests). */
  port: number;
  /** Addresses to listen on, e.g. ['127.0.0.1', '::1']. */
  addresses: string[];
  /** v1/v2c communities allowed read-write. */
  communities?: string[];
  users?: PduV3User[];
  /** Outlet names, outlet i+1 is outlets[i]. All start on unless `initiallyOff` lists them. */
  outlets: string[];
  initiallyOff?: string[];
  hooks: PduOutletHooks;
  /** Off time in immediateReboot (ms). Default 1000. */
  rebootDelayMs?: number;
  onEvent?: (e: PduEvent) => void;
  sysName?: string;
  /**
   * The outlet's real state when something else can switch the load (the lab's own
   * power-off/power-on): read before every command and every `syncMs` (default 250 ms),
   * so the status table never shows on for a node that is off (or the reverse).
   */
  actual?: (outlet: PduOutlet) => boolean;
  syncMs?: number;
}

export interface Pdu {
  outlets(): PduOutlet[];
  /** Switch an outlet from the lab itself (not over SNMP); resolves when the hooks are done. */
  switchOutlet(outlet: number | string, what: 'on' | 'off' | 'reboot'): Promise<PduOutlet>;
  events(): PduEvent[];
  close(): Promise<void>;
}

const APC = {
  sysObjectId: '1.3.6.1.4.1.318.1.3.4.5',
  controlEntry: '1.3.6.1.4.1.318.1.1.12.3.3.1.1',
  statusEntry: '1.3.6.1.4.1.318.1.1.12.3.5.1.1',
  numOutlets: '1.3.6.1.4.1.318.1.1.12.3.1.4',
};

/* eslint-disable @typescript-eslint/no-explicit-any */
export async function startPdu(o: PduOptions): Promise<Pdu> {
  // @ts-ignore net-snmp ships no type declarations
  const m: any = await import('net-snmp');
  const snmp: any = m.default ?? m;
  const started = Date.now();
  const log: PduEvent[] = [];
  const outlets: PduOutlet[] = o.outlets.map((name, i) => ({ index: i + 1, name, on: !(o.initiallyOff ?? []).includes(name) }));
  const busy = new Map<number, Promise<void>>();

  const record = (e: Omit<PduEvent, 'time'>) => {
    const ev: PduEvent = { time: new Date().toISOString(), ...e };
    log.push(ev);
    try { o.onEvent?.(ev); } catch { /* a listener must not break the PDU */ }
  };

  const sockets = o.addresses.map((address) => ({ transport: address.includes(':') ? 'udp6' : 'udp4', address, port: o.port }));
  const agent = snmp.createAgent({ sockets, disableAuthorization: false, accessControlModelType: snmp.AccessControlModelType.None }, (err: any) => {
    if (err) record({ outlet: 0, name: '', event: 'failed', detail: `snmp: ${err.message ?? err}` });
  });
  const auth = agent.getAuthorizer();
  for (const c of o.communities ?? ['private']) auth.addCommunity(c);
  for (const u of o.users ?? []) {
    const level = u.level ?? (u.privKey ? 'authPriv' : u.authKey ? 'authNoPriv' : 'noAuthNoPriv');
    auth.addUser({
      name: u.name,
      level: snmp.SecurityLevel[level],
      authProtocol: u.authKey ? snmp.AuthProtocols[u.authProtocol ?? 'sha'] : undefined,
      authKey: u.authKey,
      privProtocol: u.privKey ? snmp.PrivProtocols[u.privProtocol ?? 'aes'] : undefined,
      privKey: u.privKey,
    });
  }
  const mib = agent.getMib();

  const scalar = (name: string, oid: string, scalarType: number, value: unknown, handler?: (req: any) => void) => {
    mib.registerProvider({ name, type: snmp.MibProviderType.Scalar, oid, scalarType, maxAccess: snmp.MaxAccess['read-only'], handler });
    mib.setScalarValue(name, value);
  };
  scalar('sysDescr', '1.3.6.1.2.1.1.1', snmp.ObjectType.OctetString, 'APC Switched Rack PDU (ha-oscar lab PDU)');
  scalar('sysObjectID', '1.3.6.1.2.1.1.2', snmp.ObjectType.OID, APC.sysObjectId);
  scalar('sysUpTime', '1.3.6.1.2.1.1.3', snmp.ObjectType.TimeTicks, 0, (req: any) => {
    req.instanceNode.value = Math.floor((Date.now() - started) / 10);
    req.done();
  });
  scalar('sysName', '1.3.6.1.2.1.1.5', snmp.ObjectType.OctetString, o.sysName ?? 'lab-pdu');
  scalar('rPDUOutletDevNumCntrlOutlets', APC.numOutlets, snmp.ObjectType.Integer, outlets.length);

  const status = (x: PduOutlet) => (x.on ? 1 : 2);
  const refresh = (x: PduOutlet) => {
    mib.setTableSingleCell('rPDUOutletStatusTable', 4, [x.index], status(x));
    mib.setTableSingleCell('rPDUOutletStatusTable', 5, [x.index], busy.has(x.index) ? 1 : 2);
    mib.setTableSingleCell('rPDUOutletControlTable', 4, [x.index], x.on ? 1 : 2);
  };

  const switchTo = async (x: PduOutlet, on: boolean) => {
    // Like a real outlet relay: switching to the state it is already in does nothing
    // (two fencers racing to cut the same head call the hook once).
    if (o.actual) x.on = o.actual(x);
    if (x.on === on) { record({ outlet: x.index, name: x.name, event: on ? 'now-on' : 'now-off', detail: 'already' }); return; }
    if (on) await o.hooks.powerOn(x); else await o.hooks.powerOff(x);
    x.on = on;
    record({ outlet: x.index, name: x.name, event: on ? 'now-on' : 'now-off' });
  };

  const command = (x: PduOutlet, cmd: number, from: string) => {
    const what = cmd === 1 ? 'on' : cmd === 2 ? 'off' : 'reboot';
    record({ outlet: x.index, name: x.name, event: what, from });
    const prev = busy.get(x.index) ?? Promise.resolve();
    const job = prev.then(async () => {
      try {
        if (what === 'on') await switchTo(x, true);
        else if (what === 'off') await switchTo(x, false);
        else {
          await switchTo(x, false);
          refresh(x);
          await new Promise((r) => setTimeout(r, o.rebootDelayMs ?? 1000));
          await switchTo(x, true);
        }
      } catch (e) {
        record({ outlet: x.index, name: x.name, event: 'failed', detail: e instanceof Error ? e.message : String(e) });
      }
    }).finally(() => {
      if (busy.get(x.index) === job) busy.delete(x.index);
      refresh(x);
    });
    busy.set(x.index, job);
    refresh(x);
  };

  mib.registerProvider({
    name: 'rPDUOutletControlTable',
    type: snmp.MibProviderType.Table,
    oid: APC.controlEntry,
    maxAccess: snmp.MaxAccess['not-accessible'],
    tableColumns: [
      { number: 1, name: 'rPDUOutletControlIndex', type: snmp.ObjectType.Integer, maxAccess: snmp.MaxAccess['read-only'] },
      { number: 2, name: 'rPDUOutletControlOutletName', type: snmp.ObjectType.OctetString, maxAccess: snmp.MaxAccess['read-only'] },
      { number: 3, name: 'rPDUOutletControlOutletPhase', type: snmp.ObjectType.Integer, maxAccess: snmp.MaxAccess['read-only'] },
      {
        number: 4, name: 'rPDUOutletControlOutletCommand', type: snmp.ObjectType.Integer, maxAccess: snmp.MaxAccess['read-write'],
        constraints: { enumeration: { 1: 'immediateOn', 2: 'immediateOff', 3: 'immediateReboot', 4: 'delayedOn', 5: 'delayedOff', 6: 'delayedReboot', 7: 'cancelPendingCommand' } },
      },
    ],
    tableIndex: [{ columnName: 'rPDUOutletControlIndex' }],
    handler: (req: any) => {
      if (req.operation === snmp.PduType.SetRequest) {
        const idx = Number(String(req.oid).split('.').pop());
        const x = outlets.find((y) => y.index === idx);
        const v = Number(req.setValue);
        if (!x) { req.done({ errorStatus: snmp.ErrorStatus.NoSuchName }); return; }
        if (![1, 2, 3].includes(v)) { req.done({ errorStatus: snmp.ErrorStatus.WrongValue }); return; }
        // net-snmp runs a set handler twice: a test pass (testSet) and the commit pass. Act once, on commit.
        if (req.testSet) { req.done(); return; }
        const from = req.rinfo ? `${req.rinfo.address}:${req.rinfo.port}` : undefined;
        command(x, v, from ?? 'snmp');
        // Reads of this column show the current state (as APC firmware does), not the last command.
        req.done();
        setImmediate(() => refresh(x));
        return;
      }
      req.done();
    },
  });
  mib.registerProvider({
    name: 'rPDUOutletStatusTable',
    type: snmp.MibProviderType.Table,
    oid: APC.statusEntry,
    maxAccess: snmp.MaxAccess['not-accessible'],
    tableColumns: [
      { number: 1, name: 'rPDUOutletStatusIndex', type: snmp.ObjectType.Integer, maxAccess: snmp.MaxAccess['read-only'] },
      { number: 2, name: 'rPDUOutletStatusOutletName', type: snmp.ObjectType.OctetString, maxAccess: snmp.MaxAccess['read-only'] },
      { number: 3, name: 'rPDUOutletStatusOutletPhase', type: snmp.ObjectType.Integer, maxAccess: snmp.MaxAccess['read-only'] },
      { number: 4, name: 'rPDUOutletStatusOutletState', type: snmp.ObjectType.Integer, maxAccess: snmp.MaxAccess['read-only'] },
      { number: 5, name: 'rPDUOutletStatusCommandPending', type: snmp.ObjectType.Integer, maxAccess: snmp.MaxAccess['read-only'] },
    ],
    tableIndex: [{ columnName: 'rPDUOutletStatusIndex' }],
  });
  if (o.actual) for (const x of outlets) x.on = o.actual(x);
  const sync = o.actual ? setInterval(() => {
    for (const x of outlets) {
      if (busy.has(x.index)) continue;
      let a: boolean;
      try { a = o.actual!(x); } catch { continue; }
      if (a === x.on) continue;
      x.on = a;
      record({ outlet: x.index, name: x.name, event: a ? 'now-on' : 'now-off', detail: 'switched outside the PDU' });
      refresh(x);
    }
  }, o.syncMs ?? 250) : undefined;
  for (const x of outlets) {
    mib.addTableRow('rPDUOutletControlTable', [x.index, x.name, 1, x.on ? 1 : 2]);
    mib.addTableRow('rPDUOutletStatusTable', [x.index, x.name, 1, status(x), 2]);
  }

  return {
    outlets: () => outlets.map((x) => ({ ...x })),
    async switchOutlet(outlet, what) {
      const x = outlets.find((y) => y.index === outlet || y.name === outlet);
      if (!x) throw new Error(`lab PDU: no outlet ${outlet}`);
      command(x, what === 'on' ? 1 : what === 'off' ? 2 : 3, 'lab');
      await busy.get(x.index);
      return { ...x };
    },
    events: () => log.slice(),
    async close() {
      if (sync) clearInterval(sync);
      await Promise.allSettled([...busy.values()]);
      await new Promise<void>((resolve) => {
        let n = sockets.length;
        if (n === 0) { resolve(); return; }
        const t = setTimeout(resolve, 1000);
        agent.close(() => { n -= 1; if (n === 0) { clearTimeout(t); resolve(); } });
      });
    },
  };
}

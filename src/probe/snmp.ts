// SNMP probe: a real GET of sysUpTime.0, over UDP, IPv4 or IPv6. No OCF knowledge.
// net-snmp is loaded lazily: callers that never probe pay nothing for it.

export const SYS_UPTIME_OID = '1.3.6.1.2.1.1.3.0';

export type SnmpAuth =
  | { version: '2c'; community: string }
  | { version: '3'; user: string; authProtocol?: 'sha' | 'md5'; authKey?: string; privProtocol?: 'aes' | 'des'; privKey?: string };

export interface SnmpGetResult {
  ok: boolean;
  /** sysUpTime in hundredths of a second, when ok */
  value?: number | string;
  error?: string;
  ms: number;
}

/** GET one OID from `address` (IPv4 or IPv6 literal). Resolves, never rejects. */
export async function snmpGet(address: string, port: number, auth: SnmpAuth, opts: { oid?: string; timeoutMs?: number; retries?: number } = {}): Promise<SnmpGetResult> {
  const snmp = (await import('net-snmp')).default ?? (await import('net-snmp'));
  const t0 = Date.now();
  const transport = address.includes(':') ? 'udp6' : 'udp4';
  const common = { port, transport, timeout: opts.timeoutMs ?? 1000, retries: opts.retries ?? 1 };
  let session: { get: Function; close: Function; on: Function };
  try {
    if (auth.version === '2c') {
      session = snmp.createSession(address, auth.community, { ...common, version: snmp.Version2c });
    } else {
      const level = auth.privKey ? snmp.SecurityLevel.authPriv : auth.authKey ? snmp.SecurityLevel.authNoPriv : snmp.SecurityLevel.noAuthNoPriv;
      session = snmp.createV3Session(address, {
        name: auth.user, level,
        authProtocol: auth.authProtocol === 'md5' ? snmp.AuthProtocols.md5 : snmp.AuthProtocols.sha,
        authKey: auth.authKey,
        privProtocol: auth.privProtocol === 'des' ? snmp.PrivProtocols.des : snmp.PrivProtocols.aes,
        privKey: auth.privKey,
      }, { ...common, version: snmp.Version3 });
    }
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e), ms: Date.now() - t0 };
  }
  const oid = opts.oid ?? SYS_UPTIME_OID;
  return await new Promise<SnmpGetResult>((resolve) => {
    let done = false;
    const finish = (r: Omit<SnmpGetResult, 'ms'>) => {
      if (done) return;
      done = true;
      try { session.close(); } catch { /* closed */ }
      resolve({ ...r, ms: Date.now() - t0 });
    };
    session.on('error', (e: Error) => finish({ ok: false, error: e.message }));
    session.get([oid], (err: Error | null, varbinds: { oid: string; type: number; value: unknown }[]) => {
      if (err) { finish({ ok: false, error: err.message }); return; }
      const vb = varbinds[0];
      if (!vb || snmp.isVarbindError(vb)) { finish({ ok: false, error: vb ? snmp.varbindError(vb) : 'empty response' }); return; }
      finish({ ok: true, value: typeof vb.value === 'number' ? vb.value : String(vb.value) });
    });
  });
}

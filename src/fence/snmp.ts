// SNMP PDU backend: APC PowerNet rPDU outlet OIDs (as fence_apc_snmp uses them) or
// a generic outlet table given by OID parameters. SNMP v1, v2c and v3 through the
// net-snmp npm module, loaded lazily (only this backend pays for it). Secrets stay
// in this process: nothing is passed to a child, nothing secret is logged.
import { isIPv6 } from 'node:net';
import type { Options, OptSpec } from './options.js';
import { EC, FenceError, type Backend, type Logger, type Outlet, type Power } from './agent.js';

/** APC PowerNet-MIB, rPDU (sysObjectID .1.3.6.1.4.1.318.1.3.4.5). */
export const APC_RPDU = {
  sysObjectId: '1.3.6.1.4.1.318.1.3.4.5',
  /** rPDUOutletStatusOutletState: outletStatusOn(1), outletStatusOff(2). */
  statusOid: '1.3.6.1.4.1.318.1.1.12.3.5.1.1.4',
  /** rPDUOutletControlOutletCommand: immediateOn(1), immediateOff(2), immediateReboot(3). */
  controlOid: '1.3.6.1.4.1.318.1.1.12.3.3.1.1.4',
  /** rPDUOutletStatusOutletName. */
  nameOid: '1.3.6.1.4.1.318.1.1.12.3.5.1.1.2',
  stateOn: 1,
  stateOff: 2,
  cmdOn: 1,
  cmdOff: 2,
};

export const SYS_OBJECT_ID = '1.3.6.1.2.1.1.2.0';

export const SNMP_SPECS: OptSpec[] = [
  { name: 'community', short: 'c', type: 'string', arg: 'community', default: 'private', secret: true, shortdesc: 'Set the community string (SNMP v1/v2c)' },
  { name: 'snmp_version', short: 'd', type: 'select', arg: 'version', choices: ['1', '2c', '3'], default: '2c', shortdesc: 'Specifies SNMP version to use (1,2c,3)' },
  { name: 'snmp_auth_prot', short: 'b', type: 'select', arg: 'prot', choices: ['MD5', 'SHA', 'SHA224', 'SHA256', 'SHA384', 'SHA512'], default: 'SHA', shortdesc: 'Set authentication protocol (SNMP v3)' },
  { name: 'snmp_sec_level', short: 'E', type: 'select', arg: 'level', choices: ['noAuthNoPriv', 'authNoPriv', 'authPriv'], shortdesc: 'Set security level (SNMP v3; default: authPriv with a privacy password, else authNoPriv)' },
  { name: 'snmp_priv_prot', short: 'B', type: 'select', arg: 'prot', choices: ['DES', 'AES', 'AES256B', 'AES256R'], default: 'AES', shortdesc: 'Set privacy protocol (SNMP v3)' },
  { name: 'snmp_priv_passwd', short: 'P', type: 'string', arg: 'password', secret: true, shortdesc: 'Set privacy protocol password (SNMP v3)' },
  { name: 'snmp_priv_passwd_script', short: 'R', type: 'string', arg: 'script', shortdesc: 'Program that prints the privacy protocol password' },
  { name: 'snmp_mib', type: 'select', arg: 'mib', choices: ['apc_rpdu', 'generic'], default: 'apc_rpdu', shortdesc: 'Outlet MIB: APC PowerNet rPDU, or a generic table given by the snmp_*_oid parameters' },
  { name: 'snmp_status_oid', type: 'string', arg: 'oid', shortdesc: 'generic: OID of the outlet status column (the outlet number is appended)' },
  { name: 'snmp_control_oid', type: 'string', arg: 'oid', shortdesc: 'generic: OID of the outlet control column (the outlet number is appended)' },
  { name: 'snmp_name_oid', type: 'string', arg: 'oid', shortdesc: 'generic: OID of the outlet name column (for outlets by name and list)' },
  { name: 'snmp_state_on', type: 'integer', arg: 'value', default: '1', shortdesc: 'generic: status value meaning ON' },
  { name: 'snmp_state_off', type: 'integer', arg: 'value', default: '2', shortdesc: 'generic: status value meaning OFF' },
  { name: 'snmp_cmd_on', type: 'integer', arg: 'value', default: '1', shortdesc: 'generic: control value that switches ON' },
  { name: 'snmp_cmd_off', type: 'integer', arg: 'value', default: '2', shortdesc: 'generic: control value that switches OFF' },
];

export function validateSnmp(opts: Options): string[] {
  const errs: string[] = [];
  if (!opts.ip) errs.push('Failed: You have to set the IP address or hostname of the fencing device (ip)');
  if (opts.snmp_mib === 'generic' && (!opts.snmp_status_oid || !opts.snmp_control_oid)) {
    errs.push('Failed: snmp_mib=generic needs snmp_status_oid and snmp_control_oid');
  }
  for (const k of ['snmp_status_oid', 'snmp_control_oid', 'snmp_name_oid']) {
    if (opts[k] && !/^\.?\d+(\.\d+)*$/.test(opts[k])) errs.push(`Failed: ${k} is not a numeric OID: '${opts[k]}'`);
  }
  if (opts.snmp_version === '3') {
    if (!opts.username) errs.push('Failed: SNMP v3 needs a user name (username)');
    const level = secLevel(opts);
    if (level !== 'noAuthNoPriv' && !opts.password) errs.push('Failed: You have to set login password');
    if (level === 'authPriv' && !opts.snmp_priv_passwd) errs.push('Failed: You have to set the privacy password (snmp_priv_passwd) for authPriv');
  }
  return errs;
}

function secLevel(opts: Options): string {
  if (opts.snmp_sec_level) return opts.snmp_sec_level;
  if (opts.snmp_priv_passwd) return 'authPriv';
  return opts.password ? 'authNoPriv' : 'noAuthNoPriv';
}

function trimOid(o: string): string { return o.replace(/^\./, ''); }

interface Profile { statusOid: string; controlOid: string; nameOid?: string; stateOn: number; stateOff: number; cmdOn: number; cmdOff: number }

function profileOf(opts: Options): Profile {
  if (opts.snmp_mib === 'generic') {
    return {
      statusOid: trimOid(opts.snmp_status_oid), controlOid: trimOid(opts.snmp_control_oid),
      nameOid: opts.snmp_name_oid ? trimOid(opts.snmp_name_oid) : undefined,
      stateOn: Number(opts.snmp_state_on), stateOff: Number(opts.snmp_state_off),
      cmdOn: Number(opts.snmp_cmd_on), cmdOff: Number(opts.snmp_cmd_off),
    };
  }
  return { ...APC_RPDU };
}

/* eslint-disable @typescript-eslint/no-explicit-any */
type Snmp = any;

async function loadSnmp(): Promise<Snmp> {
  // @ts-ignore net-snmp ships no type declarations
  const m: any = await import('net-snmp');
  return m.default ?? m;
}

export async function snmpBackend(opts: Options, log: Logger): Promise<Backend> {
  const snmp = await loadSnmp();
  const prof = profileOf(opts);
  const host = opts.ip.replace(/^\[(.*)\]$/, '$1');
  const port = Number(opts.ipport || 161);
  const loginMs = Math.max(200, Number(opts.login_timeout || 5) * 1000);
  const sessOpts = {
    port,
    transport: isIPv6(host) ? 'udp6' : 'udp4',
    retries: 1,
    timeout: Math.ceil(loginMs / 2),
    version: opts.snmp_version === '1' ? snmp.Version1 : snmp.Version2c,
    backoff: 1,
  };
  let session: any;
  if (opts.snmp_version === '3') {
    const level = secLevel(opts);
    const user: Record<string, unknown> = { name: opts.username, level: snmp.SecurityLevel[level] };
    if (level !== 'noAuthNoPriv') {
      user.authProtocol = snmp.AuthProtocols[opts.snmp_auth_prot.toLowerCase()];
      user.authKey = opts.password;
    }
    if (level === 'authPriv') {
      user.privProtocol = snmp.PrivProtocols[opts.snmp_priv_prot.toLowerCase()];
      user.privKey = opts.snmp_priv_passwd;
    }
    session = snmp.createV3Session(host, user, { ...sessOpts, version: snmp.Version3 });
    log.debug(`SNMP v3 session to ${host}:${port} user ${opts.username} level ${level}`);
  } else {
    session = snmp.createSession(host, opts.community, sessOpts);
    log.debug(`SNMP ${opts.snmp_version} session to ${host}:${port}`);
  }
  session.on('error', (e: Error) => log.debug(`SNMP socket error: ${e.message}`));

  const wrap = (e: any): FenceError => {
    if (e instanceof FenceError) return e;
    if (e instanceof snmp.RequestTimedOutError || /timed out/i.test(String(e?.message))) {
      return new FenceError(EC.TIMED_OUT, `no SNMP answer from ${host}:${port} within ${loginMs / 1000} s`);
    }
    if (e instanceof snmp.RequestFailedError) {
      const st = snmp.ErrorStatus[e.status] ?? e.status;
      if (st === 'noAccess' || st === 'authorizationError' || st === 'notWritable') return new FenceError(EC.INVALID_PRIVILEGES, `SNMP ${st}`);
      return new FenceError(EC.STATUS, `SNMP error ${st}`);
    }
    return new FenceError(EC.LOGIN_DENIED, String(e?.message ?? e));
  };

  const get = (oids: string[]): Promise<any[]> => new Promise((resolve, reject) => {
    session.get(oids, (err: any, vbs: any[]) => {
      if (err) { reject(wrap(err)); return; }
      for (const vb of vbs) {
        if (snmp.isVarbindError(vb)) { reject(new FenceError(EC.STATUS, String(snmp.varbindError(vb)))); return; }
      }
      resolve(vbs);
    });
  });
  const setInt = (oid: string, value: number): Promise<void> => new Promise((resolve, reject) => {
    session.set([{ oid, type: snmp.ObjectType.Integer, value }], (err: any, vbs: any[]) => {
      if (err) { reject(wrap(err)); return; }
      for (const vb of vbs ?? []) {
        if (snmp.isVarbindError(vb)) { reject(new FenceError(EC.STATUS, String(snmp.varbindError(vb)))); return; }
      }
      resolve();
    });
  });
  const walk = (base: string): Promise<Array<{ index: string; value: string }>> => new Promise((resolve, reject) => {
    const out: Array<{ index: string; value: string }> = [];
    session.subtree(base, 20, (vbs: any[]) => {
      for (const vb of vbs) {
        if (snmp.isVarbindError(vb)) continue;
        out.push({ index: vb.oid.slice(base.length + 1), value: Buffer.isBuffer(vb.value) ? vb.value.toString('utf8') : String(vb.value) });
      }
    }, (err: any) => { if (err) reject(wrap(err)); else resolve(out); });
  });

  let names: Array<{ index: string; value: string }> | undefined;
  const outletIndex = async (plug: string): Promise<string> => {
    if (/^\d+(\.\d+)*$/.test(plug)) return plug;
    if (!prof.nameOid) throw new FenceError(EC.STATUS, `outlet '${plug}' is not a number and no snmp_name_oid is set`);
    names ??= await walk(prof.nameOid);
    const hit = names.find((n) => n.value === plug);
    if (!hit) throw new FenceError(EC.STATUS, `no outlet named '${plug}'`);
    log.debug(`outlet '${plug}' is number ${hit.index}`);
    return hit.index;
  };
  const at = (base: string, idx: string) => base.includes('%d') ? base.replace('%d', idx) : `${base}.${idx}`;

  const status = async (plug: string): Promise<Power> => {
    const idx = await outletIndex(plug);
    const [vb] = await get([at(prof.statusOid, idx)]);
    const v = Number(vb.value);
    if (v === prof.stateOn) return 'on';
    if (v === prof.stateOff) return 'off';
    throw new FenceError(EC.STATUS, `outlet ${idx} reports state ${v}`);
  };

  return {
    status,
    async set(plug: string, to: Power) {
      const idx = await outletIndex(plug);
      await setInt(at(prof.controlOid, idx), to === 'on' ? prof.cmdOn : prof.cmdOff);
    },
    list: prof.nameOid ? async (): Promise<Outlet[]> => {
      const rows = await walk(prof.nameOid as string);
      const out: Outlet[] = [];
      for (const r of rows) {
        let st: Power | undefined;
        try { st = await status(r.index); } catch { st = undefined; }
        out.push({ id: r.index, alias: r.value, status: st });
      }
      return out;
    } : undefined,
    async monitor() {
      if (opts.snmp_mib === 'generic') { await walk(prof.statusOid); return; }
      const [vb] = await get([SYS_OBJECT_ID]);
      log.debug(`sysObjectID ${vb.value}`);
    },
    close() { try { session.close(); } catch { /* already closed */ } },
  };
}

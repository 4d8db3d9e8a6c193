// fence_haoscar: one fence agent, two backends chosen by `method`:
//   snmp - a switched PDU (APC PowerNet rPDU MIB, or a generic outlet table), v1/v2c/v3;
//   ipmi - the node's BMC through `ipmitool -I lanplus`.
import type { Options, OptSpec } from './options.js';
import { COMMON_SPECS, type AgentDef, type Backend, type Logger } from './agent.js';
import { SNMP_SPECS, validateSnmp } from './snmp.js';
import { IPMI_SPECS, validateIpmi } from './ipmi.js';

export const CONNECTION_SPECS: OptSpec[] = [
  { name: 'method', short: 'm', type: 'select', arg: 'method', choices: ['snmp', 'ipmi'], default: 'snmp', shortdesc: 'Fencing device type: snmp (switched PDU) or ipmi (BMC over lanplus)', aliases: ['device'] },
  { name: 'ip', short: 'a', type: 'string', arg: 'ip', required: true, shortdesc: 'IP address or hostname of fencing device', aliases: ['ipaddr'] },
  { name: 'ipport', short: 'u', type: 'integer', arg: 'port', shortdesc: 'UDP port to use for connection with device (default 161 for snmp, 623 for ipmi)' },
  { name: 'username', short: 'l', type: 'string', arg: 'name', shortdesc: 'Login name (IPMI user, SNMP v3 user)', aliases: ['login'] },
  { name: 'password', short: 'p', type: 'string', arg: 'password', secret: true, shortdesc: 'Login password or passphrase (IPMI password, SNMP v3 authentication key)', aliases: ['passwd'] },
  { name: 'password_script', short: 'S', type: 'string', arg: 'script', shortdesc: 'Program that prints the password (run without a shell)', aliases: ['passwd_script'] },
  { name: 'plug', short: 'n', type: 'string', arg: 'id', shortdesc: 'Outlet number or outlet name on the PDU (snmp); ignored by ipmi', aliases: ['port'] },
  { name: 'pcmk_host_map', type: 'string', arg: 'map', hidden: true, shortdesc: 'node:outlet;node:outlet map applied to plug/nodename' },
  { name: 'nodename', type: 'string', arg: 'node', hidden: true, shortdesc: 'Node to fence (passed by Pacemaker)' },
];

export const HAOSCAR_SPECS: OptSpec[] = [...COMMON_SPECS.slice(0, 1), ...CONNECTION_SPECS, ...SNMP_SPECS, ...IPMI_SPECS, ...COMMON_SPECS.slice(1)];

export const haoscarAgent: AgentDef = {
  docs: {
    name: 'fence_haoscar',
    shortdesc: 'Fence agent for ha-oscar head nodes: switched PDUs over SNMP and BMCs over IPMI lanplus',
    longdesc: 'fence_haoscar is an I/O fencing agent for the heads of an ha-oscar cluster. With method=snmp it switches a PDU outlet through SNMP v1, v2c or v3, using the APC PowerNet rPDU outlet OIDs (as fence_apc_snmp does) or a generic outlet table given by OID parameters; outlets are given by number or name (plug/port, pcmk_host_map). With method=ipmi it runs ipmitool -I lanplus; the password reaches ipmitool through the environment or a private file, never the command line. After switching, it checks the new state; a timeout is a failure.',
    vendorUrl: 'https://github.com/ha-oscar',
  },
  specs: HAOSCAR_SPECS,
  version: 'fence_haoscar 0.1.0',
  needsPlug: (o: Options) => o.method !== 'ipmi',
  validate: (o: Options) => (o.method === 'ipmi' ? validateIpmi(o) : validateSnmp(o)),
  async backend(o: Options, log: Logger): Promise<Backend> {
    if (o.method === 'ipmi') return (await import('./ipmi.js')).ipmiBackend(o, log);
    return (await import('./snmp.js')).snmpBackend(o, log);
  },
};

// fence_haoscar: fence agent (fence-agents API) for ha-oscar heads, SNMP PDUs and IPMI BMCs.
// Everything lives in src/fence; this file only starts it.
import { main } from '../src/fence/agent.js';
import { haoscarAgent } from '../src/fence/haoscar.js';

main(haoscarAgent);

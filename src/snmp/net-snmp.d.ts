// net-snmp ships no type declarations; the project uses a small, typed surface of it
// through src/snmp/netsnmp-fixes.ts.
declare module 'net-snmp';

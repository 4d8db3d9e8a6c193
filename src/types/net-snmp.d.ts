// net-snmp ships no type declarations; it is used untyped, behind our own typed wrappers.
declare module 'net-snmp';

// Where the subagent and the alert agent meet on a head. ONE place: the subagent's defaults
// (subagent-main.ts), alert_haoscar's defaults, the packaged unit
// (packaging/systemd/ha-oscar-snmp-agent.service), the maintainer scripts and docs/snmp.md use
// these; test/unit/snmp-paths.test.ts checks that the unit and the docs agree with them.
// No imports: the alert agent's bundle must stay small.

/** The subagent's state directory: the unit's StateDirectory=ha-oscar-snmp, owned by the
 * static user ha-oscar-snmp, group haclient, mode 2750 (StateDirectoryMode), so that the
 * alert agent (user hacluster, group haclient) can read the record. Not under
 * /var/lib/private: the unit has no DynamicUser (its StateDirectory would be there, 0700). */
export const SUBAGENT_STATE_DIR = '/var/lib/ha-oscar-snmp';
/** The failover record: the subagent writes it (mode 0640), alert_haoscar reads it. */
export const FAILOVER_RECORD = `${SUBAGENT_STATE_DIR}/failovers.json`;
/** The record's mode: group haclient (the directory is setgid) reads it. */
export const FAILOVER_RECORD_MODE = 0o640;
/** The subagent's user (the unit's User=) and the cluster group both agents are in. */
export const SUBAGENT_USER = 'ha-oscar-snmp';
export const CLUSTER_GROUP = 'haclient';
/** The unit's RuntimeDirectory (mode 2770, group haclient): refresh trigger and spool. */
export const RUNTIME_DIR = '/run/ha-oscar';
export const TRIGGER_FILE = `${RUNTIME_DIR}/snmp-refresh`;
export const SPOOL_DIR = `${RUNTIME_DIR}/snmp-events`;
/** The subagent makes the spool when missing: group haclient (alert_haoscar) writes into it. */
export const SPOOL_MODE = 0o2770;
/** alert_haoscar's own state (per node), made by the package's postinst for hacluster. */
export const ALERT_STATE_DIR = '/var/lib/ha-oscar/alert';

// Logging the way ocf_log / ocf_exit_reason do it (resource-agents' ocf-shellfuncs):
//   - HA_LOGFILE / HA_DEBUGLOG set: append lines to those files;
//   - HA_LOGFACILITY set (and not "none"): syslog through logger(1), message on STDIN (never argv);
//   - neither: stderr, which pacemaker-execd captures into its own log.
//   - debug lines only with HA_debug=1 (or HA_debug=true).
//   - every line is tagged with the resource instance: HA_LOGTAG, else "<type>(<instance>)".
// Exit reasons go to stderr as "ocf-exit-reason:<text>", which Pacemaker records and crm_mon shows.
import { appendFileSync } from 'node:fs';
import { spawn } from 'node:child_process';

export type Level = 'debug' | 'info' | 'warn' | 'err' | 'crit';
const syslogLevel: Record<Level, string> = { debug: 'debug', info: 'info', warn: 'warning', err: 'err', crit: 'crit' };
const label: Record<Level, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', err: 'ERROR', crit: 'CRIT' };

/** One line, printable, bounded: what a log line or exit reason may contain. */
export function oneLine(text: string, max = 400): string {
  // eslint-disable-next-line no-control-regex
  const flat = text.replace(/[ ]*[\r\n\t]+[ \r\n\t]*/g, ' ').replace(/[\x00-\x1f\x7f]/g, '?').trim();
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  err(msg: string): void;
  crit(msg: string): void;
  /** ocf_exit_reason: the one line that crm_mon shows beside a failed action. */
  exitReason(msg: string): void;
  readonly debugEnabled: boolean;
}

export function createLogger(env: NodeJS.ProcessEnv = process.env, stderr: (s: string) => void = (s) => { process.stderr.write(s); }): Logger {
  const type = env.OCF_RESOURCE_TYPE ?? 'ha-oscar';
  const inst = env.OCF_RESOURCE_INSTANCE ?? 'default';
  const tag = env.HA_LOGTAG || `${type}(${inst})`;
  const debugEnabled = /^(1|true|yes|on)$/i.test(env.HA_debug ?? '');
  const facility = env.HA_LOGFACILITY && env.HA_LOGFACILITY !== 'none' ? env.HA_LOGFACILITY : undefined;
  const logfile = env.HA_LOGFILE || undefined;
  const debuglog = env.HA_DEBUGLOG || undefined;

  function toFile(file: string, level: Level, msg: string): void {
    const ts = new Date().toISOString();
    try { appendFileSync(file, `${tag}[${process.pid}]:\t${ts} ${label[level]}: ${msg}\n`); } catch { /* logging never fails an action */ }
  }
  function toSyslog(level: Level, msg: string): void {
    try {
      const child = spawn('logger', ['-t', `${tag}[${process.pid}]`, '-p', `${facility}.${syslogLevel[level]}`], {
        stdio: ['pipe', 'ignore', 'ignore'], detached: true,
      });
      child.on('error', () => { /* no logger: stderr still has it */ });
      child.stdin.on('error', () => { /* ignore */ });
      child.stdin.end(`${label[level]}: ${msg}\n`);
      child.unref();
    } catch { /* ignore */ }
  }

  function log(level: Level, raw: string): void {
    if (level === 'debug' && !debugEnabled) return;
    const msg = oneLine(raw, 2000);
    let sent = false;
    if (level === 'debug' && debuglog) { toFile(debuglog, level, msg); sent = true; }
    if (logfile) { toFile(logfile, level, msg); sent = true; }
    if (facility) { toSyslog(level, msg); sent = true; }
    if (!sent) stderr(`${tag}[${process.pid}]: ${label[level]}: ${msg}\n`);
  }

  return {
    debugEnabled,
    debug: (m) => log('debug', m),
    info: (m) => log('info', m),
    warn: (m) => log('warn', m),
    err: (m) => log('err', m),
    crit: (m) => log('crit', m),
    exitReason(m) {
      const line = oneLine(m);
      stderr(`ocf-exit-reason:${line}\n`);
      log('err', line);
    },
  };
}

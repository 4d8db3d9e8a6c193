// The level-0 fast path: a recurring level-0 monitor answered by /bin/sh in a few ms instead of
// a Node start (~60 ms of CPU), for agents that declare which processes their level-0 monitor
// looks at (AgentSpec.processes). Pacemaker runs that monitor every few seconds for years.
//
// How (issue 25):
//   - Every time the Node runtime answers a monitor with SUCCESS, it records what it just
//     verified in a small file, the "monitor record" (one per resource instance, mode 0600, in
//     /run/ha-oscar/monitor/): the parameters it ran with, the binaries it found, and for each
//     declared process its pidfile, the PID in it and the real executable of that PID.
//     Any other action (start, stop, reload...) and any monitor that does not succeed removes it.
//   - The single-file agent is both a POSIX sh script and a JavaScript bundle (prologue() below,
//     put in front of the bundle by scripts/build.mjs): sh answers 0 ONLY when the action is a
//     recurring monitor at level 0, the record exists and was written for exactly these
//     parameters (and PATH), every binary is still there, and every pidfile still holds the
//     recorded PID of a live process (not a zombie) that still runs the recorded executable
//     (same inode, `test -ef`): exactly what src/service/daemon.ts runningPid() checks. In
//     every other case it runs `exec node "$0" "$@"`, and Node gives its usual answer (and the
//     exit reason, the probe semantics, the deeper levels, validation...).
//   - sh never evaluates a parameter: the prologue names the declared parameters literally
//     (generated from the agent's meta-data at build time) and only compares their quoted values.
import { mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../service/atomic';
import { runningPid, readPidfile } from '../service/daemon';
import { exePath } from '../service/proc';

/** A process the level-0 monitor checks: running when the pidfile names a live PID that runs exe. */
export interface WatchedProcess { pidfile: string; exe: string }

export const RECORD_DIR = '/run/ha-oscar/monitor';
/** Where the records go instead (tests); Pacemaker never sets it. */
export const RECORD_DIR_ENV = 'HA_OSCAR_MONITOR_DIR';
const HEADER = 'ha-oscar-monitor 1';
/** Set by scripts/build.mjs: the agent prints what the prologue needs and exits. */
export const DESCRIBE_ENV = 'HA_OSCAR_DESCRIBE_FASTPATH';

const INSTANCE_OK = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/;

export function recordPath(agent: string, env: NodeJS.ProcessEnv): string | undefined {
  const inst = env.OCF_RESOURCE_INSTANCE;
  if (!inst || !INSTANCE_OK.test(inst)) return undefined;
  return join(env[RECORD_DIR_ENV] || RECORD_DIR, `${agent}.${inst}`);
}

/** The variables the record is valid for: the instance, PATH (binaries) and every declared parameter. */
function keyVars(params: string[]): string[] {
  return ['OCF_RESOURCE_INSTANCE', 'PATH', ...params.map((p) => `OCF_RESKEY_${p}`)];
}

/** One line naming the values of keyVars, unambiguous: set-marker, byte length, value. */
export function recordKey(params: string[], env: NodeJS.ProcessEnv): string {
  return keyVars(params).map((v) => {
    const val = env[v];
    return `${val === undefined ? '' : 's'}${val === undefined ? 0 : Buffer.byteLength(val)}:${val ?? ''};`;
  }).join('');
}

export function forget(agent: string, env: NodeJS.ProcessEnv): void {
  const f = recordPath(agent, env);
  if (f) try { unlinkSync(f); } catch { /* none */ }
}

const lineSafe = (s: string) => !/[\n\t\r]/.test(s);

/**
 * After a successful monitor: record what the fast path may re-check. Writes nothing (and
 * removes an old record) when a process cannot be verified the same way sh would.
 */
export function record(agent: string, params: string[], env: NodeJS.ProcessEnv, binaries: string[], procs: WatchedProcess[] | undefined): void {
  const f = recordPath(agent, env);
  if (!f) return;
  const key = recordKey(params, env);
  const lines = [HEADER, key];
  let ok = procs !== undefined && procs.length > 0 && lineSafe(key);
  for (const b of binaries) { ok &&= lineSafe(b) && b.startsWith('/'); lines.push(`x\t${b}`); }
  for (const p of procs ?? []) {
    if (!ok) break;
    const pid = runningPid(p.pidfile, p.exe);
    const raw = pid === undefined ? undefined : exePath(pid);
    ok = pid !== undefined && pid === readPidfile(p.pidfile) && raw !== undefined && raw.startsWith('/') &&
      lineSafe(raw) && lineSafe(p.pidfile) && p.pidfile.startsWith('/');
    lines.push(`p\t${pid}\t${raw}\t${p.pidfile}`);
  }
  if (!ok) { forget(agent, env); return; }
  const text = `${lines.join('\n')}\n`;
  try { if (readFileSync(f, 'utf8') === text) return; } catch { /* new */ }
  mkdirSync(dirname(dirname(f)), { recursive: true, mode: 0o755 });
  mkdirSync(dirname(f), { recursive: true, mode: 0o700 });
  writeFileAtomic(f, text, { mode: 0o600 });
}

/**
 * The sh prologue of an agent whose level-0 monitor is declared (AgentSpec.processes).
 * The file stays valid JavaScript: line 2 is a string statement, then a block comment holds
 * the sh code up to the `*` `/` that closes it before the bundle.
 */
export function prologue(agent: string, params: string[]): string {
  if (!/^[a-z][a-z0-9_-]*$/.test(agent)) throw new Error(`fast path: bad agent name ${agent}`);
  for (const p of params) if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) throw new Error(`fast path: bad parameter name ${p}`);
  const key = keyVars(params).map((v) => `k="$k\${${v}+s}\${#${v}}:\${${v}-};"`);
  const sh = [
    '#!/bin/sh',
    '":" /*',
    `# ${agent}: a recurring level-0 monitor of a running resource is answered here in sh; everything`,
    '# else runs the JavaScript below with node. See src/ocf/fastpath.ts (ha-oscar, issue 25).',
    'ha_oscar_level0() {',
    '  [ "$#" -eq 1 ] && [ "$1" = monitor ] || return 1',
    '  case "${OCF_CHECK_LEVEL-}" in \'\'|0) ;; *) return 1 ;; esac',
    '  case "${OCF_RESKEY_CRM_meta_interval-}" in \'\'|0|*[!0-9]*) return 1 ;; esac',
    '  case "${OCF_RESOURCE_INSTANCE-}" in \'\'|[!A-Za-z0-9_]*|*[!A-Za-z0-9_.:-]*) return 1 ;; esac',
    `  m="\${${RECORD_DIR_ENV}:-${RECORD_DIR}}/${agent}.$OCF_RESOURCE_INSTANCE"`,
    '  [ -f "$m" ] && [ -r "$m" ] || return 1',
    '  k=',
    ...key.map((l) => `  ${l}`),
    '  case "$k" in *"',
    '"*) return 1 ;; esac',
    '  n=0',
    '  {',
    `    IFS= read -r l && [ "$l" = '${HEADER}' ] || return 1`,
    '    IFS= read -r l && [ "$l" = "$k" ] || return 1',
    '    while IFS=\'\t\' read -r t a b c; do',
    '      case "$t" in',
    '        x) [ -f "$a" ] && [ -x "$a" ] || return 1 ;;',
    '        p) case "$a" in \'\'|*[!0-9]*) return 1 ;; esac',
    '           [ -f "$c" ] || return 1',
    '           q=; { read -r q r; } 2>/dev/null <"$c"',
    '           [ "$q" = "$a" ] || return 1',
    '           s=; { IFS= read -r s; } 2>/dev/null <"/proc/$a/stat"',
    '           s=${s##*") "}',
    '           case "$s" in \'\'|[ZXx]*) return 1 ;; esac',
    '           [ "/proc/$a/exe" -ef "$b" ] || return 1',
    '           n=$((n + 1)) ;;',
    '        *) return 1 ;;',
    '      esac',
    '    done',
    '  } <"$m"',
    '  [ "$n" -gt 0 ]',
    '}',
    'ha_oscar_level0 "$@" && exit 0',
    'exec node "$0" "$@"',
    // never run; it makes the whole file valid sh for `sh -n` (lintian): the JavaScript is the
    // body of a quoted here-document that ends on the file's last line, a JavaScript comment
    `: <<'${JS_END}'`,
    '*/',
  ].join('\n');
  const body = sh.slice(sh.indexOf('/*') + 2, sh.lastIndexOf('*/'));
  if (body.includes('*/')) throw new Error('fast path: the sh prologue would close the JavaScript comment early');
  return `${sh}\n`;
}

/**
 * The alert agent's fast path (alert_haoscar, issue 20): with `transport=refresh` all the agent
 * does is rename a new file over the subagent's trigger, so that the MIB shows a change at once.
 * Pacemaker runs it for every event on the node (a failover makes dozens), and a Node start
 * (~90 ms, more under load) was most of the time from the event to the subagent's re-read.
 * sh does it in a few ms; anything else (another transport, a refresh_file with characters
 * outside [A-Za-z0-9._/-], not an absolute path, no CRM_alert_kind) goes to node as before.
 * The same semantics as the Node path (agents/alert_haoscar.ts pokeSubagent): skipped when the
 * trigger's directory is missing, a failed write is ignored (the subagent still polls), exit 0.
 */
export function refreshPrologue(triggerDefault: string): string {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(triggerDefault)) throw new Error(`fast path: bad trigger path ${triggerDefault}`);
  const sh = [
    '#!/bin/sh',
    '":" /*',
    '# alert_haoscar: transport=refresh (only poke the SNMP subagent\'s trigger) is done here in sh;',
    '# everything else runs the JavaScript below with node. See src/ocf/fastpath.ts (ha-oscar, issue 20).',
    'if [ "${transport-}" = refresh ] && [ -n "${CRM_alert_kind-}" ]; then',
    `  f=\${refresh_file:-${triggerDefault}}`,
    '  case $f in',
    "    *[!A-Za-z0-9._/-]*) ;;",
    '    /?*)',
    '      [ -d "${f%/*}/" ] || exit 0',
    '      umask 002',
    '      t="$f.tmp-$$"',
    `      if printf '%s\\n' "$$" > "$t" 2>/dev/null && mv -f "$t" "$f" 2>/dev/null; then exit 0; fi`,
    '      rm -f "$t" 2>/dev/null',
    '      exit 0 ;;',
    '  esac',
    'fi',
    'exec node "$0" "$@"',
    `: <<'${JS_END}'`,
    '*/',
  ].join('\n');
  const body = sh.slice(sh.indexOf('/*') + 2, sh.lastIndexOf('*/'));
  if (body.includes('*/')) throw new Error('fast path: the sh prologue would close the JavaScript comment early');
  return `${sh}\n`;
}

/** The last line of a fast-path agent: ends the sh here-document; a line comment for JavaScript. */
export const JS_END = '//ha-oscar-js-end';

/** The whole agent file: prologue, the bundle (its node shebang line dropped), JS_END. */
export function withPrologue(head: string, bundle: string): string {
  const js = bundle.startsWith('#!') ? bundle.slice(bundle.indexOf('\n') + 1) : bundle;
  if (js.split('\n').includes(JS_END)) throw new Error(`fast path: the bundle has a line ${JS_END}`);
  return `${head}${js}${js.endsWith('\n') ? '' : '\n'}${JS_END}\n`;
}

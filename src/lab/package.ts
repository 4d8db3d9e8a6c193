// How ha-oscar's own files get into the lab's heads.
//
// 'deb' mode (out/ha-oscar_<version>-1_all.deb exists when the lab's first head boots): each
// head installs the package with dpkg, inside its own mount namespace. Overlays with per-node
// upper/work directories (nodes/<head>/pkg/<dir>/) cover every directory dpkg and the
// maintainer scripts write: /usr (the files, and /lib/systemd/system: /lib is usr/lib),
// /etc (the postinst's enablement symlink under /etc/systemd/system) and /var (dpkg's database
// in /var/lib/dpkg, deb-systemd-helper's state in /var/lib/systemd, man-db's cache). The host
// is never changed; the upper directories persist like the head's disk across power cycles.
// 'dist' mode (no .deb): the node init binds the repository's dist/ocf and overlays
// dist/fence_haoscar, as before (src/lab/init.ts).
//
// The decision is made once per lab (pkg/source.json in the state dir, first head to boot wins)
// so that both heads, and a head powered on later, run the same files even if out/ changes.
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, linkSync, mkdirSync, readFileSync, rmSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { writeFileAtomic } from '../service/atomic';
import { run, runOk } from '../service/run';
import { sleep } from './procs';
import type { LabSpec, NodeName } from './spec';
import { nodeDir } from './spec';

export const PACKAGE = 'ha-oscar';
/** Where the heads' systemd unit for the subagent is installed (Debian: /lib is usr/lib). */
export const SUBAGENT_UNIT = '/lib/systemd/system/ha-oscar-snmp-agent.service';
/** The directories dpkg and the package's maintainer scripts write, overlaid per head. */
export const PKG_OVERLAYS = ['/usr', '/etc', '/var'] as const;
/** A PATH with the sbin directories: dpkg needs ldconfig and start-stop-daemon on it. */
export const ROOT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export type AgentsSource = { mode: 'deb'; deb: string; version: string; sha256: string } | { mode: 'dist'; reason: string };

export const packageVersion = (repo: string): string =>
  (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
/** The .deb `npm run package` (or `node scripts/package.mjs --deb`) writes. */
export const repoDeb = (repo: string): string => join(repo, 'out', `${PACKAGE}_${packageVersion(repo)}-1_all.deb`);

const pkgDir = (spec: LabSpec): string => join(spec.stateDir, 'pkg');
const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/**
 * A temporary name next to `file`, unique per writer: the node inits run as PID 2 in their own
 * PID namespaces, so the PID alone gave both heads the same name (seen: head2's init died on
 * "ENOENT: unlink '.../ha-oscar_0.1.0-1_all.deb.2.tmp'" when head1 had published and removed it).
 */
const tmpFor = (file: string): string => `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;

/** Give the complete file `tmp` the name `file` unless that exists (first writer wins); `tmp` goes. */
function publishOnce(tmp: string, file: string): void {
  try { linkSync(tmp, file); } catch (e) { if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; } finally { unlinkSync(tmp); }
}

/** Create `file` with `data` unless it exists (atomic, first writer wins); returns its content. */
function createOnce(file: string, data: string): string {
  const tmp = tmpFor(file);
  writeFileAtomic(tmp, data);
  publishOnce(tmp, file);
  return readFileSync(file, 'utf8');
}

/**
 * The lab's agents source, decided at the first call (the first head's boot) and recorded:
 * the repository's .deb is copied into the state dir then, so a rebuild later changes nothing
 * in this lab. Callable from the host (e.g. `lab up`, to say the mode) or from a node init.
 */
export function agentsSource(spec: LabSpec): AgentsSource {
  const dir = pkgDir(spec);
  const rec = join(dir, 'source.json');
  if (existsSync(rec)) return JSON.parse(readFileSync(rec, 'utf8')) as AgentsSource;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const src = repoDeb(spec.repo);
  let choice: AgentsSource;
  if (existsSync(src)) {
    const deb = join(dir, `${PACKAGE}_${packageVersion(spec.repo)}-1_all.deb`);
    const tmp = tmpFor(deb);
    copyFileSync(src, tmp);
    choice = { mode: 'deb', deb, version: packageVersion(spec.repo), sha256: sha256(tmp) };
    publishOnce(tmp, deb);
  } else {
    choice = { mode: 'dist', reason: `no ${src} (build it with 'node scripts/package.mjs --deb')` };
  }
  // If another init won the race, its record (and its copy of the .deb) is what counts.
  return JSON.parse(createOnce(rec, JSON.stringify(choice, null, 2) + '\n')) as AgentsSource;
}

/** One line for `lab up` and the node init's log. */
export function describeAgentsSource(s: AgentsSource): string {
  return s.mode === 'deb'
    ? `agents: the installed package ${PACKAGE} ${s.version}-1 (dpkg -i in each head's own overlays of ${PKG_OVERLAYS.join(', ')})`
    : `agents: the repository's dist/ (bind-mounted into the heads; ${s.reason})`;
}

type Mount = (args: string[]) => Promise<void>;
type Log = (msg: string) => void;

/**
 * deb mode, in a head's init, before any other mount: an overlay on each of PKG_OVERLAYS with
 * this head's upper/work directories. Retried for a while: right after a power-off the old
 * namespace's overlay can still hold the work directory (EBUSY) until the kernel frees it.
 */
export async function mountPackageOverlays(spec: LabSpec, node: NodeName, mount: Mount, log: Log): Promise<void> {
  for (const dir of PKG_OVERLAYS) {
    const base = join(nodeDir(spec, node), 'pkg', dir.slice(1));
    const upper = join(base, 'upper');
    const work = join(base, 'work');
    mkdirSync(upper, { recursive: true, mode: 0o755 });
    mkdirSync(work, { recursive: true, mode: 0o755 });
    const t0 = Date.now();
    const until = t0 + 15_000;
    for (;;) {
      try {
        await mount(['-t', 'overlay', `${spec.name}-pkg${dir.replace(/\//g, '-')}`, '-o', `lowerdir=${dir},upperdir=${upper},workdir=${work}`, dir]);
        log(`overlay on ${dir} (${Date.now() - t0} ms)`);
        break;
      } catch (e) {
        if (Date.now() > until) throw e;
        log(`overlay on ${dir} not mounted yet (${e instanceof Error ? e.message : String(e)}); retrying`);
        await sleep(500);
      }
    }
  }
}

/** Where a head keeps the .deb it installs, and the hash of the one installed: on its own disk
 * (the /var overlay), like a file an admin copied to the head. */
export const HEAD_PKG_DIR = '/var/cache/ha-oscar-lab';

/**
 * deb mode, in a head's init, after the overlays and BEFORE /run is replaced (the lab's state
 * dir, with the .deb, is under /run): copy the lab's .deb onto the head's disk.
 */
export function stagePackage(s: Extract<AgentsSource, { mode: 'deb' }>): string {
  mkdirSync(HEAD_PKG_DIR, { recursive: true, mode: 0o755 });
  const local = join(HEAD_PKG_DIR, basename(s.deb));
  copyFileSync(s.deb, local);
  return local;
}

/**
 * deb mode, in a head's init, after its /run is its own (the postinst looks for
 * /run/systemd/system: there is none in a head): keep maintainer scripts from starting services
 * (policy-rc.d, in this head's /usr only), skip man-db's index rebuild (its trigger would run
 * mandb over every manual page: seconds on a busy machine, for nothing), then install the staged
 * .deb unless this head's disk already has exactly that one installed.
 */
export async function installPackage(s: Extract<AgentsSource, { mode: 'deb' }>, local: string, log: Log): Promise<void> {
  writeFileAtomic('/usr/sbin/policy-rc.d', '#!/bin/sh\n# ha-oscar lab head: no init system here; the node init starts what the head runs.\nexit 101\n', { mode: 0o755 });
  rmSync('/var/lib/man-db/auto-update', { force: true });
  const stamp = join(HEAD_PKG_DIR, 'installed.sha256');
  const status = await run('dpkg-query', ['-W', '-f', '${Status} ${Version}', PACKAGE], { timeoutMs: 30_000, env: { PATH: ROOT_PATH } });
  const installed = status.code === 0 && status.stdout.trim() === `install ok installed ${s.version}-1`;
  if (installed && existsSync(stamp) && readFileSync(stamp, 'utf8').trim() === s.sha256) {
    log(`${PACKAGE} ${s.version}-1 already installed on this head's disk`);
    return;
  }
  const t0 = Date.now();
  const r = await runOk('dpkg', ['-i', local], { timeoutMs: 180_000, env: { PATH: ROOT_PATH, DEBIAN_FRONTEND: 'noninteractive' } });
  for (const l of `${r.stdout}${r.stderr}`.split('\n').filter(Boolean)) log(`dpkg: ${l}`);
  writeFileAtomic(stamp, `${s.sha256}\n`);
  log(`installed ${local} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/** What the subagent's systemd unit says to run, and the parts of it the node init emulates. */
export interface UnitService {
  argv: string[];
  restart: 'no' | 'on-failure' | 'always';
  restartMs: number;
  stateDirs: string[];
  /** StateDirectoryMode (systemd's default 0755). */
  stateMode: number;
  runtimeDirs: string[];
  runtimeMode: number;
  /** User= and Group= (undefined: root). */
  user?: string;
  group?: string;
  /** Environment= (space-separated KEY=VALUE words, no quotes). */
  env: Record<string, string>;
}

const seconds = (v: string): number => {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|min)?$/.exec(v.trim());
  if (!m) throw new Error(`RestartSec=${v}: not a time span this lab understands`);
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'min' ? n * 60_000 : n * 1000);
};

/**
 * The [Service] section of a unit file, as far as the lab needs it. ExecStart must be one plain
 * command line (no quotes, no variables: the packaged unit has none); systemd's prefixes
 * (-, @, :, +, !) are refused rather than half-honoured.
 */
export function parseUnit(text: string): UnitService {
  const kv = new Map<string, string>();
  let section = '';
  for (const raw of text.split('\n')) {
    const l = raw.trim();
    if (!l || l.startsWith('#') || l.startsWith(';')) continue;
    const sec = /^\[(.+)\]$/.exec(l);
    if (sec) { section = sec[1]!; continue; }
    const eq = l.indexOf('=');
    if (section === 'Service' && eq > 0) kv.set(l.slice(0, eq).trim(), l.slice(eq + 1).trim());
  }
  const exec = kv.get('ExecStart');
  if (!exec) throw new Error('the unit has no ExecStart');
  if (/["'\\$%;]/.test(exec) || /^[-@:+!]/.test(exec)) throw new Error(`ExecStart=${exec}: quotes, variables, specifiers and prefixes are not supported here`);
  const restart = kv.get('Restart') ?? 'no';
  if (restart !== 'no' && restart !== 'on-failure' && restart !== 'always') throw new Error(`Restart=${restart}: not supported here`);
  const words = (k: string): string[] => (kv.get(k) ?? '').split(/\s+/).filter(Boolean);
  const env: Record<string, string> = {};
  for (const w of words('Environment')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=([^"'\\$%;]*)$/.exec(w);
    if (!m) throw new Error(`Environment=${kv.get('Environment')}: only KEY=VALUE words without quotes, variables or specifiers are supported here`);
    env[m[1]!] = m[2]!;
  }
  return {
    argv: exec.split(/\s+/),
    restart,
    restartMs: kv.has('RestartSec') ? seconds(kv.get('RestartSec')!) : 100,
    stateDirs: words('StateDirectory').map((d) => join('/var/lib', d)),
    stateMode: kv.has('StateDirectoryMode') ? parseInt(kv.get('StateDirectoryMode')!, 8) : 0o755,
    runtimeDirs: words('RuntimeDirectory').map((d) => join('/run', d)),
    runtimeMode: kv.has('RuntimeDirectoryMode') ? parseInt(kv.get('RuntimeDirectoryMode')!, 8) : 0o755,
    env,
    ...(kv.get('User') ? { user: kv.get('User') } : {}),
    ...(kv.get('Group') ? { group: kv.get('Group') } : {}),
  };
}

/**
 * The subagent a head runs, with `--master <socket>` added: in deb mode what the INSTALLED unit
 * file says (read inside the head), run as its User=/Group= (the package's postinst made the
 * user in the head), with its StateDirectory/RuntimeDirectory modes and owners; in dist mode
 * the repository's unit with dist/'s executable, as root (no package, no user), and the failover
 * record in the head's own /var/lib/ha-oscar (the host's /var/lib is not per node in that
 * mode). The sandboxing options are not emulated.
 */
export function subagentService(spec: LabSpec, source: AgentsSource, master: string): UnitService {
  if (source.mode === 'deb') {
    const u = parseUnit(readFileSync(SUBAGENT_UNIT, 'utf8'));
    return { ...u, argv: [...u.argv, '--master', master] };
  }
  const u = parseUnit(readFileSync(join(spec.repo, 'packaging', 'systemd', 'ha-oscar-snmp-agent.service'), 'utf8'));
  const args = u.argv.slice(1);
  const i = args.indexOf('--state');
  if (i >= 0) args[i + 1] = '/var/lib/ha-oscar/snmp-failovers.json';
  const { user: _u, group: _g, ...asRoot } = u;
  return { ...asRoot, stateDirs: [], argv: [process.execPath, join(spec.repo, 'dist', 'ha-oscar-snmp-agent'), ...args, '--master', master] };
}

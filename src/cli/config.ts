// ha-oscar config: the cluster description -> corosync.conf, crm configuration, CIB, pcs commands.
// Thin: parse the arguments, call src/crm.
import { writeFileAtomic } from '../service/atomic';
import {
  DescriptionError, applyConfig, buildConfig, generateCorosync, generateCrm, generatePcs, loadDescription, pickTool, summarize,
  type Format, type Tool,
} from '../crm/index';

const usage = `usage: ha-oscar config <command> FILE [options]
commands:
  check FILE                    validate the description (and the generated CIB with crm_verify, when installed)
  corosync FILE [-o OUT]        write corosync.conf (default: stdout)
  crm FILE [--format crm|xml|cib] [-o OUT]
                                write the crm configuration (crmsh syntax), the CIB <configuration>
                                (xml), or a whole CIB (cib)
  pcs FILE [-o OUT]             write the same configuration as pcs commands (pcs 0.11, EL 9), one per
                                line, for an admin to run (ha-oscar runs none of them)
  apply FILE [--tool crmsh|cibadmin] [--dry-run] [--force] [--cib-file CIB]
                                load it into the running cluster (crm configure load update,
                                or a cibadmin patch where crmsh is not installed); nothing is
                                written when the CIB already matches
options:
  -o, --output OUT   write to OUT (atomically) instead of stdout
  --tool TOOL        how apply writes: crmsh or cibadmin (default: crmsh when crm is
                     installed, else cibadmin)
  --force            pass -F to crmsh (commit although an agent's meta-data cannot be read)
  --cib-file CIB     work on a CIB file instead of the live cluster (CIB_file)
  --dry-run          compare only, write nothing`;

interface Args { cmd?: string; file?: string; output?: string; format: Format; force: boolean; dryRun: boolean; cibFile?: string; tool: Tool | 'auto' }

function parseArgs(argv: string[]): Args | string {
  const a: Args = { format: 'crm', force: false, dryRun: false, tool: 'auto' };
  const pos: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i];
    const val = (): string | undefined => {
      const eq = x.indexOf('=');
      if (x.startsWith('--') && eq > 0) return x.slice(eq + 1);
      return argv[++i];
    };
    const name = x.startsWith('--') && x.includes('=') ? x.slice(0, x.indexOf('=')) : x;
    switch (name) {
      case '-o': case '--output': { const v = val(); if (!v) return `${name} needs a file name`; a.output = v; break; }
      case '--format': {
        const v = val();
        if (v !== 'crm' && v !== 'xml' && v !== 'cib') return `--format must be crm, xml or cib${v ? `, not '${v}'` : ''}`;
        a.format = v; break;
      }
      case '--tool': {
        const v = val();
        if (v !== 'crmsh' && v !== 'cibadmin') return `--tool must be crmsh or cibadmin${v ? `, not '${v}'` : ''}`;
        a.tool = v; break;
      }
      case '--cib-file': { const v = val(); if (!v) return '--cib-file needs a file name'; a.cibFile = v; break; }
      case '--force': a.force = true; break;
      case '--dry-run': a.dryRun = true; break;
      default:
        if (x.startsWith('-') && x !== '-') return `unknown option '${x}'`;
        pos.push(x);
    }
  }
  [a.cmd, a.file] = pos;
  if (pos.length > 2) return `unexpected argument '${pos[2]}'`;
  return a;
}

function emit(text: string, output?: string): void {
  if (output && output !== '-') writeFileAtomic(output, text);
  else process.stdout.write(text);
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || ['-h', '--help', 'help'].includes(argv[0])) { console.log(usage); return argv.length ? 0 : 2; }
  const a = parseArgs(argv);
  if (typeof a === 'string') { console.error(`ha-oscar config: ${a}\n${usage}`); return 2; }
  if (!['check', 'corosync', 'crm', 'pcs', 'apply'].includes(a.cmd!)) { console.error(`ha-oscar config: unknown command '${a.cmd}'\n${usage}`); return 2; }
  if (!a.file) { console.error(`ha-oscar config ${a.cmd}: FILE missing (the cluster description, e.g. /etc/ha-oscar/cluster.yaml)`); return 2; }
  try {
    const d = loadDescription(a.file);
    switch (a.cmd) {
      case 'check': {
        const { verifyCib } = await import('../pacemaker/cib');
        const { renderFullCib } = await import('../crm/render-xml');
        let note = '';
        try {
          const v = await verifyCib(renderFullCib(buildConfig(d)));
          if (!v.ok) { console.error(`${a.file}: crm_verify rejects the generated CIB: ${v.problems.join('; ')}`); return 1; }
          note = ', crm_verify: ok';
        } catch (e) {
          note = `, crm_verify not run (${e instanceof Error ? e.message : String(e)})`;
        }
        console.log(`${a.file}: ok (${d.mode}, heads ${d.heads.map((h) => h.name).join(' ')}, ${d.sets.length} service set(s), fencing ${d.fencing.enabled ? 'on' : 'off'}${note})`);
        return 0;
      }
      case 'corosync': emit(generateCorosync(d, a.file), a.output); return 0;
      case 'crm': emit(generateCrm(d, a.file, a.format), a.output); return 0;
      case 'pcs': emit(generatePcs(d, a.file), a.output); return 0;
      case 'apply': {
        const tool = pickTool(a.tool);
        const r = await applyConfig(buildConfig(d), { cibFile: a.cibFile, force: a.force, dryRun: a.dryRun, tool });
        if (!r.changed) {
          if (r.differences.length) console.log(`dry run: would change ${r.differences.map((x) => `${x.what} (${x.why})`).join(', ')}`);
          else console.log(`unchanged: the CIB already matches ${a.file} (${tool}: nothing to write, epoch ${r.epochBefore})`);
        } else {
          // one line; the lab (test/lab/config.test.ts) matches its head and tail
          console.log(`applied ${a.file} (${tool}: ${summarize(r.differences)}): ${r.differences.length} object(s) changed, epoch ${r.epochBefore} -> ${r.epochAfter}`);
        }
        return 0;
      }
    }
  } catch (e) {
    if (e instanceof DescriptionError) { for (const p of e.problems) console.error(p); return 1; }
    console.error(`ha-oscar config ${a.cmd}: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.HA_OSCAR_DEBUG) console.error(e);
    return 1;
  }
  return 2;
}

// ha-oscar: the command-line tool. Thin: parse the subcommand, hand over to its module.
//   ha-oscar config ...   -> src/cli/config.ts
//   ha-oscar lab ...      -> src/cli/lab.ts
import { version } from '../../package.json';

const usage = `usage: ha-oscar <command> [args]
commands:
  config check|corosync|crm|apply FILE   the cluster description -> corosync.conf, crm configuration, CIB
  lab up|status|exec|power-off|power-on|cable|down   a real two-head cluster in namespaces
  version
run 'ha-oscar <command> --help' for details`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'config': return (await import('./config')).main(rest);
    case 'lab': return (await import('./lab')).main(rest);
    case 'version': case '--version': console.log(version); return 0;
    case undefined: case 'help': case '--help': case '-h': console.log(usage); return cmd ? 0 : 2;
    default: console.error(`ha-oscar: unknown command '${cmd}'\n${usage}`); return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    console.error(`ha-oscar: ${e instanceof Error ? e.message : String(e)}`);
    if (process.env.HA_OSCAR_DEBUG) console.error(e);
    process.exitCode = 1;
  },
);

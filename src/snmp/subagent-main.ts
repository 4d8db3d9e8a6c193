// ha-oscar-snmp-agent: the HA-OSCAR-MIB AgentX subagent (read-only).
//
//   ha-oscar-snmp-agent [--master PATH|HOST:PORT] [--state FILE] [--trigger FILE]
//                       [--poll-ms N] [--node NAME] [--notify] [--notify-spool DIR] [--mdstat PATH] [--spool DIR]
import { HaOscarAgent, type AgentOptions } from './subagent';
import { FAILOVER_RECORD, TRIGGER_FILE } from './paths';

const USAGE = 'usage: ha-oscar-snmp-agent [--master PATH|HOST:PORT] [--state FILE] [--trigger FILE] [--poll-ms N] [--slow-poll-ms N] [--node NAME] [--mdstat PATH] [--notify] [--notify-spool DIR] [--spool DIR]';

export function parseArgs(argv: string[]): AgentOptions {
  const o: AgentOptions = {
    master: process.env.HA_OSCAR_AGENTX ?? '/var/agentx/master',
    stateFile: FAILOVER_RECORD,
    triggerFile: TRIGGER_FILE,
  };
  const num = (flag: string, v: string | undefined) => {
    const n = Number(v);
    if (!v || !Number.isInteger(n) || n < 100 || n > 3_600_000) throw new Error(`${flag} wants milliseconds between 100 and 3600000, got "${v ?? ''}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined || v === '') throw new Error(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--master': o.master = val(); break;
      case '--state': o.stateFile = val(); break;
      case '--trigger': o.triggerFile = val(); break;
      case '--poll-ms': o.pollMs = num(a, argv[++i]); break;
      case '--slow-poll-ms': o.slowPollMs = num(a, argv[++i]); break;
      case '--node': o.localNode = val(); break;
      case '--mdstat': o.mdstatPath = val(); break;
      case '--notify': o.notify = true; break;
      case '--notify-spool': o.notifySpoolDir = val(); break;
      case '--spool': o.spoolDir = val(); break;
      case '-h': case '--help': process.stdout.write(USAGE + '\n'); process.exit(0); break;
      default: throw new Error(`unknown argument "${a}"\n${USAGE}`);
    }
  }
  return o;
}

async function main(): Promise<void> {
  let opts: AgentOptions;
  try {
    opts = parseArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`ha-oscar-snmp-agent: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const agent = new HaOscarAgent(opts);
  process.on('SIGHUP', () => void agent.refresh(true));
  const quit = () => { agent.stop().finally(() => process.exit(0)); };
  process.on('SIGTERM', quit);
  process.on('SIGINT', quit);
  // One line, then exit: the service manager restarts a clean process.
  process.on('uncaughtException', (e) => { process.stderr.write(`ha-oscar-snmp-agent: internal error: ${e.message.split('\n')[0]}\n`); process.exit(1); });
  await agent.start();
}

if (process.env.HA_OSCAR_BUNDLED === '1' || (typeof require !== 'undefined' && typeof module !== 'undefined' && require.main === module)) {
  main().catch((e) => { process.stderr.write(`ha-oscar-snmp-agent: ${(e as Error).message}\n`); process.exit(1); });
}

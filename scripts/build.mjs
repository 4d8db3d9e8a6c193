#!/usr/bin/env node
// Bundles every shipped executable into ONE self-contained file under dist/.
//
//   agents/<name>.ts          -> dist/ocf/<name>        (OCF resource agents)
//   agents/fence_<x>.ts       -> dist/fence_<x>         (fence agents)
//   agents/alert_<x>.ts       -> dist/alert_<x>         (Pacemaker alert agents)
//   src/cli/main.ts           -> dist/ha-oscar          (the command-line tool)
//   src/snmp/subagent-main.ts -> dist/ha-oscar-snmp-agent
//   src/lab/pdu/main.ts       -> dist/ha-oscar-lab-pdu   (lab only)
//
// Usage: node scripts/build.mjs [name ...]   (no names: build everything)
import { build } from 'esbuild';
import { chmodSync, existsSync, readdirSync, readFileSync, renameSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { dirname, join, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Every entry point and where its single-file build goes. */
export function entries() {
  const out = [];
  for (const f of readdirSync(join(root, 'agents')).sort()) {
    if (!f.endsWith('.ts')) continue;
    const name = basename(f, '.ts');
    const isTopLevel = name.startsWith('fence_') || name.startsWith('alert_');
    out.push({ name, entry: join(root, 'agents', f), outfile: join(root, 'dist', isTopLevel ? name : `ocf/${name}`) });
  }
  const extra = [
    ['ha-oscar', 'src/cli/main.ts'],
    ['ha-oscar-snmp-agent', 'src/snmp/subagent-main.ts'],
    ['ha-oscar-lab-pdu', 'src/lab/pdu/main.ts'], // the lab's SNMP power switch (not packaged)
  ];
  for (const [name, rel] of extra) {
    if (existsSync(join(root, rel))) out.push({ name, entry: join(root, rel), outfile: join(root, 'dist', name) });
  }
  return out;
}

/**
 * Bundle one entry into one executable file.
 *
 * Strict mode is switched OFF in the output on purpose: net-snmp's Mib keeps its
 * providers in a Proxy whose `set` trap returns undefined, which throws
 * "'set' on proxy: trap returned falsish" in strict code. esbuild would emit
 * "use strict" because tsconfig has strict=true, so the bundle gets its own
 * tsconfig here (the type checker still runs strict). test/unit/build.test.ts
 * reproduces the crash with a strict bundle and proves this one works.
 */
/**
 * Big dependencies that most actions never touch go into the bundle as a STRING, compiled on
 * first use. An OCF agent is a fresh process on every Pacemaker action: V8 must pre-parse all
 * the code in the file at start-up, and net-snmp is ~280 KB of the ~320 KB of an agent, needed
 * only by level-10 monitors. A string literal costs almost nothing to scan. Measured on
 * `snmpd meta-data`: 1.22x -> ~1.1x `node -e 0` (npm run bench). The code runs as a sloppy-mode
 * Function, so net-snmp's Proxy trap cannot throw there either.
 */
const LAZY = ['net-snmp'];
function lazyDeps() {
  return {
    name: 'lazy-deps',
    setup(b) {
      const filter = new RegExp(`^(${LAZY.join('|')})$`);
      b.onResolve({ filter }, (args) => ({ path: args.path, namespace: 'lazy-dep' }));
      b.onLoad({ filter: /.*/, namespace: 'lazy-dep' }, async (args) => {
        const r = await build({
          entryPoints: [args.path], absWorkingDir: root, bundle: true, platform: 'node', target: 'node20',
          format: 'cjs', write: false, minifySyntax: true, legalComments: 'none', logLevel: 'warning',
        });
        // gzip + base64: a third of the size, and one plain string to scan
        const packed = gzipSync(Buffer.from(r.outputFiles[0].text), { level: 9 }).toString('base64');
        return {
          resolveDir: root,
          loader: 'js',
          contents: `// ${args.path}, compiled on first use (scripts/build.mjs: lazy-deps)\n` +
            `const code = require('zlib').gunzipSync(Buffer.from(${JSON.stringify(packed)}, 'base64')).toString();\n` +
            `const m = { exports: {} };\n` +
            `new Function('module', 'exports', 'require', code)(m, m.exports, require);\n` +
            `module.exports = m.exports;\n`,
        };
      });
    },
  };
}

/**
 * OCF agents that declare what their level-0 monitor looks at (AgentSpec.processes) become a
 * file that is both a POSIX sh script and the JavaScript bundle: the agent itself prints that
 * file (src/ocf/fastpath.ts: the sh prologue generated from its declaration, the bundle without
 * its node shebang line, and a last line that ends the here-document sh -n sees the bundle as). sh answers a recurring level-0 monitor of a running resource in a few ms and
 * runs `exec node "$0" "$@"` for everything else (issue 25: a Node start is ~60 ms of CPU).
 */
async function addFastPath(file) {
  const { stdout } = await promisify(execFile)(process.execPath, [file], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HA_OSCAR_DESCRIBE_FASTPATH: '1' }, timeout: 30_000, maxBuffer: 64 << 20,
  });
  if (!stdout) return; // no declared level-0 processes: stays a plain node script
  if (!stdout.startsWith('#!/bin/sh\n') || !stdout.includes(readFileSync(file, 'utf8').split('\n')[1])) throw new Error(`${file}: unexpected fast-path output`);
  writeFileSync(file, stdout);
}

export async function bundle(entry, outfile, { strict = false, lazy = true } = {}) {
  mkdirSync(dirname(outfile), { recursive: true });
  const tmp = `${outfile}.tmp-${process.pid}`;
  await build({
    entryPoints: [entry],
    outfile: tmp,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    banner: { js: strict ? '#!/usr/bin/env node\n"use strict";' : '#!/usr/bin/env node' },
    tsconfigRaw: { compilerOptions: { alwaysStrict: false, strict: false, target: 'ES2022' } },
    define: { 'process.env.HA_OSCAR_BUNDLED': '"1"' },
    plugins: lazy ? [lazyDeps()] : [],
  });
  if (basename(dirname(outfile)) === 'ocf' || basename(outfile) === 'alert_haoscar') await addFastPath(tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, outfile); // atomic: a running cluster never sees half a file
  return outfile;
}

async function main() {
  const want = process.argv.slice(2);
  const all = entries();
  const chosen = want.length ? all.filter((e) => want.includes(e.name)) : all;
  if (want.length && chosen.length !== want.length) {
    const known = all.map((e) => e.name).join(', ');
    console.error(`build: unknown entry in ${want.join(', ')}; known: ${known}`);
    process.exit(2);
  }
  const t0 = Date.now();
  await Promise.all(chosen.map((e) => bundle(e.entry, e.outfile)));
  console.log(`built ${chosen.length} file(s) in ${Date.now() - t0} ms: ${chosen.map((e) => e.name).join(' ')}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e) => { console.error(`build: ${e.message}`); process.exit(1); });
}

// npm run build: every shipped file is ONE executable that runs alone, anywhere, without node_modules.
import { describe, it, expect, beforeAll } from 'vitest';
import { spawnSync } from '../helpers/sync';
import { copyFileSync, readFileSync, statSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { root, tempDir } from '../helpers/agents';
import { bundleEntry } from '../helpers/build';

let dir: string;
beforeAll(() => { dir = tempDir('build'); });

describe('single-file builds', () => {
  const built = () => {
    const out: string[] = [];
    for (const f of readdirSync(join(root, 'dist'))) {
      if (f === 'ocf') for (const a of readdirSync(join(root, 'dist/ocf'))) out.push(join(root, 'dist/ocf', a));
      else if (!f.includes('.')) out.push(join(root, 'dist', f));
    }
    return out;
  };
  it('dist/ has the CLI and the snmpd agent', () => {
    const names = built().map((f) => f.slice(join(root, 'dist').length + 1));
    expect(names).toContain('ha-oscar');
    expect(names).toContain('ocf/snmpd');
  });
  // OCF agents that declare their level-0 processes start with the sh fast path
  // (src/ocf/fastpath.ts), which ends in `exec node "$0" "$@"` inside a JavaScript comment
  const fastPath = [...['dhcpd', 'nfsserver', 'ntpd', 'radvd', 'snmpd', 'statesync', 'tftpd'].map((a) => join(root, 'dist/ocf', a)), join(root, 'dist/alert_haoscar')];
  it('each file starts with #!/usr/bin/env node (or the sh fast path), is mode 0755, and is not strict-mode', () => {
    for (const f of built()) {
      const text = readFileSync(f, 'utf8');
      let head = text.slice(0, 200);
      if (fastPath.includes(f)) {
        expect(head.startsWith('#!/bin/sh\n":" /*\n'), f).toBe(true);
        const tail = '\nexec node "$0" "$@"\n: <<\'//ha-oscar-js-end\'\n*/\n';
        const end = text.indexOf(tail);
        expect(end, f).toBeGreaterThan(0);
        expect(text.slice(0, end).includes('*/'), f).toBe(false);
        expect(text.endsWith('\n//ha-oscar-js-end\n'), f).toBe(true);
        // the whole file is valid sh (lintian runs sh -n on every #!/bin/sh script)
        const n = spawnSync('/bin/sh', ['-n', f], { encoding: 'utf8' });
        expect(n.stderr, f).toBe('');
        expect(n.status, f).toBe(0);
        head = text.slice(end + tail.length).slice(0, 200);
      } else {
        expect(head.startsWith('#!/usr/bin/env node\n'), f).toBe(true);
      }
      expect(head, f).not.toContain('"use strict"');
      expect(statSync(f).mode & 0o777, f).toBe(0o755);
    }
  });
  it('an agent copied alone to an empty directory still runs (no node_modules, no repo)', () => {
    const copy = join(dir, 'snmpd');
    copyFileSync(join(root, 'dist/ocf/snmpd'), copy);
    spawnSync('chmod', ['755', copy]);
    const r = spawnSync(copy, ['meta-data'], { cwd: dir, encoding: 'utf8', env: { PATH: '/usr/bin:/bin', NODE_PATH: '' } });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('<resource-agent name="snmpd"');
    const cli = join(dir, 'ha-oscar');
    copyFileSync(join(root, 'dist/ha-oscar'), cli);
    spawnSync('chmod', ['755', cli]);
    const v = spawnSync(cli, ['version'], { cwd: dir, encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version);
  });
});

describe("net-snmp's Mib Proxy in strict mode (known trap)", () => {
  it('crashes when the bundle is strict: the bug this build avoids', async () => {
    const out = await bundleEntry('test/fixtures/mib-proxy-entry.ts', join(dir, 'mib-strict'), { strict: true, lazy: false });
    const r = spawnSync(out, [], { cwd: dir, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("'set' on proxy: trap returned falsish");
  });
  it('works in a strict bundle once net-snmp is a lazily compiled dependency (sloppy Function)', async () => {
    const out = await bundleEntry('test/fixtures/mib-proxy-entry.ts', join(dir, 'mib-strict-lazy'), { strict: true });
    const r = spawnSync(out, [], { cwd: dir, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok 42\n');
  });
  it('keeps net-snmp out of the start-up parse: it is a string in the agent bundle', () => {
    const text = readFileSync(join(root, 'dist/ocf/snmpd'), 'utf8');
    expect(text).toMatch(/gunzipSync\(Buffer\.from\("[A-Za-z0-9+/=]{10000,}", "base64"\)\)/);
    expect(text).not.toContain('Mib.prototype');
  });
  it('works in the bundle that npm run build makes', async () => {
    const out = await bundleEntry('test/fixtures/mib-proxy-entry.ts', join(dir, 'mib-build'));
    const r = spawnSync(out, [], { cwd: dir, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok 42\n');
  });
});

// The tests' spawnSync: node's, with a bound. A synchronous call blocks the worker's event loop,
// so Vitest's own test timeout can never fire while it waits: a spawnSync without a timeout that
// hangs hangs the whole run. Every test takes spawnSync from here (test/unit/architecture.test.ts
// checks it), and a call without its own timeout gets SYNC_TIMEOUT_MS, then SIGKILL.
import { spawnSync as nodeSpawnSync } from 'node:child_process';

export const SYNC_TIMEOUT_MS = 120_000;

export const spawnSync = ((cmd: string, args?: unknown, opts?: unknown) => {
  const [a, o] = Array.isArray(args) ? [args, opts] : [[], args];
  return nodeSpawnSync(cmd, a as string[], { timeout: SYNC_TIMEOUT_MS, killSignal: 'SIGKILL', ...(o as object | undefined) });
}) as typeof nodeSpawnSync;

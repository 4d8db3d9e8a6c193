// Setup file of the lab project (vitest.config.ts): before each lab file, wait until the shared
// lab that global-setup.ts boots in the background is up. A failed boot fails the file here, with
// the reason; a lab that could not even be started (labName '') is left to the file's own check.
import { existsSync, readFileSync } from 'node:fs';
import { inject } from 'vitest';

const file = inject('labReady');
if (inject('labName') && file) {
  const until = Date.now() + 600_000;
  while (!existsSync(file)) {
    if (Date.now() > until) throw new Error(`the shared lab '${inject('labName')}' was not up within 10 min`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const why = readFileSync(file, 'utf8').trim();
  if (why) throw new Error(why);
}

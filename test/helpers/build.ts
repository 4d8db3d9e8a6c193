// Bundle a test entry exactly like `npm run build` does (scripts/build.mjs).
import { join } from 'node:path';
import { root } from './agents';

const buildScript: string = join(root, 'scripts/build.mjs');

export async function bundleEntry(entry: string, outfile: string, opts: { strict?: boolean; lazy?: boolean } = {}): Promise<string> {
  const mod = (await import(buildScript)) as { bundle: (e: string, o: string, x: { strict?: boolean; lazy?: boolean }) => Promise<string> };
  return mod.bundle(join(root, entry), outfile, opts);
}

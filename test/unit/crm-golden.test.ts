// Golden files: the generated text of every example, pinned.
// After an intended change: UPDATE_GOLDEN=1 npx vitest run test/unit/crm-golden.test.ts, then review the diff.
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/service/atomic';
import { loadDescription, generateCrm, generateCorosync } from '../../src/crm/index';

const root = join(__dirname, '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'crm');
const examples = readdirSync(join(root, 'examples')).filter((f) => f.endsWith('.yaml')).sort();

function golden(name: string, text: string): void {
  const path = join(fixtures, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileAtomic(path, text, { mkdir: true });
  if (!existsSync(path)) throw new Error(`golden file ${name} missing: run with UPDATE_GOLDEN=1 and review it`);
  expect(text, `${name} differs from the golden file`).toBe(readFileSync(path, 'utf8'));
}

describe('golden files', () => {
  it('there are the required examples (the two lab descriptions among them)', () => {
    expect(examples).toEqual(expect.arrayContaining(['active-active.yaml', 'active-standby.yaml', 'lab.yaml', 'lab-active-active.yaml']));
  });
  for (const ex of examples) {
    const base = ex.replace(/\.yaml$/, '');
    describe(ex, () => {
      const d = loadDescription(join(root, 'examples', ex));
      it('crm syntax', () => golden(`${base}.crm`, generateCrm(d, ex, 'crm')));
      it('CIB <configuration> XML', () => golden(`${base}.xml`, generateCrm(d, ex, 'xml')));
      it('corosync.conf', () => golden(`${base}.corosync.conf`, generateCorosync(d, ex)));
    });
  }
  it('generation is deterministic', () => {
    const d1 = loadDescription(join(root, 'examples', 'active-active.yaml'));
    const d2 = loadDescription(join(root, 'examples', 'active-active.yaml'));
    expect(generateCrm(d1, 'x', 'xml')).toBe(generateCrm(d2, 'x', 'xml'));
  });
});

import type { LabSpec } from './spec';
export async function demo(_spec: LabSpec, say: (l: string) => void): Promise<number> { say('demo: todo'); return 1; }

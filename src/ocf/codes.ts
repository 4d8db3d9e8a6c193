// OCF exit codes (OCF Resource Agent API 1.1, "Exit Status Codes").
export const OCF = {
  SUCCESS: 0,
  ERR_GENERIC: 1,
  ERR_ARGS: 2,
  ERR_UNIMPLEMENTED: 3,
  ERR_PERM: 4,
  ERR_INSTALLED: 5,
  ERR_CONFIGURED: 6,
  NOT_RUNNING: 7,
  RUNNING_PROMOTED: 8,
  FAILED_PROMOTED: 9,
  DEGRADED: 190,
  DEGRADED_PROMOTED: 191,
} as const;

export type OcfCode = (typeof OCF)[keyof typeof OCF];

const names = new Map<number, string>(Object.entries(OCF).map(([k, v]) => [v, `OCF_${k}`]));
export function codeName(code: number): string {
  return names.get(code) ?? `exit ${code}`;
}

/**
 * Thrown by agent callbacks (and the runtime) to end an action with an OCF code
 * and a one-line reason, reported like ocf_exit_reason.
 */
export class OcfError extends Error {
  constructor(readonly code: OcfCode, reason: string) {
    super(reason);
    this.name = 'OcfError';
  }
}

export function fail(code: OcfCode, reason: string): never {
  throw new OcfError(code, reason);
}

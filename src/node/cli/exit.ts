/**
 * The CLI's exit codes, in a module of their own: every command returns one, and `main.ts` (which
 * loads the commands) re-exports them, so no command imports `main.ts`.
 */
/** Exit codes, stable so scripts can branch on them. */
export const EXIT = {
  OK: 0,
  /** Anything unexpected. */
  FAILURE: 1,
  /** Bad flags or arguments. */
  USAGE: 2,
  /** Authentication or authorization failed (KMS or proxy said no). */
  AUTH: 3,
  /** The input is not a valid envelope, or failed authentication (tampered, truncated). */
  INVALID_INPUT: 4,
  /**
   * A check ran and found something: \`policy check\` findings at or above \`--fail-on\`, \`audit
   * watch --once\` alerts, an \`audit report\` over a file whose chain does not verify.
   */
  FINDINGS: 5,
} as const;

/**
 * How the CLI turns failures into messages and exit codes. Scripts branch on the exit code:
 * usage errors, auth failures and bad input each have their own (see `EXIT` in main.ts).
 */
import { isSealboxError, type SealboxErrorCode } from '../../../sdk/errors.js';
import { EXIT } from '../exit.js';
import { endProgressLine } from './progress.js';

/** Bad flags or arguments: printed with a hint to `--help`, exit code USAGE. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const AUTH_CODES: ReadonlySet<SealboxErrorCode> = new Set<SealboxErrorCode>([
  'ERR_ACCESS_DENIED',
  'ERR_NO_KEYRING_MATCH',
  'ERR_KMS_DECRYPT',
  'ERR_KEY_DISABLED',
  'ERR_KEY_STATE',
]);

const INPUT_CODES: ReadonlySet<SealboxErrorCode> = new Set<SealboxErrorCode>([
  'ERR_FORMAT',
  'ERR_UNSUPPORTED_VERSION',
  'ERR_UNSUPPORTED',
  'ERR_LIMIT',
  'ERR_COMMITMENT',
  'ERR_TAMPERED',
  'ERR_TRUNCATED',
  'ERR_CONTEXT_MISMATCH',
  'ERR_RANGE',
]);

export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return EXIT.USAGE;
  if (isSealboxError(error)) {
    if (AUTH_CODES.has(error.code)) return EXIT.AUTH;
    if (INPUT_CODES.has(error.code)) return EXIT.INVALID_INPUT;
    if (error.code === 'ERR_INVALID_ARGUMENT') return EXIT.USAGE;
    // An object store that refuses the credentials (S3: 403 AccessDenied, SignatureDoesNotMatch…).
    if (error.code === 'ERR_STORAGE' && (error.status === 401 || error.status === 403)) return EXIT.AUTH;
    return EXIT.FAILURE;
  }
  // parseArgs throws TypeErrors with codes like ERR_PARSE_ARGS_UNKNOWN_OPTION.
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')) return EXIT.USAGE;
  return EXIT.FAILURE;
}

/** Prints `sealbox <command>: <message> [code]` on stderr and returns the exit code. */
export function report(command: string, error: unknown): number {
  const exit = exitCodeFor(error);
  endProgressLine();
  const message = error instanceof Error ? error.message : String(error);
  const code = isSealboxError(error) ? ` [${error.code}${error.requestId && !message.includes(error.requestId) ? `, request ${error.requestId}` : ''}]` : '';
  const hint = exit === EXIT.USAGE ? `\nRun \`sealbox ${command} --help\` for usage.` : '';
  process.stderr.write(`sealbox ${command}: ${message}${code}${hint}\n`);
  if (process.env.SEALBOX_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return exit;
}

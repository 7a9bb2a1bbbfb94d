/** Argument parsing shared by the commands: `node:util` parseArgs plus the value parsers. */
import { type ParseArgsConfig, parseArgs } from 'node:util';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;
type Parsed<T extends OptionsConfig> = ReturnType<typeof parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: true }>>;
import type { EncryptionContext } from '../../../sdk/format/header.js';
import { isValidChunkSize } from '../../../sdk/format/constants.js';
import { UsageError } from './errors.js';

/** parseArgs, strict, with positionals; its errors become UsageErrors. */
export function parseCli<const T extends OptionsConfig>(argv: string[], options: T): Parsed<T> {
  try {
    return parseArgs<{ args: string[]; options: T; strict: true; allowPositionals: true }>({ args: argv, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/** `k=v` pairs (repeatable flag) into a context; the first `=` splits, so values may hold `=`. */
export function parseContext(pairs: readonly string[] | undefined, flag = '--context'): EncryptionContext | undefined {
  if (!pairs || pairs.length === 0) return undefined;
  const context: EncryptionContext = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`${flag} takes key=value, got ${JSON.stringify(pair)}`);
    const key = pair.slice(0, eq);
    if (Object.hasOwn(context, key)) throw new UsageError(`${flag} names "${key}" twice`);
    context[key] = pair.slice(eq + 1);
  }
  return context;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2 };

/** `65536`, `64k`, `64KiB`, `1MiB`: a power of two from 16 KiB to 4 MiB. */
export function parseChunkSize(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)\s*([a-z]*)$/i.exec(text.trim());
  const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
  const size = match && unit !== undefined ? Number(match[1]) * unit : NaN;
  if (!isValidChunkSize(size)) throw new UsageError(`--chunk-size ${text}: must be a power of two from 16KiB to 4MiB`);
  return size;
}

export function parseIntFlag(text: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return n;
}

/** At most `max` positionals; names them in the error. */
export function positionals(list: string[], max: number, what: string): string[] {
  if (list.length > max) throw new UsageError(`unexpected argument ${JSON.stringify(list[max])} (${what})`);
  return list;
}

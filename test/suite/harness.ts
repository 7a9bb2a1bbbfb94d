/**
 * The conformance suite is written once, against Web platform APIs only, and run by thin
 * per-runtime runners (test/sdk/conformance.test.ts, test/browser, and later Deno, Bun and workerd). A case gets an
 * `env` with the few things that differ between runtimes: how to read a fixture file.
 */
import { SealboxError } from '../../src/sdk/errors.js';

export interface SuiteEnv {
  runtime: string;
  /** Reads a file by its path from the repository root, e.g. "test/vectors/v1/valid.json". */
  readText(path: string): Promise<string>;
}

export interface TestCase {
  name: string;
  run(env: SuiteEnv): Promise<void>;
  /**
   * Why this case cannot run in `env.runtime`, or undefined when it can. Runners register a
   * skipped case under its name with this reason (never drop it silently), so every runtime
   * reports the same cases.
   */
  skip?(env: SuiteEnv): string | undefined;
}

/** The reason `testCase` is skipped in `env`, or undefined when it runs there. */
export function skipReason(testCase: TestCase, env: SuiteEnv): string | undefined {
  return testCase.skip?.(env) || undefined;
}

export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function ok(condition: unknown, message = 'expected a truthy value'): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function equal<T>(actual: T, expected: T, message = ''): void {
  if (!Object.is(actual, expected)) throw new AssertionError(`${message} expected ${String(expected)}, got ${String(actual)}`.trim());
}

export function deepEqual(actual: unknown, expected: unknown, message = ''): void {
  const a = JSON.stringify(actual, replacer);
  const b = JSON.stringify(expected, replacer);
  if (a !== b) throw new AssertionError(`${message} expected ${b}, got ${a}`.trim());
}

/** Byte arrays as hex, and object keys sorted, so key order never decides equality. */
function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Uint8Array) return `bytes:${hex(value)}`;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
  return value;
}

export function bytesEqual(actual: Uint8Array, expected: Uint8Array, message = 'bytes differ'): void {
  if (actual.length !== expected.length) throw new AssertionError(`${message}: length ${actual.length} vs ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) throw new AssertionError(`${message}: first difference at byte ${i}`);
  }
}

/** Awaits `promise` and checks it rejects with a SealboxError (of `code`, when given). */
export async function rejectsWith(promise: Promise<unknown>, code?: string | string[], message = ''): Promise<SealboxError> {
  try {
    await promise;
  } catch (error) {
    if (!(error instanceof SealboxError)) {
      throw new AssertionError(`${message} expected a SealboxError, got ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}`);
    }
    const codes = code === undefined ? undefined : Array.isArray(code) ? code : [code];
    if (codes && !codes.includes(error.code)) {
      throw new AssertionError(`${message} expected ${codes.join(' or ')}, got ${error.code}: ${error.message}`.trim());
    }
    return error;
  }
  throw new AssertionError(`${message} expected a rejection${code ? ` with ${String(code)}` : ''}, but it resolved`.trim());
}

export function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export function unhex(text: string): Uint8Array {
  const out = new Uint8Array(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function unbase64(text: string): Uint8Array {
  const binary = atob(text);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export async function sha(algorithm: 'SHA-256' | 'SHA-512', bytes: Uint8Array): Promise<string> {
  return hex(new Uint8Array(await crypto.subtle.digest(algorithm, bytes as BufferSource)));
}

/** zlib inflate with the platform's DecompressionStream (every runtime we support has it). */
export async function inflate(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream('deflate'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Deterministic filler: the same bytes in every runtime. */
export function pattern(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

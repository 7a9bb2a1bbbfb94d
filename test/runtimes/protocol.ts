/**
 * What every runtime host answers: one request, one JSON-able response. The hosts in
 * `test/runtimes/hosts/` are a few lines each (how to read a fixture, how to get a request in and
 * a response out); everything else — the shared suite (`allCases`), the cross-runtime matrix and
 * the noble fallback check — is here, bundled once with esbuild (scripts/runtimes/build.ts).
 */
import { allCases } from '../suite/index.js';
import type { SuiteEnv, TestCase } from '../suite/harness.js';
import { type BenchRequest, type BenchStepRequest, bench, benchStep } from './bench.js';
import { type FallbackReport, fallbackCheck } from './fallback.js';
import { type ConsumeResult, type Produced, consume, produce } from './matrix.js';

export type HostRequest =
  | { op: 'ping' }
  | { op: 'suite'; only?: string[] }
  | { op: 'produce' }
  | { op: 'consume'; produced: Produced[] }
  | { op: 'fallback'; cases?: boolean }
  | BenchRequest
  | BenchStepRequest;

export interface CaseResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface SuiteReport {
  runtime: string;
  results: CaseResult[];
}

export type HostResponse = { ok: true; result: unknown } | { ok: false; error: string };

export type { ConsumeResult, FallbackReport, Produced };

/** `code: message` for SealboxErrors, `name: message` otherwise, with the top of the stack. */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const head = `${typeof code === 'string' ? code : error.name}: ${error.message}`;
  const stack = (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line)).slice(0, 4).join('\n');
  return stack ? `${head}\n${stack}` : head;
}

/** Runs cases one after another (they share nothing, but some time themselves). */
export async function runCases(env: SuiteEnv, cases: readonly TestCase[]): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (const testCase of cases) {
    const start = Date.now();
    try {
      await testCase.run(env);
      results.push({ name: testCase.name, ok: true, ms: Date.now() - start });
    } catch (error) {
      results.push({ name: testCase.name, ok: false, ms: Date.now() - start, error: describeError(error) });
    }
  }
  return results;
}

/** False where the runtime refuses code from strings (workerd; a page under CSP without 'unsafe-eval'). */
function evalAllowed(): boolean {
  try {
    return new Function('return true')() === true;
  } catch {
    return false;
  }
}

async function dispatch(request: HostRequest, env: SuiteEnv): Promise<unknown> {
  switch (request.op) {
    case 'ping':
      return {
        runtime: env.runtime,
        subtle: typeof globalThis.crypto?.subtle === 'object',
        userAgent: (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent,
        evalAllowed: evalAllowed(),
      };
    case 'suite': {
      const only = request.only;
      const cases = only ? allCases.filter((c) => only.includes(c.name)) : allCases;
      return { runtime: env.runtime, results: await runCases(env, cases) } satisfies SuiteReport;
    }
    case 'produce':
      return produce(env);
    case 'consume':
      return consume(env, request.produced);
    case 'fallback':
      return fallbackCheck(env, allCases, { cases: request.cases ?? true });
    case 'bench':
      return bench(request);
    case 'bench-step':
      return benchStep(request);
    default:
      throw new Error(`unknown op ${JSON.stringify((request as { op?: unknown }).op)}`);
  }
}

/** Never throws: a failure becomes `{ ok: false, error }`, so every host reports the same way. */
export async function handle(request: HostRequest, env: SuiteEnv): Promise<HostResponse> {
  try {
    return { ok: true, result: await dispatch(request, env) };
  } catch (error) {
    return { ok: false, error: describeError(error) };
  }
}

/**
 * The proxy's audit trail (runtime-agnostic): one JSON line per call, hash-chained with
 * `src/edge/audit/chain.ts` (the local KMS's format), so `sealbox audit verify` checks either file.
 * Lines are produced one at a time, in order; a line's hash becomes the chain head only once its
 * sink accepted it, so a failed write never leaves a gap in the chain.
 * Sinks: `console` (Workers: the platform's log), a function, or an object `{ write, lastHash }`;
 * or a recorder `{ record }` that chains records itself (the Node adapter's audit file, with group
 * commit): records go to it at once, so one fsync covers every call that arrived meanwhile, where
 * chaining here would wait for each line's sink before the next line could be made.
 */
import { GENESIS_HASH, chainLine } from '../audit/chain.js';
import type { AuditConfig, AuditFunction, AuditRecord, AuditRecorder } from './config.js';

export class AuditLog {
  readonly #write: AuditFunction | undefined;
  readonly #recorder: AuditRecorder | undefined;
  #last: string;
  #tail: Promise<unknown> = Promise.resolve();
  readonly #instance: string | undefined;

  /** `instance`, when given, is added to every record (the chain then names its instance). */
  constructor(config: AuditConfig | undefined, instance?: string) {
    this.#instance = instance;
    const c = config ?? 'console';
    this.#recorder = typeof c === 'object' && 'record' in c ? c : undefined;
    if (this.#recorder !== undefined || c === 'none') {
      this.#write = undefined;
      this.#last = GENESIS_HASH;
    } else if (c === 'console') {
      this.#write = (line) => console.log(line);
      this.#last = GENESIS_HASH;
    } else if (typeof c === 'function') {
      this.#write = c;
      this.#last = GENESIS_HASH;
    } else {
      const sink = c as Exclude<AuditConfig, string | AuditFunction | AuditRecorder>;
      this.#write = (line, record) => sink.write(line, record);
      this.#last = sink.lastHash ?? GENESIS_HASH;
    }
  }

  /** The hash of the last line written (of lines chained here: not a recorder's). */
  get lastHash(): string {
    return this.#last;
  }

  /** Appends `record`; resolves once the sink has it. Rejects when the sink fails. */
  write(record: AuditRecord): Promise<void> {
    if (this.#instance !== undefined && record.instance === undefined) record.instance = this.#instance;
    if (this.#recorder) return this.#recorder.record(record);
    const write = this.#write;
    if (!write) return Promise.resolve();
    const next = this.#tail.then(async () => {
      const { line, hash } = await chainLine(record as unknown as Record<string, unknown>, this.#last);
      await write(line, record);
      this.#last = hash;
    });
    this.#tail = next.catch(() => undefined);
    return next;
  }
}

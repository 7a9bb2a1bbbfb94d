/**
 * The proxy's audit trail (runtime-agnostic): one JSON line per call, hash-chained with
 * `src/audit/chain.ts` (the local KMS's format), so `sealbox audit verify` checks either file.
 * Lines are produced one at a time, in order; a line's hash becomes the chain head only once its
 * sink accepted it, so a failed write never leaves a gap in the chain.
 * Sinks: `console` (Workers: the platform's log), a function, or an object `{ write, lastHash }`;
 * the Node adapter adds an append-and-fsync file (`src/proxy/node.ts`).
 */
import { GENESIS_HASH, chainLine } from '../audit/chain.js';
import type { AuditConfig, AuditFunction, AuditRecord } from './config.js';

export class AuditLog {
  readonly #write: AuditFunction | undefined;
  #last: string;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(config: AuditConfig | undefined) {
    const c = config ?? 'console';
    if (c === 'none') {
      this.#write = undefined;
      this.#last = GENESIS_HASH;
    } else if (c === 'console') {
      this.#write = (line) => console.log(line);
      this.#last = GENESIS_HASH;
    } else if (typeof c === 'function') {
      this.#write = c;
      this.#last = GENESIS_HASH;
    } else {
      this.#write = (line, record) => c.write(line, record);
      this.#last = c.lastHash ?? GENESIS_HASH;
    }
  }

  /** The hash of the last line written. */
  get lastHash(): string {
    return this.#last;
  }

  /** Appends `record`; resolves once the sink has it. Rejects when the sink fails. */
  write(record: AuditRecord): Promise<void> {
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

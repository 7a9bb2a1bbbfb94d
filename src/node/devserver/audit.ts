/**
 * The proxy's audit trail as the dev server keeps it: the proxy hands over each hash-chained line
 * (src/edge/audit/chain.ts); we append it to `<data>/proxy-audit.log` (fsync'd before the call is
 * answered), keep the last few hundred records in memory for the page, and push each new one to
 * the page's live feed (Server-Sent Events). `verify()` re-reads the file and checks the chain.
 */
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { readFile } from 'node:fs/promises';
import { GENESIS_HASH, lineHash, verifyAuditChain, type AuditVerifyResult } from '../../edge/audit/chain.js';
import { nodeSha256 } from '../kms/audit-file.js';

export interface AuditEntry {
  seq: number;
  record: Record<string, unknown>;
  hash: string;
}

type Listener = (entry: AuditEntry) => void;

export class DevAuditLog {
  readonly path: string;
  #fh: FileHandle;
  #recent: AuditEntry[] = [];
  #seq = 0;
  #listeners = new Set<Listener>();
  #lastHash: string;
  #writing: Promise<void> = Promise.resolve();
  readonly #keep: number;

  private constructor(path: string, fh: FileHandle, lastHash: string, keep: number) {
    this.path = path;
    this.#fh = fh;
    this.#lastHash = lastHash;
    this.#keep = keep;
  }

  /** Opens (or creates) the file, loads its tail into memory and finds the hash to chain onto. */
  static async open(path: string, keep = 500): Promise<DevAuditLog> {
    const fh = await open(path, 'a+', 0o600);
    const log = new DevAuditLog(path, fh, GENESIS_HASH, keep);
    let text = await readFile(path, 'utf8');
    // A torn last line (no newline: the process died while writing it, and its call was never
    // answered) is cut off. Anything else stays as it is, so that verify() reports it.
    const end = text.lastIndexOf('\n') + 1;
    if (end < text.length) {
      await fh.truncate(Buffer.byteLength(text.slice(0, end)));
      text = text.slice(0, end);
    }
    for (const line of text.split('\n')) {
      const hash = lineHash(line);
      if (!hash) continue;
      try {
        log.#push({ seq: ++log.#seq, record: JSON.parse(line) as Record<string, unknown>, hash });
      } catch {
        continue;
      }
      log.#lastHash = hash;
    }
    return log;
  }

  /** The chain's last hash (the proxy continues from it). */
  get lastHash(): string {
    return this.#lastHash;
  }

  #push(entry: AuditEntry): void {
    this.#recent.push(entry);
    if (this.#recent.length > this.#keep) this.#recent.splice(0, this.#recent.length - this.#keep);
  }

  /** The proxy's audit sink: `{ write, lastHash }`. */
  sink(): { write: (line: string, record: object) => Promise<void>; lastHash: string } {
    return {
      write: (line, record) => this.write(line, record as Record<string, unknown>),
      lastHash: this.#lastHash,
    };
  }

  write(line: string, record: Record<string, unknown>): Promise<void> {
    const run = this.#writing.then(async () => {
      await this.#fh.appendFile(`${line}\n`);
      await this.#fh.datasync();
      const hash = lineHash(line) ?? '';
      this.#lastHash = hash || this.#lastHash;
      const entry: AuditEntry = { seq: ++this.#seq, record: { ...record }, hash };
      this.#push(entry);
      for (const l of this.#listeners) {
        try {
          l(entry);
        } catch {
          // A listener that throws (a closed stream) must not break auditing.
        }
      }
    });
    this.#writing = run.catch(() => undefined);
    return run;
  }

  recent(after = 0): AuditEntry[] {
    return this.#recent.filter((e) => e.seq > after);
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async verify(): Promise<AuditVerifyResult> {
    await this.#writing;
    const rl = createInterface({ input: createReadStream(this.path, { encoding: 'utf8' }), crlfDelay: Infinity });
    return verifyAuditChain(rl, nodeSha256);
  }

  async close(): Promise<void> {
    await this.#writing;
    this.#listeners.clear();
    await this.#fh.close();
  }
}

/**
 * Audit file sink: appends hash-chained JSON lines (src/edge/audit/chain.ts) to a file with group
 * commit. `record()` resolves once its line is written and fsync'd; records that arrive while a
 * batch is being flushed form the next batch, so one fsync covers many requests.
 *
 * At open, the last complete line's hash is read back to continue the chain. A torn last line
 * (the process died mid-write, so its record was never acknowledged) is cut off, with a warning.
 */
import { fdatasync, ftruncateSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import { AuditChain, GENESIS_HASH, lineHash } from '../../edge/audit/chain.js';
import { nodeSha256, nodeSha256Hex } from './node-crypto.js';

export { nodeSha256 };

const fdatasyncAsync = promisify(fdatasync);
/** Batches whose fsync may overlap: the next batch is written while the previous one syncs. */
const MAX_IN_FLIGHT = 3;

interface Pending {
  record: Record<string, unknown>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class AuditFile {
  readonly path: string;
  #fh: FileHandle;
  #chain: AuditChain;
  /** Bytes of complete lines in the file (where a failed write is cut back to). */
  #size: number;
  #pending: Pending[] = [];
  #closed = false;

  private constructor(path: string, fh: FileHandle, lastHash: string, size: number) {
    this.path = path;
    this.#fh = fh;
    this.#chain = new AuditChain(lastHash, nodeSha256, nodeSha256Hex);
    this.#size = size;
  }

  /** `log` gets warnings (a torn last line cut off); they name the file, not the program. */
  static async open(path: string, log: (m: string) => void = (m) => console.warn(`sealbox: ${m}`)): Promise<AuditFile> {
    const fh = await open(path, 'a+', 0o600);
    const { size } = await fh.stat();
    let kept = size;
    let lastHash = GENESIS_HASH;
    if (size > 0) {
      // Read the tail back to find the last complete line.
      let readSize = Math.min(size, 64 * 1024);
      for (;;) {
        const buf = Buffer.alloc(readSize);
        await fh.read(buf, 0, readSize, size - readSize);
        const text = buf.toString('utf8');
        const end = text.lastIndexOf('\n');
        if (end < 0 && readSize < size) {
          readSize = Math.min(size, readSize * 4);
          continue;
        }
        const keep = end < 0 ? 0 : size - readSize + Buffer.byteLength(text.slice(0, end + 1));
        if (keep < size) {
          log(`${path} ended with an incomplete (unacknowledged) audit line; removing it.`);
          await fh.truncate(keep);
          await fh.sync();
          kept = keep;
        }
        if (end >= 0) {
          const before = text.slice(0, end);
          const start = before.lastIndexOf('\n');
          if (start < 0 && readSize < size) {
            readSize = Math.min(size, readSize * 4);
            continue;
          }
          const last = before.slice(start + 1);
          const h = lineHash(last);
          if (h === undefined) throw new Error(`${path}: the last audit line is not a Sealbox audit record; refusing to append to it`);
          lastHash = h;
        }
        break;
      }
    }
    return new AuditFile(path, fh, lastHash, kept);
  }

  /** Appends `record`; resolves after its batch is durable. */
  record(record: Record<string, unknown>): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('audit file is closed'));
    return new Promise((resolve, reject) => {
      this.#pending.push({ record, resolve, reject });
      this.#schedule();
    });
  }

  #inFlight = 0;
  #scheduled = false;
  #idle: Array<() => void> = [];

  #schedule(): void {
    if (this.#scheduled || this.#pending.length === 0 || this.#inFlight >= MAX_IN_FLIGHT) return;
    this.#scheduled = true;
    // Let the current event-loop turn add its records to the batch first.
    setImmediate(() => {
      this.#scheduled = false;
      void this.#flushOne();
    });
  }

  async #flushOne(): Promise<void> {
    if (this.#pending.length === 0 || this.#inFlight >= MAX_IN_FLIGHT) return;
    const batch = this.#pending;
    this.#pending = [];
    this.#inFlight++;
    try {
      // Chain and write synchronously, so lines land in chain order; then fsync (which may overlap
      // with the next batch's write: an fsync covers everything written before it started).
      const head = this.#chain.lastHash;
      let text = '';
      for (const p of batch) text += `${this.#chain.appendSync(p.record)}\n`;
      const bytes = Buffer.from(text);
      try {
        for (let off = 0; off < bytes.length; ) off += writeSync(this.#fh.fd, bytes, off);
      } catch (e) {
        // A failed or partial write (disk full, I/O error) must leave neither a torn line in the
        // middle of the file nor a chain head past lines that are not there: cut the file back to
        // its last complete line and rewind the chain, so later lines still link.
        try {
          ftruncateSync(this.#fh.fd, this.#size);
        } catch {}
        this.#chain = new AuditChain(head, nodeSha256, nodeSha256Hex);
        throw e;
      }
      this.#size += bytes.length;
      await fdatasyncAsync(this.#fh.fd);
      for (const p of batch) p.resolve();
    } catch (e) {
      for (const p of batch) p.reject(e);
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0 && this.#pending.length === 0) for (const f of this.#idle.splice(0)) f();
      this.#schedule();
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    while (this.#inFlight > 0 || this.#pending.length > 0 || this.#scheduled) {
      await new Promise<void>((r) => (this.#idle.push(r), setTimeout(r, 5)));
    }
    await this.#fh.close();
  }
}

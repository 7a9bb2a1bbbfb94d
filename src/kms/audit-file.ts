/**
 * Audit file sink: appends hash-chained JSON lines (src/audit/chain.ts) to a file with group
 * commit. `record()` resolves once its line is written and fsync'd; records that arrive while a
 * batch is being flushed form the next batch, so one fsync covers many requests.
 *
 * At open, the last complete line's hash is read back to continue the chain. A torn last line
 * (the process died mid-write, so its record was never acknowledged) is cut off, with a warning.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { AuditChain, GENESIS_HASH, lineHash, type Sha256 } from '../audit/chain.js';

export const nodeSha256: Sha256 = (data) => {
  const d = createHash('sha256').update(data).digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
};

interface Pending {
  record: Record<string, unknown>;
  resolve: () => void;
  reject: (e: unknown) => void;
}

export class AuditFile {
  readonly path: string;
  #fh: FileHandle;
  #chain: AuditChain;
  #pending: Pending[] = [];
  #flushing: Promise<void> | undefined;
  #closed = false;

  private constructor(path: string, fh: FileHandle, lastHash: string) {
    this.path = path;
    this.#fh = fh;
    this.#chain = new AuditChain(lastHash, nodeSha256);
  }

  static async open(path: string, log: (m: string) => void = (m) => console.warn(m)): Promise<AuditFile> {
    const fh = await open(path, 'a+', 0o600);
    const { size } = await fh.stat();
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
          log(`sealbox kms: ${path} ended with an incomplete (unacknowledged) audit line; removing it.`);
          await fh.truncate(keep);
          await fh.sync();
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
    return new AuditFile(path, fh, lastHash);
  }

  /** Appends `record`; resolves after its batch is durable. */
  record(record: Record<string, unknown>): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('audit file is closed'));
    return new Promise((resolve, reject) => {
      this.#pending.push({ record, resolve, reject });
      if (!this.#flushing) this.#flushing = this.#flushLoop();
    });
  }

  async #flushLoop(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        let text = '';
        for (const p of batch) text += `${await this.#chain.append(p.record)}\n`;
        await this.#fh.write(text);
        await this.#fh.datasync();
        for (const p of batch) p.resolve();
      } catch (e) {
        for (const p of batch) p.reject(e);
      }
    }
    this.#flushing = undefined;
  }

  async close(): Promise<void> {
    while (this.#flushing) await this.#flushing;
    this.#closed = true;
    await this.#fh.close();
  }
}

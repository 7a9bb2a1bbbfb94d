/**
 * Input and output for the file commands. Output files are written crash-safely: into a temp file
 * in the same directory, fsynced, then renamed over the target (and the directory fsynced), so a
 * reader sees the old file or the whole new one, never a half-written one. On failure, or on
 * SIGINT/SIGTERM, the temp file is removed.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, chmod, open, rename, stat, unlink } from 'node:fs/promises';
import { unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from './errors.js';

const READ_BYTES = 256 * 1024;

export interface Input {
  stream: ReadableStream<Uint8Array>;
  /** Bytes in the input, when it is a regular file. */
  size: number | undefined;
  /** For messages: the file name, or "stdin". */
  name: string;
}

/** A file (read in 256 KiB pieces, each a fresh Uint8Array), or stdin for `undefined` or `-`. */
export async function openInput(path: string | undefined): Promise<Input> {
  // Without a file and with a terminal on stdin, the user forgot the input (`-` still reads the terminal).
  if (path === undefined && process.stdin.isTTY) throw new UsageError('no input: name a file, or pipe data into stdin');
  if (path === undefined || path === '-') return { stream: stdinStream(), size: undefined, name: 'stdin' };
  const handle = await open(path, 'r');
  let size: number | undefined;
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
    if (info.isFile()) size = info.size;
  } catch (error) {
    await handle.close();
    throw error;
  }
  return { stream: fileStream(handle), size, name: path };
}

export function fileStream(handle: FileHandle, start = 0): ReadableStream<Uint8Array> {
  let position = start;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const buffer = new Uint8Array(READ_BYTES);
      const { bytesRead } = await handle.read(buffer, 0, READ_BYTES, position);
      if (bytesRead === 0) {
        await handle.close();
        controller.close();
        return;
      }
      position += bytesRead;
      controller.enqueue(bytesRead === READ_BYTES ? buffer : buffer.subarray(0, bytesRead));
    },
    async cancel() {
      await handle.close();
    },
  }, { highWaterMark: 0 });
}

function stdinStream(): ReadableStream<Uint8Array> {
  const iterator = process.stdin[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await iterator.next();
      if (done) controller.close();
      else controller.enqueue(typeof value === 'string' ? new TextEncoder().encode(value) : (value as Uint8Array));
    },
    async cancel() {
      await iterator.return?.();
    },
  }, { highWaterMark: 0 });
}

/** Reads a whole input (small things: keys, policies, headers of short inputs). */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let length = 0;
  for await (const part of stream as unknown as AsyncIterable<Uint8Array>) {
    parts.push(part);
    length += part.length;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export interface Output {
  writable: WritableStream<Uint8Array>;
  /** Makes the output final (fsync + rename for a file). Call only after everything succeeded. */
  commit(): Promise<void>;
  /** Drops a file output (removes the temp file); stdout output may already be partly written. */
  abort(): Promise<void>;
  /** The target's name, for messages. */
  name: string;
  toStdout: boolean;
}

export interface OutputOptions {
  /** Permission bits of a new file (default 0o666, less the umask). */
  mode?: number;
  /** Give the file these permission bits whatever the umask (rewrap in place keeps the original's). */
  exactMode?: number;
}

/** Temp files alive now, removed on SIGINT/SIGTERM. */
const pending = new Set<string>();
let signalsHooked = false;

function hookSignals(): void {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const path of pending) {
        try {
          unlinkSync(path);
        } catch {
          // already gone
        }
      }
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
}

/** A crash-safe file output (`path`), or stdout for `undefined` or `-`. */
export async function openOutput(path: string | undefined, options: OutputOptions = {}): Promise<Output> {
  if (path === undefined || path === '-') return stdoutOutput();
  const target = resolve(path);
  const dir = dirname(target);
  const info = await stat(target).catch(() => undefined);
  if (info?.isDirectory()) throw Object.assign(new Error(`${path} is a directory`), { code: 'EISDIR' });
  const temp = join(dir, `.${basename(target)}.${randomBytes(6).toString('hex')}.sealbox-tmp`);
  hookSignals();
  pending.add(temp);
  let handle: FileHandle;
  try {
    handle = await open(temp, 'wx', options.exactMode ?? options.mode ?? 0o666);
  } catch (error) {
    pending.delete(temp);
    throw error;
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await handle.close();
  };
  const writable = new WritableStream<Uint8Array>({
    async write(chunk) {
      let offset = 0;
      while (offset < chunk.length) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
        offset += bytesWritten;
      }
    },
  });
  return {
    writable,
    name: path,
    toStdout: false,
    async commit() {
      await handle.sync();
      await close();
      if (options.exactMode !== undefined) await chmod(temp, options.exactMode);
      await rename(temp, target);
      pending.delete(temp);
      await syncDir(dir);
    },
    async abort() {
      await close().catch(() => {});
      await unlink(temp).catch(() => {});
      pending.delete(temp);
    },
  };
}

async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Some platforms (Windows) cannot open or fsync a directory; the rename is still atomic.
  } finally {
    await handle?.close().catch(() => {});
  }
}

function stdoutOutput(): Output {
  const stdout = process.stdout;
  // A reader that goes away (`| head`) makes writes fail with EPIPE: reject the write, don't crash.
  let failed: Error | undefined;
  stdout.on('error', (error) => {
    failed ??= (error as NodeJS.ErrnoException).code === 'EPIPE' ? Object.assign(new Error('stdout was closed before the end (EPIPE)'), { code: 'EPIPE' }) : error;
  });
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      if (failed) return Promise.reject(failed);
      return new Promise<void>((resolvePromise, reject) => {
        stdout.write(chunk, (error) => (error ? reject(failed ?? error) : resolvePromise()));
      });
    },
  });
  return {
    writable,
    name: 'stdout',
    toStdout: true,
    async commit() {},
    async abort() {},
  };
}

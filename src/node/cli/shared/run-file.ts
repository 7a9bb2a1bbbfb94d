/** Input → transform → output, with a progress bar and crash-safe output. */
import { type Input, type Output } from './io.js';
import { progressStream } from './progress.js';

export interface PipeOptions {
  input: Input;
  output: Output;
  transform: TransformStream<Uint8Array, Uint8Array>;
  label: string;
  quiet?: boolean;
}

/**
 * Pipes everything through and commits the output only once the transform has flushed (for
 * decryption: once every chunk authenticated). On any error the file output is removed.
 */
export async function pipeFile({ input, output, transform, label, quiet }: PipeOptions): Promise<void> {
  try {
    const progress = progressStream(label, input.size, !quiet && process.stderr.isTTY === true);
    await input.stream.pipeThrough(progress).pipeThrough(transform).pipeTo(output.writable);
    await output.commit();
  } catch (error) {
    await output.abort();
    throw error;
  }
}

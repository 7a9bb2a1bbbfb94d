/**
 * A one-line progress bar on stderr: bytes done, percent when the total is known, MB/s. Shown only
 * when stderr is a TTY, and only once the work has run for half a second (short jobs stay quiet).
 * Thirty-odd lines of our own rather than a dependency (cli-progress and the like): the CLI needs
 * one bar on one line, no themes, no multi-bar, and nothing more to install or audit.
 */
import { formatBytes } from './format.js';

const WIDTH = 30;
let lineOpen = false;

/** Ends a bar's line (before an error message), if one is on screen. */
export function endProgressLine(): void {
  if (lineOpen) process.stderr.write('\n');
  lineOpen = false;
}

export class Progress {
  readonly #started = Date.now();
  #done = 0;
  #lastDraw = 0;
  #drawn = false;

  constructor(
    readonly label: string,
    readonly total: number | undefined,
    readonly enabled = process.stderr.isTTY === true,
  ) {}

  add(bytes: number): void {
    this.#done += bytes;
    this.#draw(false);
  }

  finish(): void {
    this.#draw(true);
  }

  #draw(final: boolean): void {
    const now = Date.now();
    if (!this.enabled || (final ? !this.#drawn : now - this.#started < 500 || now - this.#lastDraw < 100)) return;
    this.#lastDraw = now;
    this.#drawn = true;
    const done = this.#done;
    const speed = `${(done / Math.max((now - this.#started) / 1000, 0.001) / 1e6).toFixed(1)} MB/s`;
    let line = `${this.label} ${formatBytes(done)} ${speed}`;
    if (this.total !== undefined && this.total > 0) {
      const ratio = Math.min(done / this.total, 1);
      const filled = Math.round(ratio * WIDTH);
      line = `${this.label} [${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(this.total)} ${speed}`;
    }
    process.stderr.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    lineOpen = !final;
  }
}

/** A pass-through stream that drives a Progress. */
export function progressStream(label: string, total: number | undefined, enabled = process.stderr.isTTY === true): TransformStream<Uint8Array, Uint8Array> {
  const progress = new Progress(label, total, enabled);
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      progress.add(chunk.length);
      controller.enqueue(chunk);
    },
    flush() {
      progress.finish();
    },
  });
}

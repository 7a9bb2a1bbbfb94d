/**
 * A one-line progress bar on stderr: bytes done, percent when the total is known, MB/s. Shown only
 * when stderr is a TTY, and only once the work has run for half a second (short jobs stay quiet).
 * Twenty-odd lines of our own rather than a dependency: the CLI needs one bar, one line, no themes.
 */
import { formatBytes } from './args.js';

const WIDTH = 30;
let lineOpen = false;

/** Ends a bar's line (before an error message), if one is on screen. */
export function endProgressLine(): void {
  if (lineOpen) process.stderr.write('\n');
  lineOpen = false;
}

export function progressStream(label: string, total: number | undefined, enabled = process.stderr.isTTY === true): TransformStream<Uint8Array, Uint8Array> {
  const started = Date.now();
  let done = 0;
  let lastDraw = 0;
  let drawn = false;
  const draw = (final: boolean) => {
    const now = Date.now();
    if (!enabled || (!final && (now - started < 500 || now - lastDraw < 100)) || (final && !drawn)) return;
    lastDraw = now;
    drawn = true;
    const rate = done / Math.max((now - started) / 1000, 0.001);
    const speed = `${(rate / 1e6).toFixed(1)} MB/s`;
    let line: string;
    if (total !== undefined && total > 0) {
      const ratio = Math.min(done / total, 1);
      const filled = Math.round(ratio * WIDTH);
      line = `${label} [${'█'.repeat(filled)}${'░'.repeat(WIDTH - filled)}] ${(ratio * 100).toFixed(0).padStart(3)}% ${formatBytes(done)}/${formatBytes(total)} ${speed}`;
    } else {
      line = `${label} ${formatBytes(done)} ${speed}`;
    }
    process.stderr.write(`\r\x1b[2K${line}${final ? '\n' : ''}`);
    lineOpen = !final;
  };
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      done += chunk.length;
      draw(false);
      controller.enqueue(chunk);
    },
    flush() {
      draw(true);
    },
  });
}

import { SealboxError } from '../errors.js';
import { concatBytes, isBytes } from '../crypto/bytes.js';
import { type EnvelopeLimits, PREFIX_BYTES, resolveLimits } from '../format/constants.js';
import { type HeaderInfo, headerInfo, parseEnvelopeHeader, readPrefix } from '../format/header.js';

/**
 * Reads an envelope's header (suite, chunk size, context, recipients) without any key. From a
 * stream it reads only the header's bytes and then cancels the stream.
 *
 * @example
 * ```ts
 * const info = await inspect(envelope); // no key needed
 * console.log(info.context, info.recipients.map((r) => r.keyId));
 * ```
 */
export async function inspect(
  envelope: Uint8Array | ReadableStream<Uint8Array>,
  options: { limits?: Partial<EnvelopeLimits> } = {},
): Promise<HeaderInfo> {
  const limits = resolveLimits(options.limits);
  if (isBytes(envelope)) return headerInfo(parseEnvelopeHeader(envelope, limits));
  if (!(envelope instanceof ReadableStream)) throw new SealboxError('ERR_INVALID_ARGUMENT', 'inspect expects a Uint8Array or a ReadableStream');
  const reader = envelope.getReader();
  try {
    const head = await readAtLeast(reader, PREFIX_BYTES);
    const total = PREFIX_BYTES + readPrefix(head, limits);
    const all = await readAtLeast(reader, total, head);
    return headerInfo(parseEnvelopeHeader(all.subarray(0, total), limits));
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Reads until `length` bytes are buffered or the stream ends (then returns what there is). */
export async function readAtLeast(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  length: number,
  start: Uint8Array = new Uint8Array(0),
): Promise<Uint8Array> {
  const parts = [start];
  let have = start.length;
  while (have < length) {
    const { value, done } = await reader.read();
    if (done) break;
    if (!isBytes(value)) throw new SealboxError('ERR_INVALID_ARGUMENT', 'the stream must yield Uint8Array chunks');
    parts.push(value);
    have += value.length;
  }
  return parts.length === 1 ? start : concatBytes(...parts);
}
